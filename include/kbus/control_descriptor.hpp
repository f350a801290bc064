// The bus's control segment (shared memory `<shm prefix>.ctl`): who the daemon is, a doorbell
// producers ring when they are blocked so the daemon's spill wakes at once, and the epochs of
// producers with a transactional id, so that one fenced by a newer instance learns it at its send.
#pragma once

#include <atomic>
#include <cstdint>

#include "kbus/detail/futex.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::control {

inline constexpr std::uint64_t control_magic = 0x4c54435f5355424bULL;  ///< "KBUS_CTL"
inline constexpr std::uint32_t control_layout_version = 3;             ///< 3: the fence table

struct alignas(ring::cache_line_bytes) ControlInfo {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t reserved;
    std::atomic<std::uint64_t> daemon_pid;
    std::atomic<std::uint64_t> daemon_epoch;  ///< grows with every daemon start
};
static_assert(sizeof(ControlInfo) == ring::cache_line_bytes);

struct alignas(ring::cache_line_bytes) Doorbell {
    std::atomic<std::uint32_t> seq;       ///< futex word the daemon's spill loop sleeps on
    std::atomic<std::uint32_t> sleeping;  ///< non-zero while it sleeps

    /// Wakes the spill loop if it sleeps: a blocked producer, or a Kafka fetch waiting on
    /// records still on a ring. Both seq_cst: the bump must be ordered before the read of
    /// `sleeping`, as the sleeper's store of it is before its read of seq (Dekker), so either
    /// the sleeper sees the new seq or the ringer sees it asleep.
    void ring() noexcept {
        seq.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping.load(std::memory_order_seq_cst) != 0) detail::futex_wake_all(&seq);
    }
};
static_assert(sizeof(Doorbell) == ring::cache_line_bytes);

/// A transactional id's current producer id and epoch, written by the daemon only, when an
/// instance with that id starts (InitProducerId) and so fences the one before it. A producer
/// holding the slot compares its own epoch with the slot's before each claim: a relaxed load of
/// a line that changes only at such a start, so it stays in the producer's cache.
struct ProducerFence {
    std::atomic<std::int64_t> producer_id;
    std::atomic<std::int32_t> epoch;
    std::uint32_t reserved;
};
static_assert(sizeof(ProducerFence) == 16);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
inline constexpr std::uint32_t producer_fence_slots = 4096;  ///< transactional ids at once

struct ControlSegment {
    ControlInfo info;
    Doorbell doorbell;
    alignas(ring::cache_line_bytes) ProducerFence fences[producer_fence_slots];
};
static_assert(sizeof(ControlSegment) ==
              2 * ring::cache_line_bytes + producer_fence_slots * sizeof(ProducerFence));

}  // namespace kbus::control
