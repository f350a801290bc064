// An asymmetric fence between committing producers and a consumer going to sleep
// (membarrier(2), Linux 4.16+). A sleeping consumer and a producer form a store-load pair: the
// consumer announces itself then re-checks the ring, the producer commits then checks for
// sleepers. Each side needs a full fence between its store and its load, or both may miss the
// other. Producers commit millions of times a second and consumers fall asleep rarely, so the
// whole cost goes to the sleeper: its membarrier makes every core running a registered producer
// execute a full fence, and the producer's side shrinks to a compiler barrier.
#pragma once

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace kbus::detail {

// Bumped in a forked child, whose new address space is not registered yet.
inline std::atomic<unsigned>& fence_generation() noexcept {
    static std::atomic<unsigned> generation{1};
    return generation;
}

// Registers this process to receive the sleepers' fences; false when the kernel (or a seccomp
// filter) refuses, and the caller keeps a full fence of its own. Returns the generation it
// registered for, 0 on failure.
inline unsigned register_for_asymmetric_fence() noexcept {
    static const bool atfork = [] {
        ::pthread_atfork(nullptr, nullptr,
                         [] { fence_generation().fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)atfork;
    const unsigned generation = fence_generation().load(std::memory_order_relaxed);
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0) return 0;
    return generation;
}

// Whether a registration made for `generation` still covers this process.
[[nodiscard]] inline bool asymmetric_fence_registered(unsigned generation) noexcept {
    // Relaxed: only this process's own fork handler writes it.
    return generation != 0 && generation == fence_generation().load(std::memory_order_relaxed);
}

// The sleeper's side: a full fence here and on every core running a registered process.
// False if unavailable (the caller must then bound its sleep: a wake-up may be missed).
[[nodiscard]] inline bool asymmetric_fence_heavy() noexcept {
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

}  // namespace kbus::detail
