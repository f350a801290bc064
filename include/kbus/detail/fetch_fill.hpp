// A poll's fill up to fetch.min.bytes (ConsumerOptions::fetch_min_bytes, fetch_max_wait): what the
// batch holds so far, whether it may go out, and how long to wait before the next look.
//
// A consumer caught up with a fast stream looks at the very cache line its producer writes next,
// once a record; each look takes that line back (and the core's prefetcher the ones after it),
// and a producer's locked claim then waits for them. Filling, a consumer looks again only after
// about as long as the records it still wants take to come, at the rate they came since the poll
// began: a few long waits cost the producer less than many short ones.
//
// The target is capped at a quarter of the smallest assigned ring: the records a poll holds hold
// producers back, and it must not wait for records that cannot come.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <thread>

#include "kbus/consumer_options.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/message.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::detail {

class FetchFill {
  public:
    explicit FetchFill(const ConsumerOptions& options) noexcept : options_(&options) {}

    /// Whether polls fill at all (fetch.min.bytes above 1).
    [[nodiscard]] bool on() const noexcept { return options_->fetch_min_bytes > 1; }

    /// A new poll: nothing counted yet.
    void start() noexcept {
        bytes_ = 0;
        cut_short_ = false;
    }

    /// The smallest ring assigned changed (a partition came, or all went).
    void assigned_ring(std::uint64_t capacity) noexcept {
        smallest_ring_ = std::min(smallest_ring_, capacity);
    }
    void unassigned_all() noexcept { smallest_ring_ = no_ring; }

    /// Records a pass added to the batch (a record counts its key, value and headers, plus its
    /// header in the ring); `drained`: their partition, read from disk, can give no more this poll.
    template <class Messages>
    void count(const Messages& batch, std::size_t from, bool drained) noexcept {
        for (std::size_t i = from; i < batch.size(); ++i) {
            const Message& m = batch[i];
            bytes_ +=
                ring::record_header_bytes + m.key().size() + m.value().size() + m.header_bytes();
        }
        cut_short_ = cut_short_ || drained;
    }

    /// Whether a batch of `records` may go out (fetch_max_wait is the caller's to watch).
    [[nodiscard]] bool ready(std::size_t records) const noexcept {
        return records > 0 &&
               (!on() || bytes_ >= target() || cut_short_ || records >= options_->max_poll_records);
    }

    [[nodiscard]] std::uint64_t max_wait_ns() const noexcept {
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_->fetch_max_wait).count();
        return std::uint64_t(std::max<std::int64_t>(ns, 0));  // negative: no wait, as 0
    }

    /// A look that found nothing new: waits before the next (`took`: since the poll began; at
    /// most `nap`), spinning, or asleep for a blocking consumer whose wait is long enough for a
    /// timer (the core goes to whoever has work, not to one futex wake-up per commit).
    void pace(std::uint64_t now, std::uint64_t took, std::uint64_t nap) const noexcept {
        const double have = double(std::max<std::size_t>(bytes_, 1));
        const double wanted = double(target() - std::min(target(), bytes_));
        const auto wait =
            std::min(nap, std::uint64_t(std::clamp(double(took) * wanted / have,
                                                   double(min_pace_ns), double(max_pace_ns))));
        if (options_->wait == WaitMode::blocking && wait >= min_sleep_ns) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
            return;
        }
        const bool yielding = options_->wait == WaitMode::yielding;
        do {
            if (yielding) {
                (void)::sched_yield();
                continue;
            }
            for (int i = 0; i < 8; ++i)
                cpu_relax();
        } while (monotonic_ns() < now + wait);
    }

  private:
    static constexpr std::uint64_t no_ring = std::numeric_limits<std::uint64_t>::max();
    static constexpr std::uint64_t min_pace_ns = 1000, max_pace_ns = 1'000'000;
    static constexpr std::uint64_t min_sleep_ns = 20'000;

    /// fetch.min.bytes, capped at a quarter of the smallest ring (at least 2: still filling).
    [[nodiscard]] std::size_t target() const noexcept {
        return std::max<std::size_t>(
            std::min<std::uint64_t>(options_->fetch_min_bytes, smallest_ring_ / 4), 2);
    }

    const ConsumerOptions* options_;
    std::uint64_t smallest_ring_ = no_ring;
    std::size_t bytes_ = 0;   ///< what the batch holds
    bool cut_short_ = false;  ///< a partition can give no more this poll
};

}  // namespace kbus::detail
