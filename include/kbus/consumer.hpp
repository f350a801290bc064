// kbus::Consumer: reads partitions in place. poll() returns a Batch of Message views into shared
// memory, valid until the next poll. While the consumer holds a batch, producers respect it (it
// is tethered through a reader slot), but only for consumer.hold.timeout.ms: a consumer that
// holds longer is detached, and its next poll throws OffsetOutOfRange (batch_invalidated) with
// the offset to resume from. It never hands out overwritten bytes.
//
// Behind the ring, the log: a consumer that starts (or seeks, or falls) behind what the ring
// still holds reads the partition's log segments through the daemon (Kafka's batches, same
// offsets, keys, values, headers and timestamps) and moves back onto the ring when it catches up.
// It holds producers back not at all meanwhile.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kbus/assignors.hpp"
#include "kbus/client.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/detail/file_extent_reader.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/group_commit.hpp"
#include "kbus/group_requests.hpp"
#include "kbus/message.hpp"
#include "kbus/names.hpp"
#include "kbus/ring_reader.hpp"

namespace kbus {

enum class WaitMode {
    busy_poll,  // spin on the commit words: lowest latency, burns a core while waiting
    blocking,   // spin briefly, then sleep on a futex until a producer commits
};

class Consumer;

// Told when a group rebalance moves partitions (Kafka's ConsumerRebalanceListener). Revoked is
// called while the consumer still owns the partitions, so it may commit; lost means it was
// fenced (it missed a rebalance) and may no longer commit them.
class RebalanceListener {
  public:
    virtual ~RebalanceListener() = default;
    virtual void on_partitions_assigned(Consumer&, const std::vector<group::TopicPartition>&) {}
    virtual void on_partitions_revoked(Consumer&, const std::vector<group::TopicPartition>&) {}
    virtual void on_partitions_lost(Consumer& c, const std::vector<group::TopicPartition>& p) {
        on_partitions_revoked(c, p);
    }
};

enum class OffsetReset { earliest, latest };  // auto.offset.reset

struct ConsumerOptions {
    WaitMode wait = WaitMode::blocking;
    std::size_t max_poll_records = 500;  // Kafka's max.poll.records
    std::chrono::microseconds spin_before_sleep{50};

    // Consumer groups, with Kafka's names: set group_id, then subscribe() joins the group.
    std::string group_id{};                                 // group.id
    std::string client_id = "kbus";                         // client.id
    std::chrono::milliseconds session_timeout{1000};        // session.timeout.ms
    std::chrono::milliseconds heartbeat_interval{100};      // heartbeat.interval.ms
    std::vector<std::string> assignment_strategy{"range"};  // partition.assignment.strategy
    bool enable_auto_commit = true;                         // enable.auto.commit
    std::chrono::milliseconds auto_commit_interval{5000};   // auto.commit.interval.ms
    OffsetReset auto_offset_reset = OffsetReset::earliest;  // auto.offset.reset
    RebalanceListener* rebalance_listener = nullptr;
};

class OffsetSpec {
  public:
    static OffsetSpec beginning() { return OffsetSpec(protocol::OffsetSpecKind::beginning, 0); }
    static OffsetSpec end() { return OffsetSpec(protocol::OffsetSpecKind::end, 0); }
    static OffsetSpec at(std::int64_t offset) {
        return OffsetSpec(protocol::OffsetSpecKind::offset, offset);
    }
    // The first offset whose timestamp is >= ms since the epoch (the end if there is none).
    static OffsetSpec at_timestamp(std::int64_t ms) {
        return OffsetSpec(protocol::OffsetSpecKind::timestamp, ms);
    }
    [[nodiscard]] protocol::OffsetSpecKind kind() const noexcept { return kind_; }
    [[nodiscard]] std::int64_t offset() const noexcept { return offset_; }

  private:
    OffsetSpec(protocol::OffsetSpecKind k, std::int64_t o) : kind_(k), offset_(o) {}
    protocol::OffsetSpecKind kind_;
    std::int64_t offset_;
};

class Batch {
  public:
    [[nodiscard]] std::size_t size() const noexcept { return messages_.size(); }
    [[nodiscard]] bool empty() const noexcept { return messages_.empty(); }
    [[nodiscard]] const Message& operator[](std::size_t i) const noexcept { return messages_[i]; }
    [[nodiscard]] auto begin() const noexcept { return messages_.begin(); }
    [[nodiscard]] auto end() const noexcept { return messages_.end(); }

