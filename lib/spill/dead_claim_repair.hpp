// Invariant 7: a producer killed between claim and commit must not stall its partition. The
// spill notices claims at its cursor that stay uncommitted for the claim timeout; this finds
// where each dead claim (or run of dead claims) ends and writes committed aborted records over
// it, one per offset, so that readers and the spill step over them and each offset becomes a gap.
//
// Which claims are dead: every claim still uncommitted among those the claim pair showed at an
// observation at least one timeout old (a claim is at least as old as the first observation that
// shows it). Live records in between are left alone, so any number of producers that died
// together cost the partition one timeout, not one each.
//
// Where a dead claim ends, when its producer may have died before writing a byte:
//  - at the start of the first later offset whose claim-journal entry lies after its start (a
//    journal entry beyond it can only be that offset's own: entries of earlier laps point behind);
//  - else at the tail the observation showed: every offset below its next offset was claimed
//    before then, so one without a journal entry a whole timeout later belongs to a dead producer.
//
// The hazard, shared with Aeron's unblocker: a producer that is not dead but stopped (SIGSTOP,
// swapped out) for longer than the timeout between its claim and its commit finds its record
// aborted (its commit reports it, through the ring's AbortLog), and its late writes may land on
// bytes the ring reuses. The timeout is the contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kbus/ring_reader.hpp"

namespace kbus::spill {

// A run of uncommitted claims: offsets [first_offset, end_offset), bytes [position, end_position).
struct DeadRegion {
    std::uint64_t first_offset = 0;
    std::uint64_t end_offset = 0;
    std::uint64_t position = 0;
    std::uint64_t end_position = 0;
};

// What the claim pair held at an observation: offsets below `claimed_end` were claimed by then,
// in the bytes below `claimed_tail`.
struct ClaimObservation {
    std::uint64_t claimed_end = 0;
    std::uint64_t claimed_tail = 0;
    std::uint64_t seen_ns = 0;
};

// The dead claims from `from` (the spill's cursor) up to the observation, each with where it
// ends; nullopt when the ring disagrees with any region the claims could have made (a lapped or
// corrupt frame, a tail more than a ring ahead): a ring the repairer must not touch.
[[nodiscard]] std::optional<std::vector<DeadRegion>> find_dead_regions(
    const ring::RingRef& ring, ring::Cursor from, const ClaimObservation& seen);

// One repair pass: announces itself in the ring's AbortLog (so that a stalled producer's commit
// learns its record was aborted), finds the dead regions, writes their aborted records (journal
// entries included, each region committed last to first so that readers see it whole), logs
// each range, and publishes the pass. Returns the regions written, or an explanation when they
// cannot be (then nothing is written).
struct RepairResult {
    std::vector<DeadRegion> aborted;
    std::optional<std::string> refused;
    bool unbarriered = false;  ///< membarrier refused: fence-free producers' commits unordered
};
[[nodiscard]] RepairResult repair_dead_claims(const ring::RingRef& ring, ring::Cursor from,
                                              const ClaimObservation& seen);

}  // namespace kbus::spill
