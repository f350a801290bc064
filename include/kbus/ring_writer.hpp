// The producer side of a partition ring: lock-free claim, in-place write, commit.
//
// claim: one 16-byte compare-and-swap takes the next offset and the ring space together, after
//        checking the space against the producer limit (cached; re-read only when exceeded).
//        Halfway from the daemon's doorbell mark (LimitLine::doorbell_at) to the limit, the claim
//        rings its doorbell once: the daemon sleeps until producers need room rather than
//        watching the tail. (Consumers ring at the mark itself, and usually first: a woken
//        daemon runs on the ringer's core, better the consumer's, which has time to spare.)
//        An exclusive producer (take_exclusive) stores the pair instead: no locked instruction.
// commit: once the frame is written (record_frame.hpp), its commit word (offset + 1) is stored
//        last with release order; that store is what makes the record visible to readers. No
//        fence follows it unless a blocking consumer is assigned (after_publish): with an
//        exclusive producer and busy-polling consumers, the path has no locked instruction.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "kbus/control_descriptor.hpp"
#include "kbus/detail/fork_generation.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/detail/membarrier.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_ref.hpp"

namespace kbus::ring {

struct RingClaim {
    std::uint64_t offset = 0;
    std::uint64_t position = 0;  ///< of the record frame (after any padding)
    RecordHeader* record = nullptr;
    PayloadLayout layout{};
    std::uint64_t abort_pass = 0;  ///< the daemon's abort passes begun before the claim
};

/// A run of records claimed together: consecutive offsets from first_offset, frames back to back
/// from first_position.
struct RingRun {
    std::uint64_t first_offset = 0;
    std::uint64_t first_position = 0;
    std::uint64_t abort_pass = 0;  ///< the daemon's abort passes begun before the claim
};

/// owned: another producer owns the ring exclusively (ClaimLine); the claim was not made.
enum class ClaimStatus { claimed, full, too_large, deleted, owned };

class RingWriter {
  public:
    RingWriter() = default;
    /// doorbell: the bus's (the control segment's), rung at the daemon's mark; null: never.
    explicit RingWriter(RingRef ring, control::Doorbell* doorbell = nullptr) noexcept
        : ring_(ring), doorbell_(doorbell), fence_free_(detail::register_for_commit_barriers()) {
        refresh_limit();
    }

    /// Claims space for a record of this layout. Never blocks: `full` when the producer limit
    /// (the daemon's spill, or a consumer holding a batch) stops it.
    [[nodiscard]] ClaimStatus try_claim(const PayloadLayout& layout, RingClaim& out) noexcept {
        RingRun run;
        const ClaimStatus s = try_claim_run(layout.frame_length, 1, layout.frame_length, run);
        if (s == ClaimStatus::claimed) out = place(run, 0, 0, layout);
        return s;
    }

