// When a partition's spill next needs a look, so the spill thread can sleep until then instead of
// napping a millisecond at a time.
//
// An idle daemon must not wake a thousand times a second: it shares its cores with clients that
// busy-poll, and each wake-up is a preemption in their tail. So each pass asks every partition
// for its next deadline and the thread sleeps until the earliest (or until the doorbell rings:
// a blocked producer, a flush request). A partition's deadline is the soonest of:
//   - its linger: records wait at most that long (a batch's linger, or ring-only's stride);
//   - half the time the producers need, at the rate the tail moved since the last look, to use up
//     the room they are granted or to reach the size that makes a batch due: the spill looks
//     again before they would have to wait for it. Not ring-only: there the spill writes
//     nothing, and producers ring its doorbell when they cross the mark it set with their limit
//     (LimitLine::doorbell_at), so a busy ring costs the daemon's cores a wake-up per few
//     hundred KiB of records rather than one a millisecond;
//   - a stuck head (the oldest claim not committed yet): looked at again after `retry_ns`, so a
//     dead producer's claim is observed and repaired within its timeout.
// An idle partition (nothing pending, tail still) has no deadline of its own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace kbus::spill {

inline constexpr std::uint64_t no_deadline = std::numeric_limits<std::uint64_t>::max();

// What a partition looks like at the end of a pass, in ring bytes.
struct SpillSnapshot {
    std::uint64_t tail = 0;          // bytes claimed so far
    std::uint64_t pending = 0;       // claimed past the spill cursor
    std::uint64_t granted_room = 0;  // producers may claim this much more before they wait
    std::uint64_t due_at_bytes = 0;  // pending this large makes a step due at once
    std::uint64_t linger_ns = 0;     // pending this old makes a step due
    std::uint64_t pending_since_ns = 0;
    bool paced_by_rate = true;  // false: the producers' doorbell says when room runs short
};

class SpillPacer {
  public:
    explicit SpillPacer(std::uint64_t retry_ns) noexcept : retry_ns_(retry_ns) {}

    // The next deadline (monotonic ns), or no_deadline. Called once per pass without progress.
    [[nodiscard]] std::uint64_t next_due_ns(const SpillSnapshot& s, std::uint64_t now_ns) noexcept {
        observe_rate(s.tail, now_ns);
        std::uint64_t due = no_deadline;
        if (s.pending > 0) {
            const std::uint64_t linger_end = s.pending_since_ns + s.linger_ns;
            // Past its linger and still pending: the head is claimed but not committed.
            due = linger_end > now_ns ? linger_end : now_ns + retry_ns_;
        }
        if (moved_bytes_ > 0 && s.paced_by_rate) {
            std::uint64_t room = s.granted_room;
            if (s.pending < s.due_at_bytes) room = std::min(room, s.due_at_bytes - s.pending);
            // room / rate / 2, in integers (exact, and no overflow for any ring or interval).
            const unsigned __int128 wait =
                (unsigned __int128)room * moved_over_ns_ / moved_bytes_ / 2;
            due = std::min<unsigned __int128>(
                due, now_ns + std::min<unsigned __int128>(wait, no_deadline - now_ns));
        }
        return due;
    }

  private:
    // The tail's rate over the last interval: a burst after a quiet spell is seen at the next
    // look, and a stream that stops costs no more wake-ups after one quiet interval.
    void observe_rate(std::uint64_t tail, std::uint64_t now_ns) noexcept {
        if (seen_ns_ != 0 && now_ns > seen_ns_ && tail >= seen_tail_) {
            moved_bytes_ = tail - seen_tail_;
            moved_over_ns_ = now_ns - seen_ns_;
        }
        seen_tail_ = tail;
        seen_ns_ = now_ns;
    }

    std::uint64_t retry_ns_;
    std::uint64_t seen_tail_ = 0;
    std::uint64_t seen_ns_ = 0;
    std::uint64_t moved_bytes_ = 0;    // the rate: this many bytes claimed...
    std::uint64_t moved_over_ns_ = 0;  // ...in this long
};

}  // namespace kbus::spill
