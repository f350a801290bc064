// The consumer-group control requests as calls: what Consumer uses to take part in a group, and
// what tools (kbus group ...) use to look at and manage groups. Each is one typed request
// (group_messages.hpp) through Client::request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kbus/client.hpp"
#include "kbus/group_messages.hpp"

namespace kbus::group {

[[nodiscard]] inline JoinGroupReply join(Client& c, const JoinGroupRequest& request) {
    return c.request(request);
}

/// The member's assignment and commit grants, or nullopt while the leader has not sent it yet.
[[nodiscard]] inline std::optional<SyncGroupReply> sync(Client& c,
                                                        const SyncGroupRequest& request) {
    SyncGroupReply reply = c.request(request);
    if (reply.pending) return std::nullopt;
    return reply;
}

inline void heartbeat(Client& c, const std::string& group, std::int32_t generation,
                      const std::string& member) {
    (void)c.request(HeartbeatRequest{group, generation, member});
}

/// No reconnect: a member whose connection broke has left already.
inline void leave(Client& c, const std::string& group, const std::string& member) {
    (void)c.request_if_connected(LeaveGroupRequest{group, member});
}

inline void commit(Client& c, const std::string& group, std::int32_t generation,
                   const std::string& member, const OffsetList& offsets) {
    (void)c.request(CommitOffsetsRequest{group, generation, member, offsets});
}

inline void commit_async(Client& c, const std::string& group, std::int32_t generation,
                         const std::string& member, const OffsetList& offsets) {
    c.request_async(CommitOffsetsRequest{group, generation, member, offsets});
}

/// Committed offsets of one topic: partition -> next offset to consume.
[[nodiscard]] inline PartitionOffsets committed(Client& c, const std::string& group,
                                                const std::string& topic) {
    return c.request(FetchOffsetsRequest{group, topic}).offsets;
}

[[nodiscard]] inline std::vector<GroupListing> list(Client& c) {
    return c.request(ListGroupsRequest{}).groups;
}

[[nodiscard]] inline GroupDescription describe(Client& c, const std::string& group) {
    return c.request(DescribeGroupRequest{group});
}

inline void remove(Client& c, const std::string& group) {
    (void)c.request(DeleteGroupRequest{group});
}

/// Sets every partition of `topic` to the log start (beginning), the high watermark (end), an
/// offset, or the first offset at a time (ms); returns partition -> new offset. The group must
/// have no members.
[[nodiscard]] inline PartitionOffsets reset_offsets(Client& c, const std::string& group,
                                                    const std::string& topic,
                                                    protocol::OffsetSpecKind kind,
                                                    std::int64_t value) {
    return c.request(ResetOffsetsRequest{group, topic, kind, value}).offsets;
}

}  // namespace kbus::group
