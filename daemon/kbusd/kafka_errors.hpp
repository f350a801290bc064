// How the Kafka listener's handlers put a failure into a response: the Kafka error code a kbus
// failure stands for, written into a message's ErrorCode (and ErrorMessage, where given).
#pragma once

#include <optional>
#include <string>

#include "kafka/kafka_api.hpp"
#include "kafka/message.hpp"
#include "kbus/error.hpp"

namespace kbusd {

[[nodiscard]] inline kbus::kafka::KafkaError error_of(const kbus::Error& e) noexcept {
    return kbus::kafka::kafka_error_of(e.code());
}

inline void set_error(kbus::kafka::Value& v, kbus::kafka::KafkaError e,
                      std::optional<std::string> message = std::nullopt) {
    v["ErrorCode"].set(std::int16_t(e));
    if (message) v["ErrorMessage"].set_text(std::move(*message));
}

}  // namespace kbusd