    /// Claims `count` consecutive offsets and `frame_bytes` of ring space in one atomic step, for
    /// records laid back to back (the longest frame being `max_frame`): the Disruptor's next(n).
    /// Each record is then placed with place() and published with publish().
    /// Inline everywhere: a send is mostly this, and a call would cost it a fifth.
    [[nodiscard, gnu::always_inline]] ClaimStatus try_claim_run(std::uint64_t frame_bytes,
                                                                std::uint32_t count,
                                                                std::uint64_t max_frame,
                                                                RingRun& out) noexcept {
        RingHeader& h = ring_.header();
        if (max_frame > h.info.max_record_bytes || frame_bytes > ring_.capacity() / 2)
            return ClaimStatus::too_large;
        // Relaxed: the state shares the claim pair's cache line, so this check costs nothing;
        // a producer racing a delete may still land one record in the dying ring.
        if (h.claim.state.load(std::memory_order_relaxed) != std::uint32_t(RingState::active))
            return ClaimStatus::deleted;
        // Relaxed, before the claim (whose compare-and-swap orders it first): no repair pass begun
        // after this load can have decided on a claim made after it (AbortLog).
        const std::uint64_t abort_pass = h.aborts.begun.load(std::memory_order_relaxed);
        // Relaxed: a forked child's own counter, bumped before it runs any of our code.
        if (exclusive_ && detail::fork_generation().load(std::memory_order_relaxed) !=
                              owner_generation_) [[unlikely]]
            exclusive_ = false;  // a child's copy: the parent owns the ring, not us
        detail::WordPair current = exclusive_ ? owned_ : load_claim_words(h);
        std::uint64_t skip;
        for (;;) {
            if ((current.first & exclusive_claim_bit) != 0 && !exclusive_)
                return ClaimStatus::owned;
            const std::uint64_t tail = current.second;
            const std::uint64_t room = ring_.capacity() - ring_.index_of(tail);
            skip = room < frame_bytes ? room : 0;  // pad to the lap's end rather than straddle it
            const std::uint64_t end = tail + skip + frame_bytes;
            if (end > threshold_) [[unlikely]]
                if (const ClaimStatus s = past_threshold(end); s != ClaimStatus::claimed) return s;
            const detail::WordPair desired{current.first + count, end};
            if (exclusive_) {  // the claim: one plain store of the pair (release)
                detail::store_pair(&h.claim.next_offset_and_tail, current, desired, pair_stores_);
                owned_ = desired;
                break;
            }
            if (detail::dwcas(&h.claim.next_offset_and_tail, current, desired)) break;
        }
        const std::uint64_t tail = current.second;
        const std::uint64_t first_offset = current.first & ~exclusive_claim_bit;
        prefetch_ahead(tail + skip + frame_bytes, frame_bytes);
        if (skip >= record_header_bytes) write_padding(tail, skip, first_offset);
        out.first_offset = first_offset;
        out.first_position = tail + skip;
        out.abort_pass = abort_pass;
        return ClaimStatus::claimed;
    }

    /// The claim of the record `index` of a run, `at` bytes into it.
    [[nodiscard]] RingClaim place(const RingRun& run, std::uint32_t index, std::uint64_t at,
                                  const PayloadLayout& layout) const noexcept {
        RingClaim c;
        c.offset = run.first_offset + index;
        c.position = run.first_position + at;
        c.record = ring_.record_at(c.position);
        c.layout = layout;
        c.abort_pass = run.abort_pass;
        // Relaxed: the record's commit (release) publishes the journal entry with the record.
        detail::atomic_store(*ring_.journal_slot(c.offset), c.position, std::memory_order_relaxed);
        return c;
    }

    [[nodiscard]] std::byte* payload(const RingClaim& c) const noexcept {
        return reinterpret_cast<std::byte*>(c.record);
    }

    /// Publishes the record: the commit word is stored last (release: the record's bytes are
    /// visible to whoever sees it), then wakes sleeping consumers. False if the daemon had
    /// already aborted the claim (it stayed uncommitted past kbus.claim.timeout.ms): the record
    /// is a gap, not sent.
    [[nodiscard]] bool commit(const RingClaim& c) noexcept {
        publish(c);
        after_publish();
        return !aborted_since(c.abort_pass, c.offset, c.offset + 1);
    }

    /// The commit store alone: a run's records are published one by one, then after_publish()
    /// once for all of them.
    void publish(const RingClaim& c) noexcept {
        c.record->commit.store(commit_word_for(c.offset), std::memory_order_release);
    }

