// kbus::Consumer: reads partitions in place. poll() returns a Batch of Message views into shared
// memory, valid until the next poll. While the consumer holds a batch, producers respect it (it
// is tethered through a reader slot), but only for consumer.hold.timeout.ms: a consumer that
// holds longer is detached, and its next poll throws OffsetOutOfRange (batch_invalidated) with
// the offset to resume from. It never hands out overwritten bytes.
//
// Behind the ring, the log: a consumer that starts (or seeks, or falls) behind what the ring
// still holds reads the partition's log segments (Kafka's batches, same offsets, keys, values,
// headers and timestamps) and moves back onto the ring when it catches up. It holds producers
// back not at all meanwhile. Every batch it reads there is checked by its CRC-32C; records lost
// to a corrupt batch (or missing from both the log and the ring) make poll() throw
// OffsetOutOfRange with ErrorCode::corrupt_record, naming the offsets, once: the position has
// already moved to resume_offset(), so the next poll() goes on past the hole.
//
// The parts: PartitionSource (one partition, ring or log), GroupMember (Kafka's group protocol
// and commits); this facade's poll() drives the group, gathers from the sources, and waits.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kbus/client.hpp"
#include "kbus/consumer_group_metadata.hpp"
#include "kbus/consumer_options.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/detail/fetch_fill.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/detail/scan_plan.hpp"
#include "kbus/detail/wait_set.hpp"
#include "kbus/group_member.hpp"
#include "kbus/message.hpp"
#include "kbus/partition_source.hpp"

namespace kbus {

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

class Consumer final : private MemberHost {
  public:
    explicit Consumer(Client& client, ConsumerOptions options = {})
        : client_(&client),
          options_(std::move(options)),
          member_(client, *this, options_),
          fill_(options_) {}
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;
    ~Consumer() override {
        try {
            close();
        } catch (...) {  // the daemon notices the closed connection and cleans up anyway
            unassign();
        }
    }

    /// Adds one partition, starting at `from`.
    void assign(std::string_view topic, std::int32_t partition, OffsetSpec from) override {
        auto handle = client_->topic(topic);
        if (partition < 0 || partition >= handle->metadata.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(partition) + " is out of range for topic '" +
                            std::string(topic) + "' (" +
                            std::to_string(handle->metadata.partitions) + " partitions)");
        if (source(topic, partition) != nullptr) return seek(topic, partition, from);
        const bool may_sleep = options_.wait == WaitMode::blocking;
        auto p = std::make_unique<PartitionSource>(
            *client_, std::string(topic), partition, handle, options_.check_crcs, may_sleep,
            options_.isolation_level == IsolationLevel::read_committed);
        marks_unbarriered_ = marks_unbarriered_ || may_sleep;
        p->attach(from);
        fill_.assigned_ring(p->ring().capacity());
        sources_.push_back(std::move(p));
        scan_.resize(sources_.size());
    }

    /// Without a group_id: adds every partition of the topic, from `from`. With one: joins the
    /// group for this topic (as subscribe(topics)); where to start then comes from the group's
    /// committed offsets, else auto_offset_reset.
    void subscribe(std::string_view topic, OffsetSpec from = OffsetSpec::beginning()) {
        if (!options_.group_id.empty())
            return subscribe(std::vector<std::string>{std::string(topic)});
        const std::int32_t n = client_->topic(topic)->metadata.partitions;
        for (std::int32_t p = 0; p < n; ++p)
            assign(topic, p, from);
    }

    /// Joins options.group_id for these topics. The partitions come with the group's assignment,
    /// during poll(): the group's protocol (join, sync, heartbeats, rebalances) runs there.
    void subscribe(const std::vector<std::string>& topics) { member_.subscribe(topics); }

    /// Commits the position of every assigned partition (the offset after what poll returned),
    /// and waits for the daemon. Throws Error (illegal_generation, unknown_member, ...) if the
    /// group refused: then a rebalance has moved the partitions on (Kafka's CommitFailed).
    /// A member's commit of its own partitions is a compare-and-swap in the partition's ring (no
    /// system call, no round trip); anything else goes to the daemon.
    void commit_sync() { member_.commit_positions(false); }
    void commit_sync(const group::OffsetList& offsets) { member_.commit_list(offsets, false); }
    /// Returns at once; a refusal by the daemon shows in take_async_commit_error(). (A commit in
    /// the ring is as fast either way, and a fenced one throws here too.)
    void commit_async() { member_.commit_positions(true); }
    void commit_async(const group::OffsetList& offsets) { member_.commit_list(offsets, true); }
    [[nodiscard]] std::optional<Error> take_async_commit_error() {
        return client_->take_async_error();
    }
    /// The group's committed offset of a partition (the next offset to consume), if any.
    [[nodiscard]] std::optional<std::int64_t> committed(std::string_view topic,
                                                        std::int32_t partition) {
        if (options_.group_id.empty())
            throw Error(ErrorCode::invalid_group, "this consumer has no group_id");
        for (const auto& [p, offset] :
             group::committed(*client_, options_.group_id, std::string(topic)))
            if (p == partition) return offset;
        return std::nullopt;
    }

