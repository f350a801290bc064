// A Consumer's membership of a consumer group: Kafka's classic protocol, driven from poll() (join,
// sync, heartbeats, auto-commit, rebalances), and its commits. A member commits the partitions
// it owns by a compare-and-swap in each partition's ring (no system call) where the daemon
// granted it a slot, and through the daemon otherwise.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kbus/assignors.hpp"
#include "kbus/client.hpp"
#include "kbus/consumer_options.hpp"
#include "kbus/group_commit.hpp"
#include "kbus/group_requests.hpp"
#include "kbus/names.hpp"
#include "kbus/partition_source.hpp"

namespace kbus {

/// What a group member asks of the consumer it belongs to.
class MemberHost {
  public:
    virtual ~MemberHost() = default;
    [[nodiscard]] virtual std::span<const std::unique_ptr<PartitionSource>> sources() = 0;
    [[nodiscard]] virtual PartitionSource* source(std::string_view topic,
                                                  std::int32_t partition) = 0;
    virtual void assign(std::string_view topic, std::int32_t partition, OffsetSpec from) = 0;
    virtual void unassign() noexcept = 0;
    /// Tells the rebalance listener, if there is one.
    virtual void partitions_assigned(const std::vector<group::TopicPartition>& parts) = 0;
    virtual void partitions_revoked(const std::vector<group::TopicPartition>& parts,
                                    bool still_member) = 0;
};

class GroupMember {
  public:
    GroupMember(Client& client, MemberHost& host, const ConsumerOptions& options)
        : client_(&client), host_(&host), options_(&options) {}

    [[nodiscard]] bool active() const noexcept { return state_ != State::none; }
    [[nodiscard]] bool stable() const noexcept { return state_ == State::stable; }
    [[nodiscard]] std::int32_t generation() const noexcept { return generation_; }
    [[nodiscard]] const std::string& member_id() const noexcept { return member_id_; }

    /// Joins options.group_id for these topics (at the next drive()).
    void subscribe(const std::vector<std::string>& topics) {
        if (options_->group_id.empty())
            throw Error(ErrorCode::invalid_group, "subscribe to a group needs options.group_id");
        if (const std::string why = check_group_name(options_->group_id); !why.empty())
            throw Error(ErrorCode::invalid_group, why);
        for (const auto& s : options_->assignment_strategy)
            if (!group::is_known_assignor(s))
                throw Error(ErrorCode::invalid_argument, "unknown assignor '" + s + "'");
        for (const auto& t : topics)
            (void)client_->topic(t);  // an unknown topic is an error now, not at assignment
        if (active()) revoke(true);
        subscription_ = topics;
        state_ = State::joining;
    }

    /// One step of the protocol; true while the assignment stands (records may be read).
    bool drive(std::uint64_t now_ns) {
        const auto now = std::int64_t(now_ns / 1'000'000);
        if (state_ == State::stable) return keep_membership(now);
        try {
            if (state_ == State::joining && !join_group()) return false;
            if (state_ == State::syncing && !sync_group(now)) return false;
        } catch (const Error& e) {
            if (!is_membership_error(e.code())) throw;
            if (e.code() == ErrorCode::unknown_member) member_id_.clear();
            state_ = State::joining;
            return false;
        }
        return true;
    }

    /// Whether drive() would do protocol work now (join, sync, a heartbeat, an auto-commit):
    /// a consumer holding records it has not returned yet returns them first, as a commit or a
    /// revocation would count or drop them.
    [[nodiscard]] bool due(std::uint64_t now_ns) const noexcept {
        const auto now = std::int64_t(now_ns / 1'000'000);
        return state_ != State::stable || now >= next_heartbeat_ms_ ||
               (options_->enable_auto_commit && now >= next_auto_commit_ms_);
    }

    [[nodiscard]] std::uint64_t heartbeat_ns() const noexcept {
        return std::uint64_t(
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_->heartbeat_interval)
                .count());
    }

    /// Commits every assigned partition's position, or a list of offsets; see Consumer.
    void commit_positions(bool async) {
        begin_commit();
        for (const auto& p : host_->sources())
            route_commit(p.get(), {p->topic(), p->partition()}, std::int64_t(p->position()));
        finish_commit(async);
    }
    void commit_list(const group::OffsetList& offsets, bool async) {
        begin_commit();
        for (const auto& [tp, offset] : offsets) {
            PartitionSource* p = host_->source(tp.topic, tp.partition);
            if (p != nullptr && p->commit_route.slot != nullptr) {  // the daemon checks the rest
                const auto hw = std::int64_t(p->high_watermark());
                if (offset < 0 || offset > hw)
                    throw Error(ErrorCode::offset_out_of_range,
                                "commit of offset " + std::to_string(offset) + " for " + tp.topic +
                                    "-" + std::to_string(tp.partition) +
                                    " is beyond its high watermark " + std::to_string(hw));
            }
            route_commit(p, tp, offset);
        }
        finish_commit(async);
    }

