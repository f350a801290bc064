// A transactional Producer ends its transaction itself, in shared memory, with no round trip to
// the daemon (control::TransactionState): it takes the decision in its transaction word with one
// compare-and-swap, writes the COMMIT or ABORT marker into each partition's ring as the daemon
// would (a control frame naming its slot and stamped with its id and epoch), then flags the word
// `markers_written`. The daemon notes the end at its next look; should the producer die between
// the decision and the flag, the daemon writes the markers itself (a second one is harmless).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "kbus/control_descriptor.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "kbus/log/control_record.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_writer.hpp"

namespace kbus::detail {

class TransactionEnd {
  public:
    TransactionEnd(std::atomic<std::uint32_t>& word, std::int64_t producer_id, std::int16_t epoch,
                   bool commit) noexcept
        : word_(word), producer_id_(producer_id), epoch_(epoch), commit_(commit) {}

    /// Takes the decision. False: the daemon took one first (it aborted the transaction: its
    /// timeout, a newer instance), or never opened the transaction in the word.
    [[nodiscard]] bool decide() noexcept {
        std::uint32_t open = control::transaction_word(epoch_, control::TransactionState::open);
        // Acq_rel: acquires the daemon's store of `open` (and what it did before), and orders our
        // records before the decision for a daemon that acquires it.
        return word_.compare_exchange_strong(open, decision(false), std::memory_order_acq_rel,
                                             std::memory_order_acquire);
    }

    /// The marker into one partition's ring, the producer's slot there named. Waits while the
    /// ring is full, up to `max_block` (then Error(timed_out)). False if it cannot be written here
    /// (the topic deleted, an exclusive producer owning the ring): the daemon then tries.
    bool write_marker(ring::RingWriter& writer, std::uint32_t slot,
                      std::chrono::nanoseconds max_block) const {
        const ring::FramePlan plan = ring::control_frame_plan(
            std::uint16_t(ring::slot_stamp_attributes(slot) | ring::stamped_attribute));
        const ring::RecordStamp stamp{producer_id_, -1, epoch_, 0};
        const std::uint64_t deadline = monotonic_ns() + std::uint64_t(max_block.count());
        for (std::uint32_t attempt = 0;; ++attempt) {
            ring::RingClaim c;
            switch (writer.try_claim(plan.layout, c)) {
                case ring::ClaimStatus::claimed:
                    ring::write_control_frame(writer.payload(c), c.position, plan, wall_clock_ms(),
                                              type(), 0, &stamp);
                    if (writer.commit(c)) return true;
                    continue;  // the claim was aborted (we stalled past the claim timeout): a gap
                case ring::ClaimStatus::full:
                    break;
                default:  // deleted, owned, too_large (never, at 80 bytes)
                    return false;
            }
            if (monotonic_ns() > deadline)
                throw Error(ErrorCode::timed_out,
                            "the ring stayed full: the transaction's marker is left to kbusd");
            if (attempt < 64)
                cpu_relax();
            else
                writer.wait_for_room(std::chrono::milliseconds(10));
        }
    }

    /// Every marker is in: the daemon need write none. Release: after the markers' commits.
    void markers_written() noexcept { word_.store(decision(true), std::memory_order_release); }

  private:
    [[nodiscard]] std::uint32_t decision(bool written) const noexcept {
        return control::transaction_word(
            epoch_,
            commit_ ? control::TransactionState::committing : control::TransactionState::aborting,
            written);
    }
    [[nodiscard]] log::ControlType type() const noexcept {
        return commit_ ? log::ControlType::commit : log::ControlType::abort;
    }

    std::atomic<std::uint32_t>& word_;
    std::int64_t producer_id_;
    std::int16_t epoch_;
    bool commit_;
};

}  // namespace kbus::detail
