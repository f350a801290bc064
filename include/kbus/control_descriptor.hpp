// The bus's control segment (shared memory `<shm prefix>.ctl`): who the daemon is, a doorbell
// producers ring when they are blocked so the daemon's spill wakes at once, and the epochs of
// producers with a transactional id, so that one fenced by a newer instance learns it at its send,
// with the state of each one's transaction, so that a commit needs no round trip to the daemon.
#pragma once

#include <atomic>
#include <cstdint>

#include "kbus/detail/futex.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::control {

inline constexpr std::uint64_t control_magic = 0x4c54435f5355424bULL;  ///< "KBUS_CTL"
inline constexpr std::uint32_t control_layout_version = 4;             ///< 4: the transaction word

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

/// The state of a transactional id's transaction (ProducerFence::transaction), with the epoch it
/// is of. The daemon stores `open` at the transaction's first partition (AddPartitionToTxn).
/// Whoever then moves it on with a compare-and-swap decides the transaction: its producer
/// (committing or aborting; `markers_written` once its markers are in every ring), or the daemon
/// (aborting: the timeout, a newer instance, a producer gone). The daemon notes a decided
/// transaction in its state file and stores `idle` at its next look; it writes the markers itself
/// for a producer that died before it wrote them all (a second marker is harmless: readers go by
/// the first after a record). A restarted daemon finds the decision here.
enum class TransactionState : std::uint32_t { idle = 0, open = 1, committing = 2, aborting = 3 };
inline constexpr std::uint32_t transaction_state_mask = 3;
inline constexpr std::uint32_t transaction_markers_written = 4;  ///< flag: every marker is in
inline constexpr unsigned transaction_epoch_shift = 3;

[[nodiscard]] constexpr std::uint32_t transaction_word(std::int32_t epoch, TransactionState s,
                                                       bool markers_written = false) noexcept {
    return (std::uint32_t(epoch) << transaction_epoch_shift) | std::uint32_t(s) |
           (markers_written ? transaction_markers_written : 0);
}
[[nodiscard]] constexpr TransactionState transaction_state(std::uint32_t word) noexcept {
    return TransactionState(word & transaction_state_mask);
}
[[nodiscard]] constexpr std::int32_t transaction_epoch(std::uint32_t word) noexcept {
    return std::int32_t(word >> transaction_epoch_shift);
}

/// A transactional id's current producer id and epoch, written by the daemon only, when an
/// instance with that id starts (InitProducerId) and so fences the one before it. A producer
/// holding the slot compares its own epoch with the slot's before each claim: a relaxed load of
/// a line that changes only at such a start or at a transaction's start and end.
struct ProducerFence {
    std::atomic<std::int64_t> producer_id;
    std::atomic<std::int32_t> epoch;
    std::atomic<std::uint32_t>
        transaction;  ///< transaction_word(); its producer's and the daemon's
};
static_assert(sizeof(ProducerFence) == 16);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::int32_t(0x7fff) << transaction_epoch_shift > 0, "an int16 epoch fits the word");
inline constexpr std::uint32_t producer_fence_slots = 4096;  ///< transactional ids at once

struct ControlSegment {
    ControlInfo info;
    Doorbell doorbell;
    alignas(ring::cache_line_bytes) ProducerFence fences[producer_fence_slots];
};
static_assert(sizeof(ControlSegment) ==
              2 * ring::cache_line_bytes + producer_fence_slots * sizeof(ProducerFence));

}  // namespace kbus::control
