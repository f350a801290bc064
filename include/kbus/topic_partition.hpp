// A partition of a topic, named as Kafka names it: the key of assignments, commits and lags.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <tuple>

namespace kbus::group {

struct TopicPartition {
    std::string topic;
    std::int32_t partition = 0;
    friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
    auto fields() noexcept { return std::tie(topic, partition); }
    auto fields() const noexcept { return std::tie(topic, partition); }
};

}  // namespace kbus::group
