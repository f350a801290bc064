// Invariant 7: a producer killed between claim and commit must not stall its partition. The
// spill notices a claim at its cursor that stays uncommitted for the claim timeout; this finds
// where the dead claim (or run of dead claims) ends and writes committed aborted records over it,
// one per offset, so that readers and the spill step over them and each offset becomes a gap.
//
// Where a dead claim ends, when its producer may have died before writing a byte:
//  - at the start of the first later offset whose claim-journal entry lies after the cursor (a
//    journal entry beyond the cursor can only be that offset's own: entries of earlier laps
//    point behind it);
//  - else at the tail the claim pair showed when the stall was first seen: every offset below
//    that pair's next offset was claimed before then, so one without a journal entry a whole
//    timeout later belongs to a dead producer too.
//
// The hazard, shared with Aeron's unblocker: a producer that is not dead but stopped (SIGSTOP,
// swapped out) for longer than the timeout between its claim and its commit finds its record
// aborted, and its late writes land on bytes the ring may reuse. The timeout is the contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kbus/ring_reader.hpp"

namespace kbus::spill {

// A run of uncommitted claims: offsets [first_offset, end_offset), bytes [position, end_position).
struct DeadRegion {
    std::uint64_t first_offset = 0;
    std::uint64_t end_offset = 0;
    std::uint64_t position = 0;
    std::uint64_t end_position = 0;
};

// What the claim pair held when the stall at `at` was first seen.
struct StallSnapshot {
    ring::Cursor at;
    std::uint64_t claimed_offsets_end = 0;  // the pair's next offset
    std::uint64_t claimed_tail = 0;         // the pair's tail
};

// Where the dead claims at the stall end, or nothing when the journal and the pair disagree with
// any region the claims could have made (a ring the repairer must not touch).
[[nodiscard]] std::optional<DeadRegion> find_dead_region(const ring::RingRef& ring,
                                                         const StallSnapshot& stall);

// Writes the aborted records (and any padding at a lap's end) over the region, journal entries
// included, and commits them last to first so that readers see the whole gap at once. Returns an
// explanation instead when the region cannot be tiled with valid frames (then nothing is written).
[[nodiscard]] std::optional<std::string> abort_region(const ring::RingRef& ring,
                                                      const DeadRegion& region);

}  // namespace kbus::spill