    /// The partitions this consumer reads now.
    [[nodiscard]] std::vector<group::TopicPartition> assignment() const {
        std::vector<group::TopicPartition> out;
        for (const auto& p : sources_)
            out.push_back({p->topic(), p->partition()});
        return out;
    }
    /// True once the group has given this consumer its partitions (and until a rebalance).
    [[nodiscard]] bool in_group() const noexcept { return member_.stable(); }
    [[nodiscard]] std::int32_t generation() const noexcept { return member_.generation(); }
    [[nodiscard]] const std::string& member_id() const noexcept { return member_.member_id(); }
    /// For Producer::send_offsets_to_transaction (Kafka's groupMetadata()).
    [[nodiscard]] ConsumerGroupMetadata group_metadata() const {
        return {options_.group_id, member_.generation(), member_.member_id()};
    }

    /// Leaves the group after committing (with enable_auto_commit), releases every partition.
    void close() {
        member_.close();
        unassign();
    }

    void unassign() noexcept override {
        for (auto& p : sources_)
            p->detach();
        sources_.clear();
        held_.clear();
        scan_.clear();
        batch_.messages_.clear();
        fill_.unassigned_all();
    }

    void seek(std::string_view topic, std::int32_t partition, OffsetSpec to) {
        PartitionSource* p = source(topic, partition);
        if (p == nullptr)
            throw Error(ErrorCode::invalid_argument,
                        "seek on a partition that is not assigned: " + std::string(topic) + "/" +
                            std::to_string(partition));
        batch_.messages_.clear();
        p->attach(to);
    }

    /// Next offset this consumer will read from a partition.
    [[nodiscard]] std::int64_t position(std::string_view topic, std::int32_t partition) const {
        return std::int64_t(assigned(topic, partition).position());
    }

    /// The next offset producers will write (claimed so far) on a partition.
    [[nodiscard]] std::int64_t high_watermark(std::string_view topic,
                                              std::int32_t partition) const {
        return std::int64_t(assigned(topic, partition).high_watermark());
    }

    /// True when every assigned partition has been read up to its high watermark (at
    /// read_committed: or up to a transaction still open, its last stable offset).
    [[nodiscard]] bool at_end() const noexcept {
        return std::all_of(sources_.begin(), sources_.end(),
                           [](const auto& p) { return p->at_end(); });
    }

    /// Returns the records available now, or waits for some, at most `timeout`. The previous
    /// batch's views become invalid here.
    const Batch& poll(std::chrono::nanoseconds timeout) {
        batch_.messages_.clear();
        try {
            check_attached();  // a held batch that was invalidated is reported first
            for (PartitionSource* p : held_)
                p->release_held();
            held_.clear();
            fill_.start();
            if (!member_.active()) {  // records waiting: no clock read at all
                gather();
                if (fill_.ready(batch_.size())) {
                    check_attached();
                    return batch_;
                }
            }
            wait_for_records(timeout);
            check_attached();
        } catch (const OffsetOutOfRange& e) {
            rewind_unreturned(&e);
            throw;
        } catch (...) {
            rewind_unreturned(nullptr);
            throw;
        }
        return batch_;
    }

    [[nodiscard]] std::size_t assignment_size() const noexcept { return sources_.size(); }

  private:
    /// MemberHost: what the group member asks of us.
    std::span<const std::unique_ptr<PartitionSource>> sources() override { return sources_; }
    PartitionSource* source(std::string_view topic, std::int32_t partition) override {
        for (const auto& p : sources_)
            if (p->partition() == partition && p->topic() == topic) return p.get();
        return nullptr;
    }
    void partitions_assigned(const std::vector<group::TopicPartition>& parts) override {
        if (options_.rebalance_listener != nullptr)
            options_.rebalance_listener->on_partitions_assigned(*this, parts);
    }
    void partitions_revoked(const std::vector<group::TopicPartition>& parts,
                            bool still_member) override {
        if (options_.rebalance_listener == nullptr) return;
        if (still_member)
            options_.rebalance_listener->on_partitions_revoked(*this, parts);
        else
            options_.rebalance_listener->on_partitions_lost(*this, parts);
    }

    const PartitionSource& assigned(std::string_view topic, std::int32_t partition) const {
        for (const auto& p : sources_)
            if (p->partition() == partition && p->topic() == topic) return *p;
        throw Error(ErrorCode::invalid_argument, "partition not assigned");
    }

