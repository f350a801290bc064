#include "spill/dead_claim_repair.hpp"

#include "kbus/record_frame.hpp"

#include <atomic>
#include <limits>
#include <vector>

namespace kbus::spill {
namespace {

using ring::record_header_bytes;

struct AbortFrame {
    std::uint64_t position;
    std::uint64_t length;
    ring::RecordType type;  // aborted, or padding to a lap's end
    std::uint64_t offset;   // the offset the frame's commit word names
};

// One record_header_bytes frame per dead offset, the last one stretched to the region's end
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
            if (at + record_header_bytes > region.end_position)
                return "more dead offsets than the region has room for";
            out.push_back({at, record_header_bytes, ring::RecordType::aborted, offset});
            at += record_header_bytes;
            continue;
        }
        if (region.end_position - at > room) {
            out.push_back({at, room, ring::RecordType::padding, offset});
            at += room;
        }
        const std::uint64_t length = region.end_position - at;
        if (length < record_header_bytes || length % ring::record_alignment != 0 ||
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

}  // namespace

std::optional<DeadRegion> find_dead_region(const ring::RingRef& ring, const StallSnapshot& stall) {
    const std::uint64_t start = stall.at.position;
    if (stall.claimed_offsets_end <= stall.at.offset || stall.claimed_tail <= start ||
        stall.claimed_tail - start > ring.capacity())
        return std::nullopt;
    for (std::uint64_t offset = stall.at.offset + 1; offset < stall.claimed_offsets_end; ++offset) {
        // Relaxed: the entry's producer wrote it right after its claim, a timeout ago.
        const std::uint64_t begins =
            detail::atomic_load(*ring.journal_slot(offset), std::memory_order_relaxed);
        if (begins > start && begins < stall.claimed_tail && begins % ring::record_alignment == 0)
            return DeadRegion{stall.at.offset, offset, start, begins};
    }
    return DeadRegion{stall.at.offset, stall.claimed_offsets_end, start, stall.claimed_tail};
}

std::optional<std::string> abort_region(const ring::RingRef& ring, const DeadRegion& region) {
    std::vector<AbortFrame> frames;
    if (auto why = plan_frames(ring, region, frames)) return why;
    for (auto f = frames.rbegin(); f != frames.rend(); ++f)
        write_frame(ring, *f);
    return std::nullopt;
}

}  // namespace kbus::spill
