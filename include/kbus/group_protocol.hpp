// Consumer groups on the wire. Two layers:
//  - the member metadata the group carries but does not interpret while joining: Kafka's
//    ConsumerProtocol Subscription and Assignment (version 0, big-endian), byte for byte, so a
//    Kafka client and a kbus client can one day share a group;
//  - kbus's control messages for join, sync and describe (little-endian, like protocol.hpp).
// The protocol is Kafka's classic (eager) one: every member rejoins on a rebalance, the leader
// computes the assignment, a generation id fences members that missed a rebalance.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kbus/detail/kafka_wire.hpp"
#include "kbus/error.hpp"
#include "kbus/protocol.hpp"

namespace kbus::group {

inline constexpr const char* consumer_protocol_type = "consumer";

struct TopicPartition {
    std::string topic;
    std::int32_t partition = 0;
    friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

// --- Kafka's ConsumerProtocol, version 0 ---------------------------------------------------

// Subscription: i16 version, [string topic], bytes user_data (i32 length, -1 = null).
// Assignment:   i16 version, [string topic, [i32 partition]], bytes user_data.
// Kafka's wire encoding (kafka_wire.hpp), whose reader refuses what its frame cannot hold.
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

// --- kbus control messages ---------------------------------------------------------------

struct Protocol {
    std::string name;      // assignor: "range", "roundrobin"
    std::string metadata;  // an encoded Subscription
};

struct JoinGroupRequest {
    std::string group;
    std::string member_id;  // empty on the first join: the coordinator hands one out
    std::string client_id;
    std::int32_t session_timeout_ms = 1000;
    std::string protocol_type = consumer_protocol_type;
    std::vector<Protocol> protocols;

    void write(protocol::Writer& w) const {
        w.str(group);
        w.str(member_id);
        w.str(client_id);
        w.i32(session_timeout_ms);
        w.str(protocol_type);
        w.u32(static_cast<std::uint32_t>(protocols.size()));
        for (const auto& p : protocols) {
            w.str(p.name);
            w.str(p.metadata);
        }
    }
    static JoinGroupRequest read(protocol::Reader& r) {
        JoinGroupRequest j;
        j.group = r.str();
        j.member_id = r.str();
        j.client_id = r.str();
        j.session_timeout_ms = r.i32();
        j.protocol_type = r.str();
        j.protocols.resize(r.count(8));
        for (auto& p : j.protocols) {
            p.name = r.str();
            p.metadata = r.str();
        }
        return j;
    }
};

struct JoinGroupReply {
    bool pending = true;  // the group still waits for members to (re)join: ask again
    std::string member_id;
    std::int32_t generation = -1;
    std::string protocol;  // the assignor every member supports
    std::string leader;
    std::vector<std::pair<std::string, std::string>> members;  // leader only: id, subscription

    void write(protocol::Writer& w) const {
        w.u8(pending ? 1 : 0);
        w.str(member_id);
        w.i32(generation);
        w.str(protocol);
        w.str(leader);
        w.u32(static_cast<std::uint32_t>(members.size()));
        for (const auto& [id, meta] : members) {
            w.str(id);
            w.str(meta);
        }
    }
    static JoinGroupReply read(protocol::Reader& r) {
        JoinGroupReply j;
        j.pending = r.u8() != 0;
        j.member_id = r.str();
        j.generation = r.i32();
        j.protocol = r.str();
        j.leader = r.str();
        j.members.resize(r.count(8));
        for (auto& [id, meta] : j.members) {
            id = r.str();
            meta = r.str();
        }
        return j;
    }
};

struct SyncGroupRequest {
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    std::vector<std::pair<std::string, std::string>> assignments;  // leader only

    void write(protocol::Writer& w) const {
        w.str(group);
        w.i32(generation);
        w.str(member_id);
        w.u32(static_cast<std::uint32_t>(assignments.size()));
        for (const auto& [id, a] : assignments) {
            w.str(id);
            w.str(a);
        }
    }
    static SyncGroupRequest read(protocol::Reader& r) {
        SyncGroupRequest s;
        s.group = r.str();
        s.generation = r.i32();
        s.member_id = r.str();
        s.assignments.resize(r.count(8));
        for (auto& [id, a] : s.assignments) {
            id = r.str();
            a = r.str();
        }
        return s;
    }
};

// What `kbus group describe` shows, as kafka-consumer-groups.sh --describe does.
struct GroupDescription {
    struct Member {
        std::string member_id;
        std::string client_id;
        std::vector<TopicPartition> assignment;
    };
    struct PartitionLag {
        TopicPartition tp;
        std::int64_t committed = -1;  // -1: nothing committed
        std::int64_t log_end = 0;     // high watermark
        std::string owner;            // member id, empty if unassigned
    };
    std::string group;
    std::string state;  // Empty, PreparingRebalance, CompletingRebalance, Stable
    std::int32_t generation = 0;
    std::string protocol;
    std::string leader;
    std::vector<Member> members;
    std::vector<PartitionLag> partitions;

    void write(protocol::Writer& w) const {
        w.str(group);
        w.str(state);
        w.i32(generation);
        w.str(protocol);
        w.str(leader);
        w.u32(static_cast<std::uint32_t>(members.size()));
        for (const auto& m : members) {
            w.str(m.member_id);
            w.str(m.client_id);
            w.u32(static_cast<std::uint32_t>(m.assignment.size()));
            for (const auto& tp : m.assignment) {
                w.str(tp.topic);
                w.i32(tp.partition);
            }
        }
        w.u32(static_cast<std::uint32_t>(partitions.size()));
        for (const auto& p : partitions) {
            w.str(p.tp.topic);
            w.i32(p.tp.partition);
            w.i64(p.committed);
            w.i64(p.log_end);
            w.str(p.owner);
        }
    }
    static GroupDescription read(protocol::Reader& r) {
        GroupDescription d;
        d.group = r.str();
        d.state = r.str();
        d.generation = r.i32();
        d.protocol = r.str();
        d.leader = r.str();
        d.members.resize(r.count(12));
        for (auto& m : d.members) {
            m.member_id = r.str();
            m.client_id = r.str();
            m.assignment.resize(r.count(8));
            for (auto& tp : m.assignment) {
                tp.topic = r.str();
                tp.partition = r.i32();
            }
        }
        d.partitions.resize(r.count(28));
        for (auto& p : d.partitions) {
            p.tp.topic = r.str();
            p.tp.partition = r.i32();
            p.committed = r.i64();
            p.log_end = r.i64();
            p.owner = r.str();
        }
        return d;
    }
};

}  // namespace kbus::group