    /// A poll that throws returns none of what it gathered: each other partition it gathered from
    /// goes back to its first record of the batch (the one named by `failed` resumes where its
    /// error says). Partitions held from the previous batch (a throw before this poll released
    /// them) stay held, for the next poll to release. Best effort: a partition that cannot be
    /// moved back keeps its error for later.
    void rewind_unreturned(const OffsetOutOfRange* failed) noexcept {
        std::vector<std::pair<PartitionSource*, std::int64_t>> back;
        std::vector<PartitionSource*> still_held;
        for (PartitionSource* p : held_) {
            const auto first = std::find_if(batch_.begin(), batch_.end(), [&](const Message& m) {
                return m.partition() == p->partition() && &m.topic() == &p->topic();
            });
            const bool named = failed != nullptr && failed->partition() == p->partition() &&
                               failed->topic() == p->topic();
            if (named || first == batch_.end())
                still_held.push_back(p);
            else if (std::none_of(back.begin(), back.end(),
                                  [&](const auto& b) { return b.first == p; }))
                back.emplace_back(p, first->offset());
        }
        batch_.messages_.clear();
        held_ = std::move(still_held);
        for (const auto& [p, offset] : back) {
            try {
                p->attach(OffsetSpec::at(offset));  // no longer holding: nothing to release
            } catch (...) {  // the next poll reports what stops this partition
            }
        }
    }

    /// Only the sources whose records the batch holds can be invalidated under it; the others
    /// find a detach themselves when they next read (PartitionSource::gather).
    void check_attached() {
        for (PartitionSource* p : held_)
            p->check_attached();
    }

    /// One pass over the partitions (all of them, or the active ones and a slice of the rest:
    /// detail::ScanPlan). Sources that give records are held until the next poll.
    void gather(bool everything = false) {
        scan_.pass(
            everything,
            [this](std::size_t i) {
                PartitionSource& source = *sources_[i];
                const std::size_t before = batch_.size();
                source.gather(batch_.messages_, options_.max_poll_records);
                if (batch_.size() == before) return std::size_t(0);
                if (held_.empty() || held_.back() != &source) held_.push_back(&source);
                if (fill_.on()) fill_.count(batch_, before, source.drained_this_poll());
                return batch_.size() - before;
            },
            [this] { return batch_.size() >= options_.max_poll_records; });
    }

