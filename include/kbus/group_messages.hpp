// The control protocol's consumer-group messages: Kafka's classic (eager) group protocol, run by
// kbusd. Every member rejoins on a rebalance, the leader computes the assignment, a generation id
// fences members that missed a rebalance. Each call is answered at once ("pending" while the
// group waits for others), so clients drive the protocol from poll(). Fields are listed once and
// encoded by detail/message_codec.hpp, like control_messages.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kbus/consumer_protocol.hpp"
#include "kbus/detail/message_codec.hpp"
#include "kbus/protocol.hpp"
#include "kbus/topic_partition.hpp"

namespace kbus::group {

using OffsetList = std::vector<std::pair<TopicPartition, std::int64_t>>;
using PartitionOffsets = std::vector<std::pair<std::int32_t, std::int64_t>>;

/// Where a member commits one partition without a round trip: a slot of the partition's ring and
/// its fence token (group_commit.hpp).
struct CommitGrant {
    std::string topic;
    std::int32_t partition = 0;
    std::uint32_t slot = 0;
    std::uint64_t token = 0;
    KBUS_FIELDS(topic, partition, slot, token)
};

struct Protocol {
    std::string name;      ///< assignor: "range", "roundrobin"
    std::string metadata;  ///< an encoded Subscription
    KBUS_FIELDS(name, metadata)
};

struct JoinGroupReply {
    bool pending = true;  ///< the group still waits for members to (re)join: ask again
    std::string member_id;
    std::int32_t generation = -1;
    std::string protocol;  ///< the assignor every member supports
    std::string leader;
    std::vector<std::pair<std::string, std::string>> members;  ///< leader only: id, subscription
    KBUS_FIELDS(pending, member_id, generation, protocol, leader, members)
};
struct JoinGroupRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::join_group;
    using Reply = JoinGroupReply;
    std::string group;
    std::string member_id;  ///< empty on the first join: the coordinator hands one out
    std::string client_id;
    std::int32_t session_timeout_ms = 1000;
    std::string protocol_type = consumer_protocol_type;
    std::vector<Protocol> protocols;
    KBUS_FIELDS(group, member_id, client_id, session_timeout_ms, protocol_type, protocols)
};

struct SyncGroupReply {
    bool pending = true;     ///< the leader has not sent the assignment yet: ask again
    std::string assignment;  ///< an encoded Assignment
    std::vector<CommitGrant> grants;
    KBUS_FIELDS(pending, assignment, grants)
};
struct SyncGroupRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::sync_group;
    using Reply = SyncGroupReply;
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    std::vector<std::pair<std::string, std::string>> assignments;  ///< leader only
    KBUS_FIELDS(group, generation, member_id, assignments)
};

struct HeartbeatRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::heartbeat;
    using Reply = codec::Empty;
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    KBUS_FIELDS(group, generation, member_id)
};

struct LeaveGroupRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::leave_group;
    using Reply = codec::Empty;
    std::string group;
    std::string member_id;
    KBUS_FIELDS(group, member_id)
};

/// generation < 0 and no member: a commit from outside the membership, for a group without
/// members (manual assignment, tools).
struct CommitOffsetsRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::commit_offsets;
    using Reply = codec::Empty;
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    OffsetList offsets;
    KBUS_FIELDS(group, generation, member_id, offsets)
};

/// A group's offsets committed with a producer's transaction (Kafka's AddOffsetsToTxn and
/// TxnOffsetCommit in one): checked now as a commit is (generation, member, ownership, bounds),
/// stored only if the transaction commits.
struct TxnOffsetCommitRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::txn_offset_commit;
    using Reply = codec::Empty;
    std::int64_t producer_id = -1;
    std::int32_t epoch = -1;
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    OffsetList offsets;
    std::int64_t timeout_ms = 60000;  ///< the transaction's, if this opens it
    KBUS_FIELDS(producer_id, epoch, group, generation, member_id, offsets, timeout_ms)
};

/// Partition -> next offset to consume, as committed.
struct PartitionOffsetsReply {
    PartitionOffsets offsets;
    KBUS_FIELDS(offsets)
};
struct FetchOffsetsRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::fetch_offsets;
    using Reply = PartitionOffsetsReply;
    std::string group;
    std::string topic;
    KBUS_FIELDS(group, topic)
};

struct GroupListing {
    std::string group;
    std::string state;
    std::uint32_t members = 0;
    KBUS_FIELDS(group, state, members)
};
struct GroupListingReply {
    std::vector<GroupListing> groups;
    KBUS_FIELDS(groups)
};
struct ListGroupsRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::list_groups;
    using Reply = GroupListingReply;
    KBUS_FIELDS()
};

/// What `kbus group describe` shows, as kafka-consumer-groups.sh --describe does.
struct GroupDescription {
    struct Member {
        std::string member_id;
        std::string client_id;
        std::vector<TopicPartition> assignment;
        KBUS_FIELDS(member_id, client_id, assignment)
    };
    struct PartitionLag {
        TopicPartition tp;
        std::int64_t committed = -1;  ///< -1: nothing committed
        std::int64_t log_end = 0;     ///< high watermark
        std::string owner;            ///< member id, empty if unassigned
        KBUS_FIELDS(tp, committed, log_end, owner)
    };
    std::string group;
    std::string state;  ///< Empty, PreparingRebalance, CompletingRebalance, Stable
    std::int32_t generation = 0;
    std::string protocol;
    std::string leader;
    std::vector<Member> members;
    std::vector<PartitionLag> partitions;
    KBUS_FIELDS(group, state, generation, protocol, leader, members, partitions)
};
struct DescribeGroupRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::describe_group;
    using Reply = GroupDescription;
    std::string group;
    KBUS_FIELDS(group)
};

/// A group without members.
struct DeleteGroupRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::delete_group;
    using Reply = codec::Empty;
    std::string group;
    KBUS_FIELDS(group)
};

/// Every partition of `topic` to the log start (beginning), the high watermark (end), an offset,
/// or the first offset at a time (ms). The group must have no members.
struct ResetOffsetsRequest {
    static constexpr protocol::RequestType type = protocol::RequestType::reset_offsets;
    using Reply = PartitionOffsetsReply;
    std::string group;
    std::string topic;
    protocol::OffsetSpecKind kind = protocol::OffsetSpecKind::beginning;
    std::int64_t value = 0;
    KBUS_FIELDS(group, topic, kind, value)
};

}  // namespace kbus::group