    /// After the commit stores: wakes sleeping consumers. A blocking consumer assigned here
    /// (WakeLine::blocking_readers) may announce itself as we commit, so then the sleepers check
    /// must not be ordered before the commits (store-load): a full fence, paired with the
    /// sleeper's own between its announcement and its re-check. With none, no fence and no
    /// check: a consumer that marks the ring forces a barrier on every producer before it first
    /// sleeps (BlockingReaderMark), so a commit made while we still read zero is visible to it.
    /// (A full fence per record kept the record-by-record stream well below the machine's: it
    /// drains the store buffer while the consumer's reads wait on it.) Unregistered for
    /// membarrier (fence_free_ false), we fence every time, as the repairer needs (aborted_since).
    void after_publish() noexcept {
        WakeLine& w = ring_.header().wake;
        // Relaxed: a consumer's mark is made visible to us by its barrier (see above).
        if (fence_free_ && w.blocking_readers.load(std::memory_order_relaxed) == 0) {
            std::atomic_signal_fence(std::memory_order_seq_cst);  // the compiler keeps the order
            return;
        }
        std::atomic_thread_fence(std::memory_order_seq_cst);  // commits before the loads below
        wake_sleepers();
    }

    /// Whether a repair pass begun after `pass` aborted an offset in [first, end). Called after
    /// after_publish(). Either our commits were visible before the repairer looked at them, or
    /// this load sees its pass: the repairer bumps `begun`, then forces a barrier on every
    /// registered producer (or, unregistered, we fenced in after_publish), then looks. Costs one
    /// load of a line only the daemon writes, and that rarely.
    [[nodiscard]] bool aborted_since(std::uint64_t pass, std::uint64_t first,
                                     std::uint64_t end) const noexcept {
        // Relaxed: the repairer's barrier (or our fence) does the ordering.
        if (ring_.header().aborts.begun.load(std::memory_order_relaxed) == pass) return false;
        return aborted_in_log(pass, first, end);
    }

    /// For a producer that found the ring full: rings the daemon's doorbell and sleeps until it
    /// raises the limit (or `timeout`); returns at once if the limit moved since our claim saw it.
    void wait_for_room(std::chrono::nanoseconds timeout) noexcept {
        LimitLine& l = ring_.header().limit;
        const std::uint32_t seq = l.limit_seq.load(std::memory_order_acquire);
        // Seq_cst, both: our announcement is ordered before the re-check of the limit
        // (store-load), pairing with the daemon's store of a new limit before its look at
        // blocked_producers: either we see its grant here, or it sees us and bumps limit_seq.
        l.blocked_producers.fetch_add(1, std::memory_order_seq_cst);
        if (l.producer_limit.load(std::memory_order_seq_cst) == cached_limit_) {
            if (doorbell_ != nullptr) doorbell_->ring();
            detail::futex_wait(&l.limit_seq, seq, timeout);
        }
        l.blocked_producers.fetch_sub(1, std::memory_order_relaxed);
    }

    /// One wake per sleep: the commit that takes wake_wanted makes the system call; the commits
    /// after it, while the woken consumers are still getting a core, find it clear and go on.
    void wake_sleepers() noexcept {
        WakeLine& w = ring_.header().wake;
        // Relaxed: after_publish's fence orders the look after the commits; acq_rel on the take,
        // so that exactly one producer wakes for each announcement.
        if (w.wake_wanted.load(std::memory_order_relaxed) != 0 &&
            w.wake_wanted.exchange(0, std::memory_order_acq_rel) != 0) {
            w.wake_seq.fetch_add(1, std::memory_order_release);
            detail::futex_wake_all(&w.wake_seq);
        }
    }

    [[nodiscard]] const RingRef& ring() const noexcept { return ring_; }

    /// Makes this writer the ring's only producer: sets the ownership bit (adopting it if a dead
    /// owner left it set) and claims with plain stores from then on. Only while holding the
    /// ring's exclusive lease (ExclusiveLease), which keeps every other owner out.
    void take_exclusive() noexcept {
        ClaimLine& c = ring_.header().claim;
        // Relaxed: a name for other producers' error messages, stored before the bit so that
        // whoever sees the bit set by us reads our pid (the lease keeps other owners out).
        c.exclusive_owner_pid.store(std::int32_t(::getpid()), std::memory_order_relaxed);
        owner_generation_ = detail::watch_forks();
        detail::WordPair current = detail::dwload(&c.next_offset_and_tail);
        detail::WordPair owned{};
        do
            owned = {current.first | exclusive_claim_bit, current.second};
        while (!detail::dwcas(&c.next_offset_and_tail, current, owned));
        owned_ = owned;
        exclusive_ = true;
        pair_stores_ = detail::has_atomic_pair_stores();
    }