    /// Drives the group, gathers, and waits until records come or the timeout passes: spinning,
    /// or (WaitMode::blocking, after spin_before_sleep) asleep until a producer commits.
    ///
    /// Where a round is cheap (a spinning wait over at most `cheap_round_sources` partitions), the
    /// clock is read once per `rounds_per_clock_read` rounds: a read costs ~30 ns in a VM
    /// (kvm-clock), as much as such a round's gather, and a consumer caught up with a stream spins
    /// a round or two for every record. Outside a group the first read waits for as many rounds
    /// too, so a poll that finds its record a few rounds in never reads the clock; its timeout
    /// then starts a microsecond or so late. Wider assignments read the clock every round, from
    /// the start, as their gathers cost more than the read.
    void wait_for_records(std::chrono::nanoseconds timeout) {
        const auto budget = static_cast<std::uint64_t>(timeout.count() < 0 ? 0 : timeout.count());
        if (budget == 0) {  // one more look, no clock, no wait
            if (!member_.active() || member_.drive(detail::monotonic_ns())) gather();
            return;
        }
        const auto spin = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_.spin_before_sleep)
                .count());
        // Not a yielding consumer's: each of its rounds may give the core away for a time slice,
        // so its clock is read every round and its timeout kept (a review saw poll(1 ms) take
        // 64 ms beside a busy process, with the clock read once per 16 yields).
        const bool cheap_rounds = options_.wait != WaitMode::yielding &&
                                  (options_.wait == WaitMode::busy_poll || spin > 0) &&
                                  sources_.size() <= cheap_round_sources;
        const bool filling = fill_.on();  // rounds are paced: a clock read is cheap beside one
        const std::uint64_t per_read = cheap_rounds && !filling ? rounds_per_clock_read : 1;
        std::uint64_t start =
            cheap_rounds && !member_.active() ? 0 : detail::monotonic_ns();  // 0: not read yet
        for (std::uint64_t now = start, round = 1;; ++round) {
            const std::size_t had = batch_.size();  // > 0: filling up to fetch_min_bytes
            if (had > 0 && member_.active() && member_.due(now)) return;  // the group's turn
            const bool reading = had > 0 || !member_.active() || member_.drive(now);
            if (reading) gather();
            if (fill_.ready(batch_.size())) return;
            if (reading && round % per_read != 0) {
                idle();
                continue;
            }
            now = detail::monotonic_ns();
            if (start == 0) start = now;
            const std::uint64_t elapsed = now - start;
            if (elapsed >= budget) return;
            std::uint64_t nap = budget - elapsed;
            if (!batch_.empty()) {  // filling up to fetch_min_bytes, at most fetch_max_wait
                if (elapsed >= fill_.max_wait_ns()) return;
                nap = std::min(nap, fill_.max_wait_ns() - elapsed);
            }
            if (member_.active())  // wake for the group's heartbeats
                nap = std::min<std::uint64_t>(nap, reading ? member_.heartbeat_ns() : 2'000'000);
            if (!reading)
                std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
            else if (filling && !batch_.empty() && batch_.size() == had)
                fill_.pace(now, now - start, nap);  // records are coming: no wake per commit
            else if (options_.wait == WaitMode::blocking && elapsed >= spin)
                sleep_until_commit(std::chrono::nanoseconds(nap));
            else
                idle();
        }
    }

    /// Between two looks that found nothing: a pause, or the core given away (yielding).
    void idle() const noexcept {
        if (options_.wait == WaitMode::yielding)
            (void)::sched_yield();
        else
            detail::cpu_relax();
    }

    static constexpr std::uint64_t rounds_per_clock_read = 16;
    static constexpr std::size_t cheap_round_sources = 8;

    /// Announces itself as a sleeper on the assigned rings (at most 128 of them, the ones that
    /// gave records most recently: detail::choose_wait_set), re-checks, then sleeps until a
    /// producer's commit bumps a wake word (or the timeout; 1 ms at most with rings it could not
    /// wait on).
    void sleep_until_commit(std::chrono::nanoseconds timeout) {
        if (marks_unbarriered_) {  // commits made as we marked rings are visible after it
            BlockingReaderMark::barrier_before_sleeping();
            marks_unbarriered_ = false;
        }
        detail::choose_wait_set(scan_.last_active(), detail::futex_waitv_max, waiting_);
        const std::size_t n = waiting_.size();
        detail::FutexWaitvEntry waits[detail::futex_waitv_max];
        for (std::size_t i = 0; i < n; ++i) {
            ring::WakeLine& w = sources_[waiting_[i]]->wake_line();
            waits[i] = {w.wake_seq.load(std::memory_order_acquire),
                        reinterpret_cast<std::uint64_t>(&w.wake_seq), 2 /* FUTEX2_SIZE_U32 */, 0};
            // Seq_cst, with the fence below: the announcement is ordered before the re-check.
            // Stored even if already set: a producer's exchange must see this store (a later
            // one in its order), which a load of another sleeper's 1 would not promise.
            w.sleepers.fetch_add(1, std::memory_order_seq_cst);
            w.wake_wanted.store(1, std::memory_order_seq_cst);
        }
        // Seq_cst: our sleeper announcement is ordered before the re-check (store-load), pairing
        // with the producer's fence between its commit and its sleepers check (it fences while
        // our mark is on the ring: BlockingReaderMark).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::size_t had = batch_.size();  // filling: part of a batch may be there already
        try {
            gather(true);  // may throw (a loss on disk): the announcements must not outlive us
        } catch (...) {
            stop_sleeping(n);
            throw;
        }
        if (batch_.size() == had && n > 0) {
            const auto cap = std::min(
                timeout, detail::sleep_cap(sources_.size(), n, std::chrono::milliseconds(100),
                                           std::chrono::milliseconds(1)));
            if (!detail::futex_waitv(waits, unsigned(n), cap)) {
                ring::WakeLine& w = sources_[waiting_[0]]->wake_line();
                detail::futex_wait(
                    &w.wake_seq, std::uint32_t(waits[0].val),
                    std::min<std::chrono::nanoseconds>(cap, std::chrono::milliseconds(1)));
            }
        }
        stop_sleeping(n);
        scan_.read_everything_next();  // what woke us may be a partition out of the hot set
    }

    void stop_sleeping(std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i)
            // Relaxed: leaving costs producers at most one needless wake-up.
            sources_[waiting_[i]]->wake_line().sleepers.fetch_sub(1, std::memory_order_relaxed);
    }

    Client* client_;
    ConsumerOptions options_;
    GroupMember member_;
    std::vector<std::unique_ptr<PartitionSource>> sources_;
    detail::ScanPlan scan_;               ///< which sources a gather pass reads
    std::vector<PartitionSource*> held_;  ///< the sources the current batch's records are from
    std::vector<std::size_t> waiting_;    ///< the sources it sleeps on
    Batch batch_;
    bool marks_unbarriered_ = false;  ///< rings marked since the last barrier (blocking mode)
    detail::FetchFill fill_;          ///< this poll's fill up to fetch.min.bytes
};

}  // namespace kbus