  private:
    friend class Consumer;
    std::vector<Message> messages_;
};

class Consumer {
  public:
    explicit Consumer(Client& client, ConsumerOptions options = {})
        : client_(&client), options_(options) {}
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;
    ~Consumer() {
        try {
            close();
        } catch (...) {  // the daemon notices the closed connection and cleans up anyway
            unassign();
        }
    }

    // Adds one partition, starting at `from`.
    void assign(std::string_view topic, std::int32_t partition, OffsetSpec from) {
        auto handle = client_->topic(topic);
        if (partition < 0 || partition >= handle->metadata.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(partition) + " is out of range for topic '" +
                            std::string(topic) + "' (" +
                            std::to_string(handle->metadata.partitions) + " partitions)");
        if (find(topic, partition) != nullptr) return seek(topic, partition, from);
        auto p = std::make_unique<Assigned>();
        p->topic = std::string(topic);
        p->partition = partition;
        p->handle = handle;
        p->reader = ring::RingReader(handle->rings[std::size_t(partition)]);
        attach(*p, from);
        partitions_.push_back(std::move(p));
    }

    // Without a group_id: adds every partition of the topic, from `from`. With one: joins the
    // group for this topic (as subscribe(topics)); where to start then comes from the group's
    // committed offsets, else auto_offset_reset.
    void subscribe(std::string_view topic, OffsetSpec from = OffsetSpec::beginning()) {
        if (!options_.group_id.empty())
            return subscribe(std::vector<std::string>{std::string(topic)});
        const std::int32_t n = client_->topic(topic)->metadata.partitions;
        for (std::int32_t p = 0; p < n; ++p)
            assign(topic, p, from);
    }

    // Joins options.group_id for these topics. The partitions come with the group's assignment,
    // during poll(): the group's protocol (join, sync, heartbeats, rebalances) runs there.
    void subscribe(const std::vector<std::string>& topics) {
        if (options_.group_id.empty())
            throw Error(ErrorCode::invalid_group, "subscribe to a group needs options.group_id");
        if (const std::string why = check_group_name(options_.group_id); !why.empty())
            throw Error(ErrorCode::invalid_group, why);
        for (const auto& s : options_.assignment_strategy)
            if (!group::is_known_assignor(s))
                throw Error(ErrorCode::invalid_argument, "unknown assignor '" + s + "'");
        for (const auto& t : topics)
            (void)client_->topic(t);  // an unknown topic is an error now, not at assignment
        if (group_state_ != GroupState::none) revoke(true);
        subscription_ = topics;
        group_state_ = GroupState::joining;
    }

    // Commits the position of every assigned partition (the offset after what poll returned),
    // and waits for the daemon. Throws Error (illegal_generation, unknown_member, ...) if the
    // group refused: then a rebalance has moved the partitions on (Kafka's CommitFailed).
    // A member's commit of its own partitions is a compare-and-swap in the partition's ring (no
    // system call, no round trip); anything else goes to the daemon.
    void commit_sync() { commit_positions(false); }
    void commit_sync(const group::OffsetList& offsets) { commit_list(offsets, false); }
    // Returns at once; a refusal by the daemon shows in take_async_commit_error(). (A commit in
    // the ring is as fast either way, and a fenced one throws here too.)
    void commit_async() { commit_positions(true); }
    void commit_async(const group::OffsetList& offsets) { commit_list(offsets, true); }
    [[nodiscard]] std::optional<Error> take_async_commit_error() {
        return client_->take_async_error();
    }
    // The group's committed offset of a partition (the next offset to consume), if any.
    [[nodiscard]] std::optional<std::int64_t> committed(std::string_view topic,
                                                        std::int32_t partition) {
        for (const auto& [p, offset] :
             group::committed(*client_, require_group(), std::string(topic)))
            if (p == partition) return offset;
        return std::nullopt;
    }

