// Futex wait/wake on 32-bit words in shared memory (process-shared: no FUTEX_PRIVATE_FLAG).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace kbus::detail {

/// Sleeps while *word == expected, at most `timeout` (negative: no limit). Spurious returns are
/// allowed: callers re-check their condition.
inline void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                       std::chrono::nanoseconds timeout) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout.count() >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
        tsp = &ts;
    }
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT, expected, tsp, nullptr,
              0);
}

inline void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, INT32_MAX, nullptr,
              nullptr, 0);
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct FutexWaitvEntry {  // struct futex_waitv of linux/futex.h (5.16+), spelled out for old
                          // headers
    std::uint64_t val;
    std::uint64_t uaddr;
    std::uint32_t flags;
    std::uint32_t reserved;
};
static_assert(sizeof(FutexWaitvEntry) == 24);

/// Waits on several words at once (Linux 5.16+). Returns false if the kernel lacks futex_waitv,
/// so the caller can fall back to a bounded wait on one word.
inline bool futex_waitv(FutexWaitvEntry* entries, unsigned count,
                        std::chrono::nanoseconds timeout) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout.count() >= 0) {  // futex_waitv takes an absolute CLOCK_MONOTONIC time
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        const auto total = static_cast<long long>(ts.tv_nsec) + timeout.count() % 1'000'000'000;
        ts.tv_sec += static_cast<time_t>(timeout.count() / 1'000'000'000 + total / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(total % 1'000'000'000);
        tsp = &ts;
    }
    const long rc = ::syscall(SYS_futex_waitv, entries, count, 0, tsp, CLOCK_MONOTONIC);
    return !(rc < 0 && errno == ENOSYS);
}

}  // namespace kbus::detail
