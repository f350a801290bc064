// Every value a consumer of one partition returns from the beginning, until `idle_polls` polls
// of 20 ms in a row return nothing: what the Kafka listener tests read back after their writes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kbus/kbus.hpp"

namespace kbus::test {

inline std::vector<std::string> values_in(
    kbus::Client& c, const std::string& topic,
    kbus::IsolationLevel level = kbus::IsolationLevel::read_uncommitted, int idle_polls = 25) {
    kbus::ConsumerOptions o;
    o.isolation_level = level;
    kbus::Consumer con(c, o);
    con.assign(topic, 0, kbus::OffsetSpec::beginning());
    std::vector<std::string> values;
    for (int idle = 0; idle < idle_polls;) {
        const auto& batch = con.poll(std::chrono::milliseconds(20));
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch)
            values.emplace_back(m.value().str());
    }
    return values;
}

}  // namespace kbus::test