    // The partitions this consumer reads now.
    [[nodiscard]] std::vector<group::TopicPartition> assignment() const {
        std::vector<group::TopicPartition> out;
        for (const auto& p : partitions_)
            out.push_back({p->topic, p->partition});
        return out;
    }
    // True once the group has given this consumer its partitions (and until a rebalance).
    [[nodiscard]] bool in_group() const noexcept { return group_state_ == GroupState::stable; }
    [[nodiscard]] std::int32_t generation() const noexcept { return generation_; }
    [[nodiscard]] const std::string& member_id() const noexcept { return member_id_; }

    // Leaves the group after committing (with enable_auto_commit), releases every partition.
    // With the daemon gone it waits for nothing: the group has dropped this member already.
    void close() {
        if (group_state_ == GroupState::stable && options_.enable_auto_commit &&
            client_->connected()) {
            try {
                commit_sync();
            } catch (const Error&) {  // fenced meanwhile: the new owners go on from the last commit
            }
        }
        if (!member_id_.empty()) {
            try {
                group::leave(*client_, options_.group_id, member_id_);
            } catch (const Error&) {
            }
        }
        member_id_.clear();
        group_state_ = GroupState::none;
        unassign();
    }

    void unassign() noexcept {
        for (auto& p : partitions_) {
            try {
                client_->release_reader(p->handle->metadata.topic_id, p->partition, p->slot);
            } catch (...) {  // the daemon frees the slot when our connection closes anyway
            }
        }
        partitions_.clear();
        batch_.messages_.clear();
    }

    void seek(std::string_view topic, std::int32_t partition, OffsetSpec to) {
        Assigned* p = find(topic, partition);
        if (p == nullptr)
            throw Error(ErrorCode::invalid_argument,
                        "seek on a partition that is not assigned: " + std::string(topic) + "/" +
                            std::to_string(partition));
        batch_.messages_.clear();
        attach(*p, to);
    }

    // Next offset this consumer will read from a partition.
    [[nodiscard]] std::int64_t position(std::string_view topic, std::int32_t partition) const {
        const Assigned* p = find(topic, partition);
        if (p == nullptr) throw Error(ErrorCode::invalid_argument, "partition not assigned");
        return static_cast<std::int64_t>(p->cursor.offset);
    }

    // The next offset producers will write (claimed so far) on a partition.
    [[nodiscard]] std::int64_t high_watermark(std::string_view topic,
                                              std::int32_t partition) const {
        const Assigned* p = find(topic, partition);
        if (p == nullptr) throw Error(ErrorCode::invalid_argument, "partition not assigned");
        return static_cast<std::int64_t>(ring::load_next_offset(p->reader.ring().header()));
    }

    // True when every assigned partition has been read up to its high watermark.
    [[nodiscard]] bool at_end() const noexcept {
        for (const auto& p : partitions_)
            if (p->cursor.offset < ring::load_next_offset(p->reader.ring().header())) return false;
        return true;
    }

