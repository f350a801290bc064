// Asymmetric fences between producers and the daemon's rare repair pass (membarrier(2)).
//
// A producer's commit is a plain release store. Two rare events need it ordered before a later
// load on the producer's side (store-load), which x86 only gives with a full fence: the daemon's
// dead-claim repair must either see a commit or have its producer see the repair pass, and a
// consumer that has just marked a ring as one it may sleep on (BlockingReaderMark) must see
// every commit whose producer did not see the mark. Instead of a fence per record on every
// producer, the repairer and the consumer force one onto every registered process with
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): an IPI to the cores running them, paid once per
// repair or per batch of marks. A process that could not register keeps its fence per record
// (RingWriter asks register_for_commit_barriers()).
#pragma once

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kbus::detail {

/// Registers this process, once, as a target of the repairer's barriers. False where the kernel
/// or a seccomp filter refuses membarrier: then this process's producers fence every commit.
[[nodiscard]] inline bool register_for_commit_barriers() noexcept {
    static const bool registered =
        ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
    return registered;
}

/// A full memory barrier on every thread of every registered process (and this one). Falls back
/// to the unexpedited global barrier (a grace period: milliseconds) when expedited is refused.
/// False if neither is available: the caller cannot rely on fence-free producers' stores.
[[nodiscard]] inline bool barrier_on_all_producers() noexcept {
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0) return true;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0;
}

}  // namespace kbus::detail
