// Counts the fork()s of this process (in the children): an exclusive producer's ownership was
// taken by the process that took its lease, and a forked child that inherited the Producer must
// neither claim with plain stores beside its parent nor hand the partition back for it.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace kbus::detail {

[[nodiscard]] inline std::atomic<std::uint32_t>& fork_generation() noexcept {
    static std::atomic<std::uint32_t> generation{0};
    return generation;
}

/// Starts counting (once per process); returns the current generation.
inline std::uint32_t watch_forks() noexcept {
    static const bool watching = [] {
        // Relaxed: the child has one thread when the handler runs.
        return ::pthread_atfork(nullptr, nullptr, [] {
                   fork_generation().fetch_add(1, std::memory_order_relaxed);
               }) == 0;
    }();
    (void)watching;
    return fork_generation().load(std::memory_order_relaxed);
}

}  // namespace kbus::detail
