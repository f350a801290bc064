// The daemon's half of a partition ring's protocol, beside the spill: the reader tethers and
// the producer limit (DESIGN.md invariants 4 and 5).
//
// Producers may claim up to the limit the daemon publishes in the ring's LimitLine, the minimum
// of the spill's position and every attached reader's position, plus the ring's size (and never
// more than half a ring beyond the tail, so that recent history stays readable). A reader that
// holds its batch past hold_timeout_ms while producers wait is detached: its state changes first,
// then the limit moves, so its next poll reports the batch invalidated instead of handing out
// overwritten bytes. Only the daemon attaches, detaches and frees slots; a consumer only moves
// its own slot's position forward.
//
// Thread-safe: one mutex orders slot changes with limit computations (the control thread
// attaches and releases; the spill thread updates the limit).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "kbus/control_messages.hpp"
#include "kbus/ring_reader.hpp"
#include "logging/log_sink.hpp"

namespace kbus::spill {

// Connection ids start at 1; slots left by an earlier daemon run belong to this owner, and any
// client may adopt them (a consumer keeps its slot number across a daemon restart).
inline constexpr std::uint32_t orphan_owner = 0;

class ProducerGate {
  public:
    ProducerGate(ring::RingRef ring, std::uint32_t hold_timeout_ms, logging::LogSink sink) noexcept
        : ring_(ring), sink_(std::move(sink)), hold_timeout_ms_(hold_timeout_ms) {}
    ProducerGate(const ProducerGate&) = delete;
    ProducerGate& operator=(const ProducerGate&) = delete;

    void set_hold_timeout_ms(std::uint32_t ms);

    // --- readers ---------------------------------------------------------------------------

    // Tethers a reader to `target` when the ring still holds it safely (reusing `want_slot` if
    // the connection owns it), or tells it to read the log from there (on_disk; the slot, if it
    // had one, is freed: a reader behind the ring holds producers back not at all). `target` at
    // the high watermark tethers at the tail. Throws Error(resource_exhausted) with no free slot.
    [[nodiscard]] protocol::ReaderAttachment attach(std::uint64_t target, std::int32_t want_slot,
                                                    std::uint32_t connection);
    // Frees a slot the connection owns (or an orphan); any other slot is left alone.
    void release(std::uint32_t slot, std::uint32_t connection);
    // Frees every slot of a closed connection.
    void release_all_of(std::uint32_t connection);
    // A restarted daemon's start: every slot belongs to connections that are gone. Attached ones
    // stay tethered (consumers read on undisturbed) until a client adopts them or the hold
    // timeout frees them.
    void orphan_all();

    // --- the spill's side ------------------------------------------------------------------

    // Recomputes the limit from the spill's position and the tethers, detaching a reader that
    // held producers back for longer than the hold timeout. True if it did something producers
    // wait for (a detach, or a limit raised for blocked producers).
    bool update(std::uint64_t spill_position, std::uint64_t now_ns);

    // --- what the ring holds -----------------------------------------------------------------

    // The oldest offset still safely in the ring, below `next` (the high watermark).
    [[nodiscard]] std::uint64_t earliest(std::uint64_t next) const;
    // Where `offset` starts in the ring, if the ring holds it safely (below the gate it may be
    // overwritten at any moment): committed there, or claimed and placed, its commit to come.
    [[nodiscard]] std::optional<ring::Cursor> locate(std::uint64_t offset) const;
    // Attached readers: (slot, the next offset each reads).
    [[nodiscard]] std::vector<std::pair<std::uint32_t, std::int64_t>> readers() const;
    // Bytes claimed and not yet released by the spill or readers.
    [[nodiscard]] std::uint64_t fill_bytes(std::uint64_t tail) const;

  private:
    [[nodiscard]] bool owns(std::int32_t slot, std::uint32_t connection) const;
    [[nodiscard]] std::uint64_t gate_position() const;
    bool detach_if_holding_too_long(ring::ReaderSlot* bottleneck, std::uint64_t now_ns);
    bool raise_limit(std::uint64_t base);

    ring::RingRef ring_;
    logging::LogSink sink_;
    mutable std::mutex mutex_;
    std::uint32_t hold_timeout_ms_;
    ring::ReaderSlot* blocked_slot_ = nullptr;  // the tether producers wait on, and since when
    std::uint64_t blocked_since_ns_ = 0;
    std::uint64_t blocked_seen_ns_ = 0;
};

}  // namespace kbus::spill
