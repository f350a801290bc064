// A non-owning handle on a mapped partition ring: the header, the journal and the data region,
// located through ring_descriptor.hpp. Cheap to copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::ring {

class RingRef {
  public:
    RingRef() = default;
    explicit RingRef(void* base) noexcept
        : base_(static_cast<std::byte*>(base)),
          header_(static_cast<RingHeader*>(base)),
          journal_(reinterpret_cast<std::uint64_t*>(base_ + header_->info.journal_offset)),
          data_(base_ + header_->info.data_offset),
          capacity_(header_->info.capacity),
          mask_(header_->info.capacity - 1),
          journal_mask_(header_->info.journal_entries - 1) {}

    /// Lays out a fresh ring in zeroed memory of ring_layout(capacity).total_bytes bytes.
    static RingRef initialize(void* base, std::uint64_t capacity, std::uint64_t topic_id,
                              std::uint32_t partition, std::uint32_t max_record_bytes,
                              TimestampType timestamp_type, std::uint64_t first_offset = 0) {
        auto* h = static_cast<RingHeader*>(base);
        const RingLayout layout = ring_layout(capacity);
        h->info.magic = ring_magic;
        h->info.layout_version = ring_layout_version;
        h->info.partition = partition;
        h->info.topic_id = topic_id;
        h->info.capacity = capacity;
        h->info.journal_entries = layout.journal_entries;
        h->info.journal_offset = layout.journal_offset;
        h->info.data_offset = layout.data_offset;
        h->info.max_record_bytes = max_record_bytes;
        h->info.timestamp_type = timestamp_type;
        h->claim.next_offset_and_tail = {first_offset, 0};
        h->limit.producer_limit.store(capacity, std::memory_order_relaxed);
        h->spill.spill_position.store(0, std::memory_order_relaxed);
        h->spill.spill_offset.store(first_offset, std::memory_order_relaxed);
        // Release: whoever reads state == active sees the fields above.
        h->claim.state.store(std::uint32_t(RingState::active), std::memory_order_release);
        return RingRef(base);
    }

    /// The layout version of a ring of kbus's making but of another release (0: not a kbus ring,
    /// or one of this layout). Reads RingInfo only, whose place every layout keeps.
    [[nodiscard]] static std::uint32_t other_layout_version(const void* base,
                                                            std::uint64_t mapped_bytes) noexcept {
        if (mapped_bytes < sizeof(RingInfo) + sizeof(ClaimLine)) return 0;
        const auto* info = static_cast<const RingInfo*>(base);
        return info->magic == ring_magic && info->layout_version != ring_layout_version
                   ? info->layout_version
                   : 0;
    }

    /// True if the mapped bytes look like a ring of this layout version (checked on attach).
    [[nodiscard]] static bool looks_valid(const void* base, std::uint64_t mapped_bytes) noexcept {
        if (mapped_bytes < sizeof(RingHeader)) return false;
        const auto* h = static_cast<const RingHeader*>(base);
        if (h->info.magic != ring_magic || h->info.layout_version != ring_layout_version)
            return false;
        const std::uint64_t cap = h->info.capacity;
        if (!is_power_of_two(cap) || cap < min_ring_bytes || cap > max_ring_bytes) return false;
        const RingLayout l = ring_layout(cap);
        return h->info.journal_offset == l.journal_offset &&
               h->info.journal_entries == l.journal_entries &&
               h->info.data_offset == l.data_offset && l.total_bytes <= mapped_bytes;
    }

    [[nodiscard]] RingHeader& header() const noexcept { return *header_; }
    [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint64_t index_of(std::uint64_t position) const noexcept {
        return position & mask_;
    }
    [[nodiscard]] std::byte* at(std::uint64_t position) const noexcept {
        return data_ + (position & mask_);
    }
    [[nodiscard]] RecordHeader* record_at(std::uint64_t position) const noexcept {
        return reinterpret_cast<RecordHeader*>(at(position));
    }
    [[nodiscard]] std::uint64_t* journal_slot(std::uint64_t offset) const noexcept {
        return journal_ + (offset & journal_mask_);
    }
    [[nodiscard]] bool valid() const noexcept { return base_ != nullptr; }

  private:
    std::byte* base_ = nullptr;
    RingHeader* header_ = nullptr;
    std::uint64_t* journal_ = nullptr;
    std::byte* data_ = nullptr;
    std::uint64_t capacity_ = 0;
    std::uint64_t mask_ = 0;
    std::uint64_t journal_mask_ = 0;
};

/// Relaxed loads of one half of the claim pair each. The pair may be inconsistent; the claim's
/// compare-and-swap corrects it. For an exact snapshot use load_claim.
[[nodiscard]] inline std::uint64_t load_next_offset(const RingHeader& h) noexcept {
    return detail::atomic_load(h.claim.next_offset_and_tail.first, std::memory_order_relaxed) &
           ~exclusive_claim_bit;
}
[[nodiscard]] inline std::uint64_t load_tail(const RingHeader& h) noexcept {
    return detail::atomic_load(h.claim.next_offset_and_tail.second, std::memory_order_relaxed);
}
/// An exact snapshot of (next offset, tail), the ownership bit cleared. A locked instruction: for
/// rare paths (attach, describe, the spill's observations), never per record.
[[nodiscard]] inline detail::WordPair load_claim(RingHeader& h) noexcept {
    detail::WordPair claim = detail::dwload(&h.claim.next_offset_and_tail);
    claim.first &= ~exclusive_claim_bit;
    return claim;
}
[[nodiscard]] inline bool owned_exclusively(const RingHeader& h) noexcept {
    return (detail::atomic_load(h.claim.next_offset_and_tail.first, std::memory_order_relaxed) &
            exclusive_claim_bit) != 0;
}

}  // namespace kbus::ring