    /// Hands the ring back to every producer (before the lease is released).
    /// Not in a forked child: the ring stays its parent's.
    void give_up_exclusive() noexcept {
        if (!exclusive_) return;
        exclusive_ = false;
        // Relaxed: as in try_claim_run.
        if (detail::fork_generation().load(std::memory_order_relaxed) == owner_generation_)
            clear_ownership(ring_.header());
    }
    [[nodiscard]] bool exclusive() const noexcept { return exclusive_; }

    /// Clears the ownership bit. For an owner letting go, or for whoever holds the lease of a
    /// ring whose owner died (the bit stays set after it: nobody else cleared it).
    static void clear_ownership(RingHeader& h) noexcept {
        detail::WordPair current = detail::dwload(&h.claim.next_offset_and_tail);
        while ((current.first & exclusive_claim_bit) != 0 &&
               !detail::dwcas(&h.claim.next_offset_and_tail, current,
                              {current.first & ~exclusive_claim_bit, current.second})) {
        }
    }

  private:
    /// Both words as they are, the ownership bit included (relaxed: the compare-and-swap checks).
    [[nodiscard]] static detail::WordPair load_claim_words(const RingHeader& h) noexcept {
        return {detail::atomic_load(h.claim.next_offset_and_tail.first, std::memory_order_relaxed),
                load_tail(h)};
    }

    /// Re-reads the limit and the doorbell mark; the claim path then checks only `threshold_`:
    /// halfway from the mark to the limit while we have not rung for that mark, else the limit.
    void refresh_limit() noexcept {
        const LimitLine& l = ring_.header().limit;
        // Acquire: pairs with the daemon's release store of a new limit.
        cached_limit_ = l.producer_limit.load(std::memory_order_acquire);
        // Relaxed: the daemon stores the mark before the limit we just loaded.
        mark_ = l.doorbell_at.load(std::memory_order_relaxed);
        threshold_ = (doorbell_ != nullptr && mark_ != 0 && mark_ != rung_mark_)
                         ? producer_doorbell_point(mark_, cached_limit_)
                         : cached_limit_;
    }

    /// A claim ending past the threshold: the limit is read again. claimed: the claim may go
    /// on (ringing the doorbell first, once per mark); else full, or deleted.
    [[gnu::noinline]] ClaimStatus past_threshold(std::uint64_t end) noexcept {
        refresh_limit();
        if (end > cached_limit_) {
            // Relaxed: as in try_claim_run.
            if (ring_.header().claim.state.load(std::memory_order_relaxed) !=
                std::uint32_t(RingState::active))
                return ClaimStatus::deleted;
            return ClaimStatus::full;
        }
        if (end > threshold_) ring_doorbell();
        return ClaimStatus::claimed;
    }

    /// Once per mark, from the slow path: the daemon wakes to grant more room before we need it.
    [[gnu::noinline]] void ring_doorbell() noexcept {
        rung_mark_ = mark_;
        threshold_ = cached_limit_;
        doorbell_->ring();
    }

