// Which partitions a blocking consumer sleeps on. futex_waitv takes at most 128 words, so a
// consumer of more partitions than that sleeps on the ones that gave it records most recently
// (the likeliest to give the next), and caps its sleep short, since a commit on any other
// partition cannot wake it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kbus::detail {

inline constexpr std::size_t futex_waitv_max = 128;  ///< FUTEX_WAITV_MAX

/// Indices of the (at most `max`) sources to sleep on: all of them when they fit, else the ones
/// with the latest `last_active` (a poll count; larger is more recent), ties to the lower index.
inline void choose_wait_set(std::span<const std::uint64_t> last_active, std::size_t max,
                            std::vector<std::size_t>& out) {
    out.resize(last_active.size());
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = i;
    if (out.size() <= max) return;
    std::nth_element(out.begin(), out.begin() + std::ptrdiff_t(max), out.end(),
                     [&](std::size_t a, std::size_t b) {
                         return last_active[a] != last_active[b] ? last_active[a] > last_active[b]
                                                                 : a < b;
                     });
    out.resize(max);
}

/// The longest sleep: a commit on a partition outside the wait set wakes nobody, so a consumer
/// with one looks again after `uncovered` at most.
[[nodiscard]] inline std::chrono::nanoseconds sleep_cap(std::size_t sources, std::size_t waited,
                                                        std::chrono::nanoseconds covered,
                                                        std::chrono::nanoseconds uncovered) {
    return waited < sources ? std::min(covered, uncovered) : covered;
}

}  // namespace kbus::detail
