// The group coordinator: Kafka's classic consumer-group protocol, run inside kbusd.
//
// States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable (-> PreparingRebalance on
// any join, leave or death). A rebalance waits until every member has rejoined, or until the
// longest session timeout has passed (then the silent ones are removed); the generation then
// grows, a leader is chosen and gets every member's subscription; its SyncGroup hands each
// member its partitions. A member that missed a rebalance is fenced by the generation: its
// heartbeats, syncs and commits are refused, and it must rejoin.
//
// Every call returns at once: while the group waits for others, join and sync answer "pending"
// and the client asks again (clients drive the protocol from poll()). Liveness is the member's
// control connection (closed when its process dies) and its session timeout (no call for that
// long). Time is passed in, so the protocol is tested without clocks or sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "groups/offset_store.hpp"
#include "kbus/group_messages.hpp"
#include "log/partition_log.hpp"

namespace kbus::groups {

// Kafka clients' commit metadata, by partition (absent: none).
using CommitMetadata = std::map<group::TopicPartition, std::string>;

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable };
[[nodiscard]] const char* to_string(GroupState s) noexcept;

// A partition's log start offset and high watermark; nullopt if the topic or partition does not
// exist.
struct PartitionBounds {
    std::int64_t log_start = 0;
    std::int64_t high_watermark = 0;
};
using BoundsOf = std::function<std::optional<PartitionBounds>(const group::TopicPartition&)>;

struct GroupListing {
    std::string group;
    GroupState state = GroupState::empty;
    std::uint32_t members = 0;
};

class GroupCoordinator {
  public:
    GroupCoordinator(OffsetStore& offsets, logging::LogSink sink);

    [[nodiscard]] group::JoinGroupReply join(const group::JoinGroupRequest& request,
                                             std::uint32_t connection, std::int64_t now_ms);
    // The member's encoded assignment, or nullopt while the leader has not synced yet.
    [[nodiscard]] std::optional<std::string> sync(const group::SyncGroupRequest& request,
                                                  std::int64_t now_ms);
    void heartbeat(const std::string& group, std::int32_t generation, const std::string& member,
                   std::int64_t now_ms);
    void leave(const std::string& group, const std::string& member, std::int64_t now_ms);
    void connection_closed(std::uint32_t connection, std::int64_t now_ms);
    // Expires silent members and overdue rebalances; call every few tens of ms.
    void tick(std::int64_t now_ms);
    // Whether a group is between generations: its deadlines are then close together.
    [[nodiscard]] bool rebalancing() const;

    // generation < 0: a commit from outside the group's membership (manual assignment), allowed
    // only while the group has no members, as in Kafka. All or nothing: any bad entry refuses
    // the whole commit.
    void commit(const std::string& group, std::int32_t generation, const std::string& member,
                const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets,
                const BoundsOf& bounds, std::int64_t now_ms, const CommitMetadata& metadata = {});
    // commit()'s checks alone: throws what commit() would, changes nothing but the member's
    // liveness (a transaction's offsets, checked when sent and when the transaction commits).
    void check_commit(const std::string& group, std::int32_t generation, const std::string& member,
                      const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets,
                      const BoundsOf& bounds, std::int64_t now_ms);
    // A committed transaction's offsets, checked before its decision: stored as they are.
    void store_commit(const std::string& group,
                      const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets);
    [[nodiscard]] std::string metadata(const std::string& group,
                                       const group::TopicPartition& tp) const {
        return offsets_.metadata(group, tp);
    }
    [[nodiscard]] std::vector<std::pair<std::int32_t, std::int64_t>> committed(
        const std::string& group, const std::string& topic) const;

    [[nodiscard]] std::vector<GroupListing> list() const;
    [[nodiscard]] group::GroupDescription describe(const std::string& group,
                                                   const BoundsOf& bounds) const;
    // Both need a group without members (Kafka's NON_EMPTY_GROUP otherwise).
    void remove(const std::string& group);
    // Kafka's OffsetDelete: the group's committed offsets of these partitions are forgotten,
    // but for topics its members read now (returned: Kafka's GROUP_SUBSCRIBED_TO_TOPIC).
    // Error(invalid_group) for an unknown group.
    [[nodiscard]] std::vector<group::TopicPartition> delete_offsets(
        const std::string& group, const std::vector<group::TopicPartition>& partitions);
    void reset(const std::string& group,
               const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets);
    [[nodiscard]] bool exists(const std::string& group) const;
    [[nodiscard]] bool has_members(const std::string& group) const;

    // The partitions a member owns in the group's current generation.
    [[nodiscard]] std::vector<group::TopicPartition> owned(const std::string& group,
                                                           const std::string& member) const;
    // Called with the group's new generation whenever one begins (a join round completed, or
    // the group emptied): commits of older generations must fail from then on.
    void on_new_generation(std::function<void(const std::string&, std::int32_t)> f) {
        on_new_generation_ = std::move(f);
    }

    // A deleted topic's offsets go with it.
    void topic_deleted(const std::string& topic) { offsets_.erase_topic(topic); }

  private:
    struct Member {
        std::string id;
        std::string client_id;
        std::uint32_t connection = 0;
        std::int32_t session_timeout_ms = 1000;
        std::vector<group::Protocol> protocols;
        std::int64_t last_seen_ms = 0;
        bool rejoined = false;       // has joined the rebalance under way
        bool join_answered = false;  // has been told the outcome of the last join
        std::string assignment;      // encoded, from the leader's sync
        std::vector<group::TopicPartition> owned;
    };
    struct Group {
        std::string name;
        GroupState state = GroupState::empty;
        std::int32_t generation = 0;
        std::string protocol_type;
        std::string protocol;
        std::string leader;
        std::map<std::string, Member> members;
        std::int64_t deadline_ms = 0;  // rebalance: rejoin by; completing: leader syncs by
    };

    Group& group_for_join(const std::string& name);
    static void check_join_request(const group::JoinGroupRequest& request);
    void check_join_protocols(const Group& g, const group::JoinGroupRequest& request) const;
    Member& joining_member(Group& g, const group::JoinGroupRequest& request,
                           bool& protocols_changed);
    Group* find(const std::string& name);
    const Group* find(const std::string& name) const;
    Member& member_of(Group& g, const std::string& member_id);
    void begin_rebalance(Group& g, std::int64_t now_ms, const std::string& reason);
    void maybe_complete_join(Group& g, std::int64_t now_ms);
    void remove_member(Group& g, const std::string& member_id, std::int64_t now_ms,
                       const std::string& reason);
    [[nodiscard]] std::string select_protocol(const Group& g) const;
    [[nodiscard]] std::int32_t longest_session(const Group& g) const;
    [[nodiscard]] group::JoinGroupReply join_reply(Group& g, Member& m) const;
    void apply_assignment(Group& g, const group::SyncGroupRequest& request);
    [[nodiscard]] std::string new_member_id(const std::string& client_id);

    OffsetStore& offsets_;
    logging::LogSink sink_;
    std::function<void(const std::string&, std::int32_t)> on_new_generation_;
    std::map<std::string, Group> groups_;
    std::uint64_t member_seq_ = 0;
    std::uint64_t member_salt_ = 0;
};

}  // namespace kbus::groups
