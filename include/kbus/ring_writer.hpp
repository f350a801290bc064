// The producer side of a partition ring: lock-free claim, in-place write, commit.
//
// claim: one 16-byte compare-and-swap takes the next offset and the ring space together, after
//        checking the space against the producer limit (cached; re-read only when exceeded).
// commit: the record's header is filled in, then its commit word (offset + 1) is stored last
//        with release order; that store is what makes the record visible to readers.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "kbus/detail/futex.hpp"
#include "kbus/ring_ref.hpp"

namespace kbus::ring {

struct RingClaim {
    std::uint64_t offset = 0;
    std::uint64_t position = 0;  // of the record frame (after any padding)
    RecordHeader* record = nullptr;
    PayloadLayout layout{};
};

enum class ClaimStatus { claimed, full, too_large, deleted };

class RingWriter {
  public:
    RingWriter() = default;
    explicit RingWriter(RingRef ring) noexcept
        : ring_(ring),
          cached_limit_(ring.header().limit.producer_limit.load(std::memory_order_acquire)) {}

    // Claims space for a record of this layout. Never blocks: `full` when the producer limit
    // (the daemon's spill, or a consumer holding a batch) stops it.
    [[nodiscard]] ClaimStatus try_claim(const PayloadLayout& layout, RingClaim& out) noexcept {
        RingHeader& h = ring_.header();
        const std::uint64_t frame = layout.frame_length;
        if (frame > h.info.max_record_bytes || frame > ring_.capacity() / 2)
            return ClaimStatus::too_large;
        // Relaxed: the state shares the claim pair's cache line, so this check costs nothing;
        // a producer racing a delete may still land one record in the dying ring.
        if (h.claim.state.load(std::memory_order_relaxed) != std::uint32_t(RingState::active))
            return ClaimStatus::deleted;
        detail::WordPair current{load_next_offset(h), load_tail(h)};
        std::uint64_t skip;
        for (;;) {
            const std::uint64_t tail = current.second;
            const std::uint64_t room = ring_.capacity() - ring_.index_of(tail);
            skip = room < frame ? room : 0;  // pad to the lap's end rather than straddle it
            const std::uint64_t end = tail + skip + frame;
            if (end > cached_limit_) {
                // Acquire: pairs with the daemon's release store of a new limit.
                cached_limit_ = h.limit.producer_limit.load(std::memory_order_acquire);
                if (end > cached_limit_) {
                    if (h.claim.state.load(std::memory_order_relaxed) !=
                        std::uint32_t(RingState::active))
                        return ClaimStatus::deleted;
                    return ClaimStatus::full;
                }
            }
            const detail::WordPair desired{current.first + 1, end};
            if (detail::dwcas(&h.claim.next_offset_and_tail, current, desired)) break;
        }
        const std::uint64_t tail = current.second;
        if (skip >= record_header_bytes) write_padding(tail, skip, current.first);
        out.offset = current.first;
        out.position = tail + skip;
        out.record = ring_.record_at(out.position);
        out.layout = layout;
        // Relaxed: the record's commit (release) publishes the journal entry with the record.
        __atomic_store_n(ring_.journal_slot(out.offset), out.position, __ATOMIC_RELAXED);
        return ClaimStatus::claimed;
    }

    [[nodiscard]] std::byte* payload(const RingClaim& c) const noexcept {
        return reinterpret_cast<std::byte*>(c.record);
    }

    // Fills in the header of a claimed data record (everything but the commit word).
    static void write_header(const RingClaim& c, std::int64_t timestamp, std::int32_t key_length,
                             std::int32_t value_length, std::uint32_t headers_length,
                             std::uint32_t header_count) noexcept {
        RecordHeader* r = c.record;
        r->position = c.position;
        r->timestamp = timestamp;
        r->frame_length = static_cast<std::uint32_t>(c.layout.frame_length);
        r->type = RecordType::data;
        r->attributes = 0;
        r->key_length = key_length;
        r->value_length = value_length;
        r->headers_length = headers_length;
        r->header_count = header_count;
    }

    // Publishes the record: the commit word is stored last. Seq_cst (not just release) so that
    // the sleepers check below cannot be ordered before it (store-load): a blocking consumer that
    // announced itself before we committed is always woken.
    void commit(const RingClaim& c) noexcept {
        c.record->commit.store(commit_word_for(c.offset), std::memory_order_seq_cst);
        wake_sleepers();
    }

    void wake_sleepers() noexcept {
        WakeLine& w = ring_.header().wake;
        if (w.sleepers.load(std::memory_order_seq_cst) != 0) {  // after the commit (store-load)
            w.wake_seq.fetch_add(1, std::memory_order_release);
            detail::futex_wake_all(&w.wake_seq);
        }
    }

    [[nodiscard]] const RingRef& ring() const noexcept { return ring_; }

  private:
    void write_padding(std::uint64_t position, std::uint64_t length,
                       std::uint64_t offset) noexcept {
        RecordHeader* p = ring_.record_at(position);
        p->position = position;
        p->timestamp = 0;
        p->frame_length = static_cast<std::uint32_t>(length);
        p->type = RecordType::padding;
        p->attributes = 0;
        p->key_length = -1;
        p->value_length = -1;
        p->headers_length = 0;
        p->header_count = 0;
        // Release: the padding's fields are visible to whoever sees its commit word.
        p->commit.store(commit_word_for(offset), std::memory_order_release);
    }

    RingRef ring_;
    std::uint64_t cached_limit_ = 0;  // our copy of the daemon's producer limit
};

}  // namespace kbus::ring
