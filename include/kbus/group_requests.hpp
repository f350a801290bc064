// The consumer-group control requests, one function each: what Consumer uses to take part in a
// group, and what tools (kbus group ...) use to look at and manage groups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kbus/client.hpp"
#include "kbus/group_commit.hpp"
#include "kbus/group_protocol.hpp"

namespace kbus::group {

using OffsetList = std::vector<std::pair<TopicPartition, std::int64_t>>;

[[nodiscard]] inline JoinGroupReply join(Client& c, const JoinGroupRequest& request) {
    protocol::Writer w;
    request.write(w);
    const std::string reply = c.call(protocol::RequestType::join_group, w.bytes());
    protocol::Reader r(reply);
    return JoinGroupReply::read(r);
}

struct SyncResult {
    std::string assignment;           // encoded (Kafka's ConsumerProtocol Assignment)
    std::vector<CommitGrant> grants;  // where to commit each partition without a round trip
};

// The member's assignment, or nullopt while the leader has not sent it yet.
[[nodiscard]] inline std::optional<SyncResult> sync(Client& c, const SyncGroupRequest& request) {
    protocol::Writer w;
    request.write(w);
    const std::string reply = c.call(protocol::RequestType::sync_group, w.bytes());
    protocol::Reader r(reply);
    const bool pending = r.u8() != 0;
    SyncResult result;
    result.assignment = r.str();
    result.grants.resize(r.count(20));
    for (auto& g : result.grants) {
        g.topic = r.str();
        g.partition = r.i32();
        g.slot = r.u32();
        g.token = r.u64();
    }
    if (pending) return std::nullopt;
    return result;
}

inline void heartbeat(Client& c, const std::string& group, std::int32_t generation,
                      const std::string& member) {
    protocol::Writer w;
    w.str(group);
    w.i32(generation);
    w.str(member);
    (void)c.call(protocol::RequestType::heartbeat, w.bytes());
}

// No reconnect: a member whose connection broke has left already.
inline void leave(Client& c, const std::string& group, const std::string& member) {
    protocol::Writer w;
    w.str(group);
    w.str(member);
    (void)c.call_if_connected(protocol::RequestType::leave_group, w.bytes());
}

[[nodiscard]] inline std::string commit_request(const std::string& group, std::int32_t generation,
                                                const std::string& member,
                                                const OffsetList& offsets) {
    protocol::Writer w;
    w.str(group);
    w.i32(generation);
    w.str(member);
    w.u32(static_cast<std::uint32_t>(offsets.size()));
    for (const auto& [tp, offset] : offsets) {
        w.str(tp.topic);
        w.i32(tp.partition);
        w.i64(offset);
    }
    return w.take();
}

// generation < 0 (and no member): a commit from outside the membership, for a group without
// members (manual assignment, tools).
inline void commit(Client& c, const std::string& group, std::int32_t generation,
                   const std::string& member, const OffsetList& offsets) {
    (void)c.call(protocol::RequestType::commit_offsets,
                 commit_request(group, generation, member, offsets));
}

inline void commit_async(Client& c, const std::string& group, std::int32_t generation,
                         const std::string& member, const OffsetList& offsets) {
    c.call_async(protocol::RequestType::commit_offsets,
                 commit_request(group, generation, member, offsets));
}

// A reply's list of (partition, offset).
[[nodiscard]] inline std::vector<std::pair<std::int32_t, std::int64_t>> read_partition_offsets(
    const std::string& reply) {
    protocol::Reader r(reply);
    std::vector<std::pair<std::int32_t, std::int64_t>> out(r.count(12));
    for (auto& [p, offset] : out) {
        p = r.i32();
        offset = r.i64();
    }
    return out;
}

// Committed offsets of one topic: partition -> next offset to consume.
[[nodiscard]] inline std::vector<std::pair<std::int32_t, std::int64_t>> committed(
    Client& c, const std::string& group, const std::string& topic) {
    protocol::Writer w;
    w.str(group);
    w.str(topic);
    return read_partition_offsets(c.call(protocol::RequestType::fetch_offsets, w.bytes()));
}

struct GroupListing {
    std::string group;
    std::string state;
    std::uint32_t members = 0;
};

[[nodiscard]] inline std::vector<GroupListing> list(Client& c) {
    const std::string reply = c.call(protocol::RequestType::list_groups, {});
    protocol::Reader r(reply);
    std::vector<GroupListing> out(r.count(12));
    for (auto& l : out) {
        l.group = r.str();
        l.state = r.str();
        l.members = r.u32();
    }
    return out;
}

[[nodiscard]] inline GroupDescription describe(Client& c, const std::string& group) {
    protocol::Writer w;
    w.str(group);
    const std::string reply = c.call(protocol::RequestType::describe_group, w.bytes());
    protocol::Reader r(reply);
    return GroupDescription::read(r);
}

inline void remove(Client& c, const std::string& group) {
    protocol::Writer w;
    w.str(group);
    (void)c.call(protocol::RequestType::delete_group, w.bytes());
}

// Sets every partition of `topic` to the log start (beginning), the high watermark (end), an
// offset, or the first offset at a time (ms); returns partition -> new offset. The group must
// have no members.
[[nodiscard]] inline std::vector<std::pair<std::int32_t, std::int64_t>> reset_offsets(
    Client& c, const std::string& group, const std::string& topic, protocol::OffsetSpecKind kind,
    std::int64_t value) {
    protocol::Writer w;
    w.str(group);
    w.str(topic);
    w.u8(static_cast<std::uint8_t>(kind));
    w.i64(value);
    return read_partition_offsets(c.call(protocol::RequestType::reset_offsets, w.bytes()));
}

}  // namespace kbus::group
