#include "spill/dead_claim_repair.hpp"

#include <atomic>
#include <limits>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/detail/membarrier.hpp"
#include "kbus/record_frame.hpp"

namespace kbus::spill {
namespace {

using ring::record_header_bytes;

struct AbortFrame {
    std::uint64_t position;
    std::uint64_t length;
    ring::RecordType type;  // aborted, or padding to a lap's end
    std::uint64_t offset;   // the offset the frame's commit word names
};

// One min_frame_bytes frame per dead offset, the last one stretched to the region's end
// (after padding, if the region crosses a lap's end). The region holds the dead claims' own
// frames, each at least a header long and never straddling a lap's end, so these fit too; any
// region where they do not is refused rather than half-written.
std::optional<std::string> plan_frames(const ring::RingRef& ring, const DeadRegion& region,
                                       std::vector<AbortFrame>& out) {
    const std::uint64_t count = region.end_offset - region.first_offset;
    std::uint64_t at = region.position;
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t offset = region.first_offset + i;
        std::uint64_t room = ring.capacity() - ring.index_of(at);
        if (room < record_header_bytes) {  // the implicit skip readers make too
            at += room;
            room = ring.capacity();
        }
        if (i + 1 < count) {
            if (at + ring::min_frame_bytes > region.end_position)
                return "more dead offsets than the region has room for";
            out.push_back({at, ring::min_frame_bytes, ring::RecordType::aborted, offset});
            at += ring::min_frame_bytes;
            continue;
        }
        if (region.end_position - at > room) {
            out.push_back({at, room, ring::RecordType::padding, offset});
            at += room;
        }
        const std::uint64_t length = region.end_position - at;
        if (length < record_header_bytes || length % ring::frame_alignment != 0 ||
            length > std::numeric_limits<std::uint32_t>::max())
            return "the region's last frame would be " + std::to_string(length) + " bytes";
        out.push_back({at, length, ring::RecordType::aborted, offset});
    }
    return std::nullopt;
}

void write_frame(const ring::RingRef& ring, const AbortFrame& f) {
    ring::RecordHeader* r = ring.record_at(f.position);
    ring::write_marker_frame(r, f.position, f.length, f.type);
    if (f.type == ring::RecordType::aborted)  // so that a seek to a gap's offset finds it
        detail::atomic_store(*ring.journal_slot(f.offset), f.position, std::memory_order_relaxed);
    // Release: the commit publishes the frame's fields (and its journal entry) with it.
    r->commit.store(ring::commit_word_for(f.offset), std::memory_order_release);
}

// Where the dead claim at `at` ends: the first later claimed offset whose journal entry lies
// after it, else the observation's tail.
DeadRegion region_at(const ring::RingRef& ring, ring::Cursor at, const ClaimObservation& seen) {
    for (std::uint64_t offset = at.offset + 1; offset < seen.claimed_end; ++offset) {
        // Relaxed: the entry's producer wrote it right after its claim, a timeout ago.
        const std::uint64_t begins =
            detail::atomic_load(*ring.journal_slot(offset), std::memory_order_relaxed);
        if (begins > at.position && begins < seen.claimed_tail &&
            begins % ring::frame_alignment == 0)
            return {at.offset, offset, at.position, begins};
    }
    return {at.offset, seen.claimed_end, at.position, seen.claimed_tail};
}

// Notes a region in the ring's abort log, for the producer that may still commit into it.
void log_range(ring::AbortLog& log, std::uint64_t pass, const DeadRegion& r) {
    // Relaxed, all: published by the pass's release store of `done`.
    const std::uint64_t n = log.ranges_written.load(std::memory_order_relaxed);
    ring::AbortedRange& slot = log.ranges[n % ring::aborted_range_count];
    slot.pass.store(pass, std::memory_order_relaxed);
    slot.first_offset.store(r.first_offset, std::memory_order_relaxed);
    slot.end_offset.store(r.end_offset, std::memory_order_relaxed);
    log.ranges_written.store(n + 1, std::memory_order_relaxed);
}

}  // namespace

std::optional<std::vector<DeadRegion>> find_dead_regions(const ring::RingRef& ring,
                                                         ring::Cursor from,
                                                         const ClaimObservation& seen) {
    if (seen.claimed_end <= from.offset || seen.claimed_tail <= from.position ||
        seen.claimed_tail - from.position > ring.capacity())
        return std::nullopt;
    const ring::RingReader reader(ring);
    std::vector<DeadRegion> regions;
    for (ring::Cursor c = from; c.offset < seen.claimed_end;) {
        ring::RecordRef r;
        switch (reader.peek(c, r)) {  // steps over padding
            case ring::PeekStatus::record:
            case ring::PeekStatus::aborted:
            case ring::PeekStatus::control:
                ring::RingReader::advance(c, r);
                continue;
            case ring::PeekStatus::not_ready:
                break;
            default:
                return std::nullopt;
        }
        const DeadRegion dead = region_at(ring, c, seen);
        regions.push_back(dead);
        c = {dead.end_position, dead.end_offset};
    }
    return regions;
}

RepairResult repair_dead_claims(const ring::RingRef& ring, ring::Cursor from,
                                const ClaimObservation& seen) {
    ring::AbortLog& log = ring.header().aborts;
    // Seq_cst, then a barrier on every producer: the pass is announced before we look at any
    // commit word, and every producer's commit store made before its look at `begun` is visible
    // once the barrier returns (RingWriter::aborted_since): either we see a commit, or its
    // producer sees this pass. Producers that could not register fence each commit instead.
    const std::uint64_t pass = log.begun.fetch_add(1, std::memory_order_seq_cst) + 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    RepairResult result;
    result.unbarriered = !detail::barrier_on_all_producers();
    std::optional<std::vector<DeadRegion>> regions = find_dead_regions(ring, from, seen);
    std::vector<std::vector<AbortFrame>> plans;
    if (!regions) result.refused = "no region the claims could have made";
    for (std::size_t i = 0; regions && !result.refused && i < regions->size(); ++i)
        result.refused = plan_frames(ring, (*regions)[i], plans.emplace_back());
    if (!result.refused) {
        for (std::size_t i = 0; i < regions->size(); ++i) {
            log_range(log, pass, (*regions)[i]);
            for (auto f = plans[i].rbegin(); f != plans[i].rend(); ++f)
                write_frame(ring, *f);
        }
        result.aborted = std::move(*regions);
    }
    // Release: the ranges above are complete for whoever sees this pass done.
    log.done.store(pass, std::memory_order_release);
    return result;
}

}  // namespace kbus::spill
