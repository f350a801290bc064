// Kafka's ConsumerProtocol, version 0: the member metadata a consumer group carries but does not
// interpret while members join (Subscription), and what the leader hands each member (Assignment),
// byte for byte as Kafka's clients encode them (big-endian, kafka_wire.hpp), so that Kafka
// clients and kbus clients read each other's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kbus/detail/kafka_wire.hpp"
#include "kbus/topic_partition.hpp"

namespace kbus::group {

inline constexpr const char* consumer_protocol_type = "consumer";

/// Subscription: i16 version, [string topic], bytes user_data (i32 length, -1 = null).
/// Assignment:   i16 version, [string topic, [i32 partition]], bytes user_data.
/// Kafka's wire encoding (kafka_wire.hpp), whose reader refuses what its frame cannot hold.
[[nodiscard]] inline std::string encode_subscription(const std::vector<std::string>& topics) {
    kafka::WireWriter w;
    w.i16(0);
    w.array_count(topics.size());
    for (const auto& t : topics)
        w.string(t);
    w.i32(-1);  // no user data
    return std::move(w.buffer());
}

[[nodiscard]] inline std::vector<std::string> decode_subscription(const std::string& bytes) {
    kafka::WireReader r(bytes);
    (void)r.i16();  // later versions append fields we do not need
    std::vector<std::string> topics(std::size_t(r.array_count(2)));
    for (auto& t : topics)
        t = r.string();
    return topics;
}

[[nodiscard]] inline std::string encode_assignment(const std::vector<TopicPartition>& parts) {
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& tp : parts)
        by_topic[tp.topic].push_back(tp.partition);
    kafka::WireWriter w;
    w.i16(0);
    w.array_count(by_topic.size());
    for (auto& [topic, ps] : by_topic) {
        w.string(topic);
        std::sort(ps.begin(), ps.end());
        w.array_count(ps.size());
        for (std::int32_t p : ps)
            w.i32(p);
    }
    w.i32(-1);
    return std::move(w.buffer());
}

[[nodiscard]] inline std::vector<TopicPartition> decode_assignment(const std::string& bytes) {
    std::vector<TopicPartition> out;
    if (bytes.empty()) return out;  // Kafka sends an empty assignment as no bytes at all
    kafka::WireReader r(bytes);
    (void)r.i16();
    const std::int32_t topics = r.array_count(6);
    for (std::int32_t i = 0; i < topics; ++i) {
        const std::string topic = r.string();
        const std::int32_t n = r.array_count(4);
        for (std::int32_t k = 0; k < n; ++k)
            out.push_back({topic, r.i32()});
    }
    return out;
}

}  // namespace kbus::group
