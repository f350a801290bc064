// Fuzz target: a Kafka-style properties file as kbusd reads it (--config), then the broker and
// topic configs built from it: every input is either a config or a kbus::Error naming the key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/broker_config.hpp"
#include "config/properties.hpp"
#include "config/topic_config.hpp"
#include "kbus/error.hpp"

using namespace kbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const std::vector<config::Property> properties = config::parse_properties(text, "fuzz");
        config::Settings settings;
        for (const auto& p : properties)
            settings.emplace_back(p.key, p.value);
        try {
            (void)config::make_broker_config(properties);
        } catch (const Error&) {
        }
        (void)config::make_topic_config({}, settings);
    } catch (const Error&) {
    }
    try {
        (void)config::parse_override(text);
    } catch (const Error&) {
    }
    return 0;
}