    /// Leaves the group after committing (with enable_auto_commit). With the daemon gone it waits
    /// for nothing: the group has dropped this member already.
    void close() {
        if (stable() && options_->enable_auto_commit && client_->connected()) {
            try {
                commit_positions(false);
            } catch (const Error&) {  // fenced meanwhile: the new owners go on from the last commit
            }
        }
        if (!member_id_.empty()) {
            try {
                group::leave(*client_, options_->group_id, member_id_);
            } catch (const Error&) {
            }
        }
        member_id_.clear();
        state_ = State::none;
    }

  private:
    enum class State { none, joining, syncing, stable };

    static bool is_membership_error(ErrorCode c) noexcept {
        return c == ErrorCode::rebalance_in_progress || c == ErrorCode::illegal_generation ||
               c == ErrorCode::unknown_member;
    }

    /// Members commit under their generation; a consumer with a group id but its own assignment
    /// commits as an outsider (-1), which the group allows only while it has no members.
    [[nodiscard]] std::int32_t commit_generation() const noexcept {
        return active() ? generation_ : -1;
    }

    /// Every commit goes the same way: each (partition, offset) is routed to this member's commit
    /// slot in the partition's ring or to the daemon; every slot's fence is checked before any is
    /// written (a fenced member's commit is refused whole); then the slots take their offsets by
    /// compare-and-swap and the rest is sent. The two lists keep their capacity, so a member
    /// committing its own partitions allocates nothing and makes no system call.
    void begin_commit() {
        if (options_->group_id.empty())
            throw Error(ErrorCode::invalid_group, "this consumer has no group_id");
        in_slots_.clear();
        to_daemon_.clear();
    }
    void route_commit(PartitionSource* p, const group::TopicPartition& tp, std::int64_t offset) {
        if (stable() && p != nullptr && p->commit_route.slot != nullptr)
            in_slots_.emplace_back(p, offset);
        else
            to_daemon_.push_back({tp, offset});
    }
    void finish_commit(bool async) {
        for (const auto& [p, offset] : in_slots_)
            if (group::slot_token(*p->commit_route.slot) != p->commit_route.token)
                throw fenced({p->topic(), p->partition()});
        for (auto& [p, offset] : in_slots_) {
            CommitRoute& r = p->commit_route;
            if (r.expected != std::uint64_t(offset) + 1 &&  // unchanged: nothing to do
                group::commit_in_slot(*r.slot, r.token, r.expected, offset) ==
                    group::SlotCommit::fenced)
                throw fenced({p->topic(), p->partition()});
        }
        if (to_daemon_.empty()) return;
        if (async)
            group::commit_async(*client_, options_->group_id, commit_generation(), member_id_,
                                to_daemon_);
        else
            group::commit(*client_, options_->group_id, commit_generation(), member_id_,
                          to_daemon_);
    }
    [[nodiscard]] Error fenced(const group::TopicPartition& tp) const {
        return Error(ErrorCode::illegal_generation,
                     "commit refused: a rebalance of group '" + options_->group_id +
                         "' fenced generation " + std::to_string(generation_) + " (" + tp.topic +
                         "-" + std::to_string(tp.partition) + " moved on)");
    }

    bool join_group() {
        group::JoinGroupRequest req;
        req.group = options_->group_id;
        req.member_id = member_id_;
        req.client_id = options_->client_id;
        req.session_timeout_ms = std::int32_t(options_->session_timeout.count());
        for (const auto& s : options_->assignment_strategy)
            req.protocols.push_back({s, group::encode_subscription(subscription_)});
        const group::JoinGroupReply r = group::join(*client_, req);
        member_id_ = r.member_id;
        if (r.pending) return false;
        generation_ = r.generation;
        assignments_.clear();
        if (member_id_ == r.leader) assignments_ = compute_assignment(r);
        state_ = State::syncing;
        return true;
    }

