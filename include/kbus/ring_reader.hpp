// The reading side of a partition ring, shared by consumers and the daemon's spill.
// A reader follows a cursor (position, offset): the record for `offset` starts at `position`
// (or a padding record does, that leads to it). The commit word alone says whether the record is
// there: offset + 1 means committed; anything else means not yet written (a stale word from an
// earlier lap, or payload bytes of one) unless the frame's own position field shows a later lap.
#pragma once

#include <atomic>
#include <cstdint>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/ring_ref.hpp"

namespace kbus::ring {

struct Cursor {
    std::uint64_t position = 0;
    std::uint64_t offset = 0;
};

enum class PeekStatus {
    record,     ///< a committed data record is at the cursor
    aborted,    ///< a committed aborted record (a gap in offsets): skip it
    control,    ///< a committed transaction marker (RecordType::control): no consumer returns it
    not_ready,  ///< nothing committed at the cursor yet
    lapped,     ///< a later lap overwrote the cursor's record
    corrupt,    ///< a committed frame whose lengths do not fit the ring
};

/// A committed frame that takes an offset: a record, a gap or a marker (readers step over it).
[[nodiscard]] constexpr bool holds_offset(PeekStatus s) noexcept {
    return s == PeekStatus::record || s == PeekStatus::aborted || s == PeekStatus::control;
}

struct RecordRef {
    const RecordHeader* header = nullptr;
    std::uint64_t position = 0;
    std::uint64_t offset = 0;
    /// The frame length peek() checked. A reader that was detached may be reading bytes a later
    /// lap is overwriting (its batch is then reported invalidated): stepping by a second load of
    /// the header's length could leave its cursor anywhere, even misaligned.
    std::uint32_t frame_length = 0;
};

class RingReader {
  public:
    RingReader() = default;
    explicit RingReader(RingRef ring) noexcept : ring_(ring) {}

    /// Looks at the cursor, stepping over padding (which moves the cursor's position, not its
    /// offset). Does not advance past a record: call advance() for that. Inline: as a call it
    /// took a sixth of a consumer's instructions a record (callgrind), its result passed through
    /// memory.
    [[nodiscard, gnu::always_inline]] PeekStatus peek(Cursor& c, RecordRef& out) const noexcept {
        for (;;) {
            const std::uint64_t room = ring_.capacity() - ring_.index_of(c.position);
            if (room < record_header_bytes) {  // implicit skip: too little room for a header
                c.position += room;
                continue;
            }
            const RecordHeader* r = ring_.record_at(c.position);
            // Acquire: pairs with the producer's commit store; the frame is complete once seen.
            const std::uint64_t commit = r->commit.load(std::memory_order_acquire);
            const std::uint64_t frame_position =
                detail::atomic_load(r->position, std::memory_order_relaxed);
            if (commit != commit_word_for(c.offset) || frame_position != c.position) {
                if (commit > commit_word_for(c.offset) && frame_position > c.position &&
                    ring_.index_of(frame_position) == ring_.index_of(c.position) &&
                    claimed_by_producers(frame_position))
                    return PeekStatus::lapped;
                return PeekStatus::not_ready;
            }
            const std::uint32_t length = r->frame_length;
            if (length < record_header_bytes || length % frame_alignment != 0 || length > room)
                return PeekStatus::corrupt;
            if (r->type == RecordType::padding) {
                if (length != room) return PeekStatus::corrupt;
                c.position += length;
                continue;
            }
            out = {r, c.position, c.offset, length};
            if (r->type == RecordType::aborted) return PeekStatus::aborted;
            if ((r->type != RecordType::data && r->type != RecordType::control) ||
                !payload_fits(*r))
                return PeekStatus::corrupt;
            return r->type == RecordType::data ? PeekStatus::record : PeekStatus::control;
        }
    }

    /// Before the cursor's record is written, its bytes are whatever an earlier lap left there,
    /// often the middle of a value: payload that may look like a later lap's header. Only a frame
    /// below the producers' tail is real. (Read on this rare path only, not while spinning.)
    [[nodiscard]] bool claimed_by_producers(std::uint64_t frame_position) const noexcept {
        return frame_position < load_tail(ring_.header());
    }

    static void advance(Cursor& c, const RecordRef& r) noexcept {
        c.position = r.position + r.frame_length;
        c.offset = r.offset + 1;
    }

    /// Where `offset` starts, if it is still in the ring and committed (via the claim journal).
    [[nodiscard]] bool locate(std::uint64_t offset, Cursor& out) const noexcept {
        const std::uint64_t position =
            detail::atomic_load(*ring_.journal_slot(offset), std::memory_order_relaxed);
        Cursor c{position, offset};
        RecordRef r;
        const PeekStatus s = peek(c, r);
        if (!holds_offset(s)) return false;
        out = {r.position, offset};
        return true;
    }

    /// A record's lengths must fit inside its own frame (a reader never trusts a length blindly).
    [[nodiscard]] static bool payload_fits(const RecordHeader& r) noexcept {
        if (r.key_length < -1 || r.value_length < -1) return false;
        const PayloadLayout l = payload_layout(r.key_length, r.value_length, r.headers_length);
        return l.frame_length <= r.frame_length && l.headers_offset >= l.value_offset;
    }

    [[nodiscard]] const RingRef& ring() const noexcept { return ring_; }

  private:
    RingRef ring_;
};

}  // namespace kbus::ring
