// Kafka's partition assignors, computed by the group leader (as in Kafka, the coordinator only
// carries the result). Given the same members and partition counts they give what the Kafka
// Java client's RangeAssignor and RoundRobinAssignor give.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kbus/group_messages.hpp"

namespace kbus::group {

struct MemberSubscription {
    std::string member_id;
    std::vector<std::string> topics;
};

using Assignment = std::map<std::string, std::vector<TopicPartition>>;  ///< member id -> partitions
using PartitionCount = std::function<std::int32_t(const std::string& topic)>;  ///< 0: unknown

/// Per topic, the members subscribed to it in member-id order take consecutive ranges; the first
/// (partitions % members) take one extra.
[[nodiscard]] inline Assignment assign_range(std::vector<MemberSubscription> members,
                                             const PartitionCount& partitions) {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.member_id < b.member_id; });
    Assignment out;
    std::map<std::string, std::vector<const MemberSubscription*>> by_topic;
    for (const auto& m : members) {
        out[m.member_id];
        for (const auto& t : m.topics)
            by_topic[t].push_back(&m);
    }
    for (const auto& [topic, subs] : by_topic) {
        const std::int32_t n = partitions(topic);
        const auto m = static_cast<std::int32_t>(subs.size());
        const std::int32_t per = n / m, extra = n % m;
        std::int32_t next = 0;
        for (std::int32_t i = 0; i < m; ++i) {
            const std::int32_t take = per + (i < extra ? 1 : 0);
            for (std::int32_t k = 0; k < take; ++k)
                out[subs[std::size_t(i)]->member_id].push_back({topic, next++});
        }
    }
    return out;
}

/// Every (topic, partition) in order, dealt to the members in turn, skipping members not
/// subscribed to the partition's topic.
[[nodiscard]] inline Assignment assign_round_robin(std::vector<MemberSubscription> members,
                                                   const PartitionCount& partitions) {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.member_id < b.member_id; });
    Assignment out;
    std::vector<std::string> topics;
    for (const auto& m : members) {
        out[m.member_id];
        topics.insert(topics.end(), m.topics.begin(), m.topics.end());
    }
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    if (members.empty()) return out;
    std::size_t turn = 0;
    for (const auto& topic : topics)
        for (std::int32_t p = 0; p < partitions(topic); ++p)
            for (std::size_t tries = 0; tries < members.size(); ++tries) {
                const MemberSubscription& m = members[turn++ % members.size()];
                if (std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end()) {
                    out[m.member_id].push_back({topic, p});
                    break;
                }
            }
    return out;
}

[[nodiscard]] inline bool is_known_assignor(const std::string& name) {
    return name == "range" || name == "roundrobin";
}

[[nodiscard]] inline Assignment assign(const std::string& assignor,
                                       std::vector<MemberSubscription> members,
                                       const PartitionCount& partitions) {
    if (assignor == "roundrobin") return assign_round_robin(std::move(members), partitions);
    if (assignor == "range") return assign_range(std::move(members), partitions);
    throw Error(ErrorCode::inconsistent_protocol, "unknown assignor '" + assignor + "'");
}

}  // namespace kbus::group