    /// The leader's job, as in Kafka: the coordinator only carries the result.
    std::vector<std::pair<std::string, std::string>> compute_assignment(
        const group::JoinGroupReply& r) {
        std::vector<group::MemberSubscription> subs;
        for (const auto& [id, meta] : r.members)
            subs.push_back({id, group::decode_subscription(meta)});
        const group::Assignment a = group::assign(r.protocol, subs, [this](const std::string& t) {
            try {
                return client_->topic(t)->metadata.partitions;
            } catch (const Error&) {
                return std::int32_t(0);  // deleted meanwhile: nothing to hand out
            }
        });
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [id, parts] : a)
            out.emplace_back(id, group::encode_assignment(parts));
        return out;
    }

    bool sync_group(std::int64_t now) {
        const std::optional<group::SyncGroupReply> a =
            group::sync(*client_, {options_->group_id, generation_, member_id_, assignments_});
        if (!a) return false;
        take_assignment(group::decode_assignment(a->assignment), a->grants);
        state_ = State::stable;
        last_heartbeat_ok_ms_ = now;
        next_heartbeat_ms_ = now + options_->heartbeat_interval.count();
        next_auto_commit_ms_ = now + options_->auto_commit_interval.count();
        return true;
    }

    /// Where a partition starts: the group's committed offset, else auto.offset.reset.
    void take_assignment(const std::vector<group::TopicPartition>& parts,
                         const std::vector<group::CommitGrant>& grants) {
        std::map<std::string, group::PartitionOffsets> committed;
        const OffsetSpec reset = options_->auto_offset_reset == OffsetReset::earliest
                                     ? OffsetSpec::beginning()
                                     : OffsetSpec::end();
        for (const auto& tp : parts) {
            if (committed.count(tp.topic) == 0)
                committed[tp.topic] = group::committed(*client_, options_->group_id, tp.topic);
            const auto& c = committed[tp.topic];
            const auto it = std::find_if(c.begin(), c.end(),
                                         [&](const auto& e) { return e.first == tp.partition; });
            try {
                host_->assign(tp.topic, tp.partition,
                              it != c.end() ? OffsetSpec::at(it->second) : reset);
            } catch (const Error& e) {
                // The commit fell below the log start (retention): Kafka resets too.
                if (e.code() != ErrorCode::offset_out_of_range) throw;
                host_->assign(tp.topic, tp.partition, reset);
            }
        }
        for (const group::CommitGrant& g : grants)
            if (PartitionSource* p = host_->source(g.topic, g.partition);
                p != nullptr && g.slot < ring::group_commit_slot_count) {
                ring::GroupCommitSlot& slot = p->ring().header().group_commits[g.slot];
                p->commit_route = {&slot, g.token, group::slot_commit(slot)};
            }
        host_->partitions_assigned(parts);
    }

    /// Stable: heartbeats at their interval, auto-commits at its; a rebalance or a fence ends the
    /// assignment. A consumer that could not heartbeat for a whole session fences itself: the
    /// group has given its partitions away by then.
    bool keep_membership(std::int64_t now) {
        if (now >= next_heartbeat_ms_ && !heartbeat(now)) return false;
        if (now - last_heartbeat_ok_ms_ > options_->session_timeout.count()) {
            revoke(false, false);
            state_ = State::joining;
            return false;
        }
        if (options_->enable_auto_commit && now >= next_auto_commit_ms_) {
            next_auto_commit_ms_ = now + options_->auto_commit_interval.count();
            commit_positions(true);
        }
        return true;
    }

    bool heartbeat(std::int64_t now) {
        next_heartbeat_ms_ = now + options_->heartbeat_interval.count();
        try {
            group::heartbeat(*client_, options_->group_id, generation_, member_id_);
            last_heartbeat_ok_ms_ = now;
            return true;
        } catch (const Error& e) {
            if (!is_membership_error(e.code())) throw;
            // Unknown to the daemon (it restarted, or expired us), the member may still hold
            // its commit slots: they are fenced only when the group's next generation begins.
            // Committing there first is safe either way, and after a daemon restart it spares
            // the group re-reading what this member had consumed.
            revoke(e.code() == ErrorCode::rebalance_in_progress,
                   e.code() != ErrorCode::illegal_generation);
            if (e.code() == ErrorCode::unknown_member) member_id_.clear();
            state_ = State::joining;
            return false;
        }
    }

    /// Gives the partitions up: committed first when still allowed (so a graceful rebalance
    /// duplicates nothing), then the listener (revoked, or lost when no longer a member), then
    /// the reader slots.
    void revoke(bool still_member, bool try_commit = true) {
        std::vector<group::TopicPartition> parts;
        for (const auto& p : host_->sources())
            parts.push_back({p->topic(), p->partition()});
        if (try_commit && options_->enable_auto_commit) {
            try {
                commit_positions(false);
            } catch (const Error& e) {
                if (!is_membership_error(e.code()) && e.code() != ErrorCode::partition_not_assigned)
                    throw;
            }
        }
        host_->partitions_revoked(parts, still_member);
        host_->unassign();
    }

    Client* client_;
    MemberHost* host_;
    const ConsumerOptions* options_;
    State state_ = State::none;
    std::vector<std::string> subscription_;
    std::string member_id_;
    std::int32_t generation_ = -1;
    std::vector<std::pair<std::string, std::string>> assignments_;  ///< the leader's, to sync
    std::int64_t next_heartbeat_ms_ = 0;
    std::int64_t last_heartbeat_ok_ms_ = 0;
    std::int64_t next_auto_commit_ms_ = 0;
    std::vector<std::pair<PartitionSource*, std::int64_t>> in_slots_;  ///< a commit's two routes
    group::OffsetList to_daemon_;
};

}  // namespace kbus