    // Returns the records available now, or waits for some, at most `timeout`. The previous
    // batch's views become invalid here.
    const Batch& poll(std::chrono::nanoseconds timeout) {
        batch_.messages_.clear();
        check_still_attached();  // a held batch that was invalidated is reported first
        release_held();
        if (group_state_ == GroupState::none) {  // records waiting: no clock read at all
            gather();
            if (!batch_.empty()) {
                check_still_attached();
                return batch_;
            }
        }
        const std::uint64_t start = detail::monotonic_ns();
        const auto budget = static_cast<std::uint64_t>(timeout.count() < 0 ? 0 : timeout.count());
        const auto spin = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_.spin_before_sleep)
                .count());
        // One clock read per round, shared by the group's timers and the poll's budget.
        for (std::uint64_t now = start;;) {
            const bool reading = group_state_ == GroupState::none || drive_group(now);
            if (reading) gather();
            if (!batch_.empty()) break;
            now = detail::monotonic_ns();
            const std::uint64_t elapsed = now - start;
            if (elapsed >= budget) break;
            std::uint64_t nap = budget - elapsed;
            if (group_state_ != GroupState::none)  // wake for the group's heartbeats
                nap = std::min<std::uint64_t>(nap, reading ? heartbeat_ns() : 2'000'000);
            if (!reading)
                std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
            else if (options_.wait == WaitMode::blocking && elapsed >= spin)
                sleep_until_commit(std::chrono::nanoseconds(nap));
            else
                detail::cpu_relax();
        }
        check_still_attached();
        return batch_;
    }

    [[nodiscard]] std::size_t assignment_size() const noexcept { return partitions_.size(); }

  private:
    enum class GroupState { none, joining, syncing, stable };
    struct Assigned;

    // --- consumer group: Kafka's classic protocol, driven from poll() ---------------------

    const std::string& require_group() const {
        if (options_.group_id.empty())
            throw Error(ErrorCode::invalid_group, "this consumer has no group_id");
        return options_.group_id;
    }
    // Members commit under their generation; a consumer with a group id but its own assignment
    // commits as an outsider (-1), which the group allows only while it has no members.
    [[nodiscard]] std::int32_t commit_generation() const noexcept {
        return group_state_ == GroupState::none ? -1 : generation_;
    }
    // Every commit goes the same way: each (partition, offset) is routed to this member's
    // commit slot in the partition's ring or to the daemon; every slot's fence is checked before
    // any is written (a fenced member's commit is refused whole); then the slots take their
    // offsets by compare-and-swap and the rest is sent. The two lists keep their capacity, so a
    // member committing its own partitions allocates nothing and makes no system call.
    void commit_positions(bool async) {
        begin_commit();
        for (const auto& p : partitions_)
            route_commit(p.get(), {p->topic, p->partition}, std::int64_t(p->cursor.offset));
        finish_commit(async);
    }
    void commit_list(const group::OffsetList& offsets, bool async) {
        begin_commit();
        for (const auto& [tp, offset] : offsets) {
            Assigned* p = find(tp.topic, tp.partition);
            if (p != nullptr && p->commit_slot != nullptr) {  // the daemon checks the others
                const auto hw = std::int64_t(ring::load_next_offset(p->reader.ring().header()));
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
    void begin_commit() {
        require_group();
        in_slots_.clear();
        to_daemon_.clear();
    }
    void route_commit(Assigned* p, const group::TopicPartition& tp, std::int64_t offset) {
        if (group_state_ == GroupState::stable && p != nullptr && p->commit_slot != nullptr)
            in_slots_.emplace_back(p, offset);
        else
            to_daemon_.push_back({tp, offset});
    }
    void finish_commit(bool async) {
        for (const auto& [p, offset] : in_slots_)
            if (group::slot_token(*p->commit_slot) != p->commit_token)
                throw fenced({p->topic, p->partition});
        for (auto& [p, offset] : in_slots_)
            if (p->commit_expected != std::uint64_t(offset) + 1 &&  // unchanged: nothing to do
                group::commit_in_slot(*p->commit_slot, p->commit_token, p->commit_expected,
                                      offset) == group::SlotCommit::fenced)
                throw fenced({p->topic, p->partition});
        if (to_daemon_.empty()) return;
        if (async)
            group::commit_async(*client_, options_.group_id, commit_generation(), member_id_,
                                to_daemon_);
        else
            group::commit(*client_, options_.group_id, commit_generation(), member_id_, to_daemon_);
    }
    Error fenced(const group::TopicPartition& tp) const {
        return Error(ErrorCode::illegal_generation,
                     "commit refused: a rebalance of group '" + options_.group_id +
                         "' fenced generation " + std::to_string(generation_) + " (" + tp.topic +
                         "-" + std::to_string(tp.partition) + " moved on)");
    }

    [[nodiscard]] std::uint64_t heartbeat_ns() const noexcept {
        return std::uint64_t(
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_.heartbeat_interval)
                .count());
    }
    // One step of the protocol; true while the assignment stands (records may be read).
    bool drive_group(std::uint64_t now_ns) {
        const auto now = std::int64_t(now_ns / 1'000'000);
        if (group_state_ == GroupState::stable) return keep_membership(now);
        try {
            if (group_state_ == GroupState::joining && !join_group()) return false;
            if (group_state_ == GroupState::syncing && !sync_group(now)) return false;
        } catch (const Error& e) {
            if (!is_membership_error(e.code())) throw;
            if (e.code() == ErrorCode::unknown_member) member_id_.clear();
            group_state_ = GroupState::joining;
            return false;
        }
        return true;
    }

    static bool is_membership_error(ErrorCode c) noexcept {
        return c == ErrorCode::rebalance_in_progress || c == ErrorCode::illegal_generation ||
               c == ErrorCode::unknown_member;
    }

    bool join_group() {
        group::JoinGroupRequest req;
        req.group = options_.group_id;
        req.member_id = member_id_;
        req.client_id = options_.client_id;
        req.session_timeout_ms = std::int32_t(options_.session_timeout.count());
        for (const auto& s : options_.assignment_strategy)
            req.protocols.push_back({s, group::encode_subscription(subscription_)});
        const group::JoinGroupReply r = group::join(*client_, req);
        member_id_ = r.member_id;
        if (r.pending) return false;
        generation_ = r.generation;
        leader_ = r.leader;
        group_assignments_.clear();
        if (member_id_ == leader_) group_assignments_ = compute_assignment(r);
        group_state_ = GroupState::syncing;
        return true;
    }

    // The leader's job, as in Kafka: the coordinator only carries the result.
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
            group::sync(*client_, {options_.group_id, generation_, member_id_, group_assignments_});
        if (!a) return false;
        take_assignment(group::decode_assignment(a->assignment), a->grants);
        group_state_ = GroupState::stable;
        last_heartbeat_ok_ms_ = now;
        next_heartbeat_ms_ = now + options_.heartbeat_interval.count();
        next_auto_commit_ms_ = now + options_.auto_commit_interval.count();
        return true;
    }

    void take_assignment(const std::vector<group::TopicPartition>& parts,
                         const std::vector<group::CommitGrant>& grants) {
        std::map<std::string, std::vector<std::pair<std::int32_t, std::int64_t>>> committed;
        for (const auto& tp : parts) {
            if (committed.count(tp.topic) == 0)
                committed[tp.topic] = group::committed(*client_, options_.group_id, tp.topic);
            const auto& c = committed[tp.topic];
            const auto it = std::find_if(c.begin(), c.end(),
                                         [&](const auto& e) { return e.first == tp.partition; });
            const OffsetSpec reset = options_.auto_offset_reset == OffsetReset::earliest
                                         ? OffsetSpec::beginning()
                                         : OffsetSpec::end();
            try {
                assign(tp.topic, tp.partition, it != c.end() ? OffsetSpec::at(it->second) : reset);
            } catch (const Error& e) {
                // The commit fell below the log start (retention): Kafka resets too.
                if (e.code() != ErrorCode::offset_out_of_range) throw;
                assign(tp.topic, tp.partition, reset);
            }
        }
        for (const group::CommitGrant& g : grants)
            if (Assigned* p = find(g.topic, g.partition);
                p != nullptr && g.slot < ring::group_commit_slot_count) {
                p->commit_slot = &p->reader.ring().header().group_commits[g.slot];
                p->commit_token = g.token;
                p->commit_expected = group::slot_commit(*p->commit_slot);
            }
        if (options_.rebalance_listener != nullptr)
            options_.rebalance_listener->on_partitions_assigned(*this, parts);
    }

    // Stable: heartbeats at their interval, auto-commits at its; a rebalance or a fence ends
    // the assignment. A consumer that could not heartbeat for a whole session fences itself:
    // the group has given its partitions away by then.
    bool keep_membership(std::int64_t now) {
        if (now >= next_heartbeat_ms_) {
            next_heartbeat_ms_ = now + options_.heartbeat_interval.count();
            try {
                group::heartbeat(*client_, options_.group_id, generation_, member_id_);
                last_heartbeat_ok_ms_ = now;
            } catch (const Error& e) {
                if (!is_membership_error(e.code())) throw;
                // Unknown to the daemon (it restarted, or expired us), the member may still
                // hold its commit slots: they are fenced only when the group's next generation
                // begins. Committing there first is safe either way, and after a daemon restart
                // it spares the group re-reading what this member had consumed.
                revoke(e.code() == ErrorCode::rebalance_in_progress,
                       e.code() != ErrorCode::illegal_generation);
                if (e.code() == ErrorCode::unknown_member) member_id_.clear();
                group_state_ = GroupState::joining;
                return false;
            }
        }
        if (now - last_heartbeat_ok_ms_ > options_.session_timeout.count()) {
            revoke(false, false);
            group_state_ = GroupState::joining;
            return false;
        }
        if (options_.enable_auto_commit && now >= next_auto_commit_ms_) {
            next_auto_commit_ms_ = now + options_.auto_commit_interval.count();
            commit_async();
        }
        return true;
    }

    // Gives the partitions up: committed first when still allowed (so a graceful rebalance
    // duplicates nothing), then the listener (revoked, or lost when no longer a member), then the
    // reader slots.
    void revoke(bool still_member, bool try_commit = true) {
        const std::vector<group::TopicPartition> parts = assignment();
        if (try_commit && options_.enable_auto_commit) {
            try {
                commit_sync();
            } catch (const Error& e) {
                if (!is_membership_error(e.code()) && e.code() != ErrorCode::partition_not_assigned)
                    throw;
            }
        }
        if (options_.rebalance_listener != nullptr) {
            if (still_member)
                options_.rebalance_listener->on_partitions_revoked(*this, parts);
            else
                options_.rebalance_listener->on_partitions_lost(*this, parts);
        }
        unassign();
    }

    struct Assigned {
        std::string topic;
        std::int32_t partition = 0;
        std::shared_ptr<const TopicHandle> handle;
        ring::RingReader reader;
        ring::Cursor cursor;
        std::uint32_t slot = 0;
        bool has_slot = false;
        std::uint64_t held_offset = 0;  // first offset of the batch we hold
        bool holding = false;
        // Reading behind the ring: the fetched batches (an extent of a segment read straight
        // from the file, or bytes the daemon decompressed), the next one to decode, and from
        // which offset the ring holds records again.
        bool on_disk = false;
        bool read_segments = true;  // off once a read failed or met a compressed batch
        detail::FileExtentReader disk_file;
        std::string disk_copy;
        std::span<const std::byte> disk;
        std::size_t disk_at = 0;
        std::int64_t ring_start = -1;  // -1: not known yet
        // Where this member commits the partition (granted with the assignment), if anywhere.
        ring::GroupCommitSlot* commit_slot = nullptr;
        std::uint64_t commit_token = 0;
        std::uint64_t commit_expected = 0;  // what we last saw in the slot (offset + 1)
        std::size_t taken_this_poll = 0;
    };

    Assigned* find(std::string_view topic, std::int32_t partition) const {
        for (const auto& p : partitions_)
            if (p->partition == partition && p->topic == topic) return p.get();
        return nullptr;
    }

    ring::ReaderSlot& slot_of(const Assigned& p) const noexcept {
        return p.reader.ring().header().readers[p.slot];
    }

    void attach(Assigned& p, OffsetSpec from) {
        // Re-attaching reuses our slot (the daemon re-tethers it at the new position).
        const protocol::ReaderAttachment a =
            client_->attach_reader(p.handle->metadata.topic_id, p.partition, from.kind(),
                                   from.offset(), p.has_slot ? std::int32_t(p.slot) : -1);
        p.holding = false;
        clear_disk(p);
        p.ring_start = -1;
        p.on_disk = a.on_disk;
        if (a.on_disk) {
            p.cursor = {0, static_cast<std::uint64_t>(a.offset)};
            return;
        }
        p.slot = a.slot;
        p.has_slot = true;
        p.cursor = {a.position, static_cast<std::uint64_t>(a.offset)};
    }

    // Moves each tether forward to where we will read next: the previous batch is released.
    void release_held() noexcept {
        for (auto& p : partitions_) {
            p->taken_this_poll = 0;
            if (!p->holding || p->on_disk) continue;
            ring::ReaderSlot& s = slot_of(*p);
            // Release: our reads of the old batch happen before producers may reuse its bytes.
            s.offset.store(p->cursor.offset, std::memory_order_relaxed);
            s.position.store(p->cursor.position, std::memory_order_release);
            p->holding = false;
        }
    }

    void gather() {
        const std::size_t n = partitions_.size();
        for (std::size_t i = 0; i < n && batch_.size() < options_.max_poll_records; ++i) {
            Assigned& p = *partitions_[(next_partition_ + i) % n];
            if (p.on_disk) {
                gather_from_disk(p);
                continue;
            }
            while (batch_.size() < options_.max_poll_records) {
                ring::RecordRef r;
                const ring::PeekStatus s = p.reader.peek(p.cursor, r);
                if (s == ring::PeekStatus::record) {
                    if (!p.holding) {  // from here on a detach invalidates what we return
                        p.holding = true;
                        p.held_offset = r.offset;
                    }
                    batch_.messages_.emplace_back(r.header, &p.topic, p.partition,
                                                  static_cast<std::int64_t>(r.offset));
                } else if (s == ring::PeekStatus::aborted) {
                    // an aborted record is a gap in offsets: skip it
                } else if (s == ring::PeekStatus::not_ready) {
                    break;
                } else {
                    check_still_attached();  // a detach explains a lap: report it as such
                    if (p.on_disk) break;    // detached between batches: go on from the log
                    throw_out_of_range(p, s == ring::PeekStatus::lapped ? "was overwritten (lapped)"
                                                                        : "holds a corrupt record");
                }
                ring::RingReader::advance(p.cursor, r);
            }
        }
        next_partition_ = n ? (next_partition_ + 1) % n : 0;
    }

    static void clear_disk(Assigned& p) noexcept {
        p.disk_file.clear();
        p.disk_copy.clear();
        p.disk = {};
        p.disk_at = 0;
    }

    // Fetches the batches from the cursor on: read from the segment file where the daemon says
    // they are, else as bytes (decompressed by the daemon). False if the log has nothing there.
    bool fetch_from_disk(Assigned& p) {
        clear_disk(p);
        const std::uint64_t id = p.handle->metadata.topic_id;
        const auto offset = std::int64_t(p.cursor.offset);
        if (p.read_segments) {
            const protocol::FetchReply f =
                client_->fetch(id, p.partition, offset, protocol::max_fetch_file_bytes, true);
            p.ring_start = f.ring_start_offset;
            if (f.file_path.empty()) return false;
            if (p.disk_file.read(f.file_path, f.file_position, std::size_t(f.file_length))) {
                p.disk = p.disk_file.bytes();
                return true;
            }
            p.read_segments = false;
        }
        protocol::FetchReply f = client_->fetch(id, p.partition, offset, protocol::max_fetch_bytes);
        p.ring_start = f.ring_start_offset;
        p.disk_copy = std::move(f.batches);
        p.disk = {reinterpret_cast<const std::byte*>(p.disk_copy.data()), p.disk_copy.size()};
        return !p.disk.empty();
    }

    // Decodes fetched batches from the cursor on; fetches more when they run out, and moves back
    // onto the ring once the cursor reaches what the ring holds. A refill happens only before
    // this poll took anything from the partition: earlier views point into the old batches.
    void gather_from_disk(Assigned& p) {
        bool tried_ring = false;
        while (batch_.size() < options_.max_poll_records) {
            if (p.disk_at >= p.disk.size()) {
                if (p.taken_this_poll != 0) return;
                if (!tried_ring && p.ring_start >= 0 &&
                    std::int64_t(p.cursor.offset) >= p.ring_start) {
                    tried_ring = true;
                    attach(p, OffsetSpec::at(std::int64_t(p.cursor.offset)));
                    if (!p.on_disk) return;  // back on the ring: the next gather reads it
                }
                if (!fetch_from_disk(p)) {
                    if (tried_ring) return;  // the ring moved on meanwhile: try again next time
                    continue;                // nothing more on disk: the ring has the rest
                }
            }
            const log::BatchView b(p.disk.subspan(p.disk_at));
            if (b.check(false) != log::BatchCheck::ok) {
                clear_disk(p);
                throw_out_of_range(p, "is in a corrupt batch on disk");
            }
            if (b.compression_codec() != 0) {
                if (p.disk_copy.empty() && p.taken_this_poll == 0) {
                    // Stored compressed: from here on the daemon decompresses for us.
                    p.read_segments = false;
                    if (!fetch_from_disk(p)) return;
                    continue;
                }
                if (p.disk_copy.empty()) return;  // after this poll's views are released
                clear_disk(p);
                throw_out_of_range(p, "is in a batch the daemon did not decompress");
            }
            log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                                   b.base_timestamp());
            log::RecordView r;
            bool full = false;
            while (it.next(r)) {
                if (std::uint64_t(r.offset) < p.cursor.offset) continue;
                if (batch_.size() >= options_.max_poll_records) {
                    full = true;
                    break;
                }
                batch_.messages_.emplace_back(r, &p.topic, p.partition);
                p.cursor.offset = std::uint64_t(r.offset) + 1;
                ++p.taken_this_poll;
            }
            if (full) return;  // the rest of this batch is decoded again next poll
            if (it.malformed()) throw_out_of_range(p, "is in a corrupt record on disk");
            p.cursor.offset = std::max(p.cursor.offset, std::uint64_t(b.last_offset()) + 1);
            p.disk_at += b.total_bytes();
        }
    }

    // A detach between our tether and now means producers may have reused the bytes we read.
    // Detached while holding nothing, the consumer just goes on from the log.
    void check_still_attached() {
        for (auto& p : partitions_) {
            if (p->on_disk) continue;
            // Acquire: if still attached here, nothing we read was reused (the daemon detaches
            // before it lets producers past our position).
            if (slot_of(*p).state.load(std::memory_order_acquire) !=
                std::uint32_t(ring::ReaderSlotState::attached)) {
                if (!p->holding) {
                    p->on_disk = true;
                    clear_disk(*p);
                    p->ring_start = -1;
                    continue;
                }
                batch_.messages_.clear();
                const std::uint64_t resume = p->held_offset;
                throw OffsetOutOfRange(ErrorCode::batch_invalidated,
                                       "consumer of " + p->topic + "/" +
                                           std::to_string(p->partition) +
                                           " was detached (held a batch longer than "
                                           "consumer.hold.timeout.ms); resume from offset " +
                                           std::to_string(resume),
                                       p->topic, p->partition, static_cast<std::int64_t>(resume));
            }
        }
    }

    [[noreturn]] void throw_out_of_range(Assigned& p, const char* why) {
        batch_.messages_.clear();
        throw OffsetOutOfRange(ErrorCode::offset_out_of_range,
                               "offset " + std::to_string(p.cursor.offset) + " of " + p.topic +
                                   "/" + std::to_string(p.partition) + " " + why,
                               p.topic, p.partition, static_cast<std::int64_t>(p.cursor.offset));
    }

    // Announces itself as a sleeper on every assigned ring, re-checks, then sleeps until a
    // producer's commit bumps a wake word (or the timeout).
    void sleep_until_commit(std::chrono::nanoseconds timeout) {
        constexpr std::size_t max_waits = 128;
        const std::size_t n = std::min(partitions_.size(), max_waits);
        detail::FutexWaitvEntry waits[max_waits];
        for (std::size_t i = 0; i < n; ++i) {
            ring::WakeLine& w = partitions_[i]->reader.ring().header().wake;
            waits[i] = {w.wake_seq.load(std::memory_order_acquire),
                        reinterpret_cast<std::uint64_t>(&w.wake_seq), 2 /* FUTEX2_SIZE_U32 */, 0};
            w.sleepers.fetch_add(1, std::memory_order_seq_cst);
        }
        // Seq_cst: our sleeper announcement is ordered before the re-check (store-load), pairing
        // with the producer's fence between its commit and its sleepers check.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        gather();
        if (batch_.empty() && n > 0) {
            const auto cap =
                std::min<std::chrono::nanoseconds>(timeout, std::chrono::milliseconds(100));
            if (!detail::futex_waitv(waits, unsigned(n), cap)) {
                ring::WakeLine& w = partitions_[0]->reader.ring().header().wake;
                detail::futex_wait(
                    &w.wake_seq, std::uint32_t(waits[0].val),
                    std::min<std::chrono::nanoseconds>(cap, std::chrono::milliseconds(1)));
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            partitions_[i]->reader.ring().header().wake.sleepers.fetch_sub(
                1, std::memory_order_relaxed);
    }

    Client* client_;
    ConsumerOptions options_;
    // Group membership (GroupState::none: no group, partitions assigned by hand).
    GroupState group_state_ = GroupState::none;
    std::vector<std::string> subscription_;
    std::string member_id_;
    std::string leader_;
    std::int32_t generation_ = -1;
    std::vector<std::pair<std::string, std::string>> group_assignments_;  // leader's, to sync
    std::int64_t next_heartbeat_ms_ = 0;
    std::int64_t last_heartbeat_ok_ms_ = 0;
    std::int64_t next_auto_commit_ms_ = 0;
    std::vector<std::pair<Assigned*, std::int64_t>> in_slots_;  // a commit's two routes
    group::OffsetList to_daemon_;
    std::vector<std::unique_ptr<Assigned>> partitions_;
    Batch batch_;
    std::size_t next_partition_ = 0;
};

}  // namespace kbus
