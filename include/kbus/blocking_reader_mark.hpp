// A blocking consumer's mark on a partition ring (WakeLine::blocking_readers): while a ring has
// one, its producers fence each commit before they look for sleepers; without one they skip both
// (RingWriter::after_publish).
//
// A producer may have read the count as zero just before the mark, and skipped the fence for a
// commit our first look misses. So before the consumer first sleeps after marking rings, it
// forces a barrier on every producer (barrier_before_sleeping): each such commit is visible
// once that returns. Marks are made per ring, the barrier once for all of them.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "kbus/detail/membarrier.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus {

class BlockingReaderMark {
  public:
    BlockingReaderMark() = default;
    explicit BlockingReaderMark(ring::WakeLine& wake) noexcept : wake_(&wake) {
        // Seq_cst: visible before the barrier that makes producers see it.
        wake.blocking_readers.fetch_add(1, std::memory_order_seq_cst);
    }
    BlockingReaderMark(BlockingReaderMark&& other) noexcept
        : wake_(std::exchange(other.wake_, nullptr)) {}
    BlockingReaderMark& operator=(BlockingReaderMark&&) = delete;
    BlockingReaderMark(const BlockingReaderMark&) = delete;
    BlockingReaderMark& operator=(const BlockingReaderMark&) = delete;
    ~BlockingReaderMark() {
        // Relaxed: producers that still see it only fence once more than they need.
        if (wake_ != nullptr) wake_->blocking_readers.fetch_sub(1, std::memory_order_relaxed);
    }

    /// After new marks, before the first sleep on them. Without membarrier (a seccomp filter),
    /// a pause instead: far longer than a store buffer takes to drain.
    static void barrier_before_sleeping() noexcept {
        if (!detail::barrier_on_all_producers())
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }

  private:
    ring::WakeLine* wake_ = nullptr;
};

}  // namespace kbus