    /// The slow path of aborted_since: waits for the passes under way to finish, then looks for
    /// the range among those they logged. With more ranges logged since the claim than the log
    /// keeps, the answer is "aborted": never a success for a record that may be a gap.
    [[nodiscard]] bool aborted_in_log(std::uint64_t pass, std::uint64_t first,
                                      std::uint64_t end) const noexcept {
        const AbortLog& log = ring_.header().aborts;
        // Acquire, both: a pass's ranges are published by its store of `done`.
        const std::uint64_t begun = log.begun.load(std::memory_order_acquire);
        for (std::uint32_t spins = 0; log.done.load(std::memory_order_acquire) < begun; ++spins)
            if (spins > (1u << 24)) return true;  // a repairer that died mid-pass: assume the worst
        std::uint32_t newer = 0;
        for (const AbortedRange& r : log.ranges) {
            // Relaxed: published by `done` above.
            if (r.pass.load(std::memory_order_relaxed) <= pass) continue;
            ++newer;
            if (r.first_offset.load(std::memory_order_relaxed) < end &&
                first < r.end_offset.load(std::memory_order_relaxed))
                return true;
        }
        return newer == aborted_range_count;
    }

    /// Each line a record lands on was last touched a lap ago: often a miss, to memory or to a
    /// reader's core. Stores alone would hide that, but the next claim's locked compare-and-swap
    /// waits for every earlier store to complete. So ask for the lines ahead of the tail, for
    /// writing, at least `distance` ahead (2 to 4 KiB: a few small records, or the head of the
    /// next large one, whose payload a zero-copy producer may never touch). No reader is on them:
    /// readers follow behind the tail. Inline, and mostly one compare: the window is refilled
    /// half a window at a time (prefetch_window), not a line or two at every claim.
    [[gnu::always_inline]] void prefetch_ahead(std::uint64_t end, std::uint64_t claimed) noexcept {
        const std::uint64_t distance =
            std::clamp<std::uint64_t>(claimed, prefetch_min, prefetch_max);
        if (end + distance <= prefetched_to_) [[likely]]
            return;
        prefetch_window(end, distance);
    }

    [[gnu::noinline]] void prefetch_window(std::uint64_t end, std::uint64_t distance) noexcept {
        constexpr std::uint64_t line = 64, most = prefetch_max + prefetch_min / 2;
        if (ring_.capacity() < 4 * prefetch_max) {  // a small ring: the lines are in cache anyway
            prefetched_to_ = ~std::uint64_t(0);
            return;
        }
        const std::uint64_t to = (end + distance + prefetch_min / 2) & ~(line - 1);
        std::uint64_t from = std::max(prefetched_to_, (end & ~(line - 1)) + line);
        if (to - from > most) from = to - most;  // (to > from: end + distance > prefetched_to_)
        for (std::uint64_t at = from; at < to; at += line)
            __builtin_prefetch(ring_.at(at), 1 /* write */, 3);
        prefetched_to_ = to;
    }

    void write_padding(std::uint64_t position, std::uint64_t length,
                       std::uint64_t offset) noexcept {
        RecordHeader* p = ring_.record_at(position);
        write_marker_frame(p, position, length, RecordType::padding);
        // Release: the padding's fields are visible to whoever sees its commit word.
        p->commit.store(commit_word_for(offset), std::memory_order_release);
    }

    RingRef ring_;
    control::Doorbell* doorbell_ = nullptr;
    std::uint64_t cached_limit_ = 0;   ///< our copy of the daemon's producer limit
    std::uint64_t threshold_ = 0;      ///< a claim ending past it takes the slow path
    std::uint64_t mark_ = 0;           ///< the daemon's doorbell mark, as last read
    std::uint64_t rung_mark_ = 0;      ///< the doorbell mark we rang last
    std::uint64_t prefetched_to_ = 0;  ///< prefetched for writing up to here
    static constexpr std::uint64_t prefetch_min = 2048, prefetch_max = 4096;  ///< bytes ahead
    bool fence_free_ = false;             ///< registered for the repairer's barriers: no fence
    bool exclusive_ = false;              ///< the ring's only producer: claims are plain stores
    bool pair_stores_ = false;            ///< detail::has_atomic_pair_stores(), once exclusive
    detail::WordPair owned_{};            ///< exclusive: the claim pair as we last stored it
    std::uint32_t owner_generation_ = 0;  ///< detail::fork_generation() when we took the ring
};

}  // namespace kbus::ring
