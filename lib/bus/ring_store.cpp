#include "bus/ring_store.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cstddef>
#include <optional>

#include "kbus/detail/atomic_field.hpp"

namespace kbus::bus {
namespace {

// Marks a ring of another layout deleted, so that its clients' next claims are refused (the
// claim line has kept its place in every layout since the first), and returns the next offset
// its producers would have taken: what it holds ends there.
std::uint64_t retire_other_layout(SharedMapping& m) {
    static_assert(offsetof(ring::RingHeader, claim) == sizeof(ring::RingInfo));
    ring::ClaimLine* claim = &static_cast<ring::RingHeader*>(m.data())->claim;
    // Release: nothing to publish with it; a claim that loads it (relaxed) is refused.
    claim->state.store(std::uint32_t(ring::RingState::deleted), std::memory_order_release);
    // Relaxed: a snapshot for the log line; a claim racing it is refused after the store above.
    return detail::atomic_load(claim->next_offset_and_tail.first, std::memory_order_relaxed) &
           ~ring::exclusive_claim_bit;
}

bool matches(const ring::RingRef& r, const protocol::TopicMetadata& m, std::int32_t p) {
    const ring::RingInfo& info = r.header().info;
    // Relaxed: the ring's creator published it long ago (a previous daemon run).
    return info.topic_id == m.topic_id && info.partition == std::uint32_t(p) &&
           info.capacity == m.ring_bytes && info.max_record_bytes == m.max_message_bytes &&
           r.header().claim.state.load(std::memory_order_relaxed) ==
               std::uint32_t(ring::RingState::active);
}

}  // namespace

MappedRing RingStore::adopt_or_create(const protocol::TopicMetadata& m, std::int32_t p,
                                      std::uint64_t first_offset) const {
    const std::string ring_name = name(m.topic_id, p);
    std::optional<MappedRing> adopted;
    std::uint32_t other_layout = 0;
    std::uint64_t other_next_offset = 0;
    try {
        SharedMapping old = SharedMapping::open(ring_name, ::geteuid());
        other_layout = ring::RingRef::other_layout_version(old.data(), old.size());
        if (other_layout != 0) other_next_offset = retire_other_layout(old);
        if (ring::RingRef::looks_valid(old.data(), old.size())) {
            ring::RingRef r(old.data());
            // Reserved is what producers were given room on: a limit raised from create's 0.
            // Relaxed: no producer maps the ring before its topic is published.
            const bool reserved =
                r.header().limit.producer_limit.load(std::memory_order_relaxed) != 0;
            if (matches(r, m, p)) adopted = MappedRing{std::move(old), r, true, reserved};
        }
    } catch (const Error&) {  // none there, or not ours: a new one replaces it
    }
    if (adopted) {
        // Pages gone from a ring producers may write (a hole punched by someone else): allocated
        // again now, or refused, rather than a SIGBUS in a producer later.
        if (adopted->reserved && !SharedMapping::wholly_allocated(ring_name))
            reserve(m.topic_id, p, adopted->ring.capacity());
        return std::move(*adopted);
    }
    // The header alone is allocated now: a topic of many partitions costs a page each until a
    // producer uses one.
    const ring::RingLayout layout = ring::ring_layout(m.ring_bytes);
    MappedRing created;
    created.mapping =
        SharedMapping::create(ring_name, layout.total_bytes, mode_, group_, layout.journal_offset);
    created.ring = ring::RingRef::initialize(created.mapping.data(), m.ring_bytes, m.topic_id,
                                             std::uint32_t(p), m.max_message_bytes,
                                             ring::TimestampType(m.timestamp_type), first_offset);
    // Relaxed: no client sees the ring before the topic is published (a release of the registry).
    created.ring.header().limit.producer_limit.store(0, std::memory_order_relaxed);
    created.replaced_layout = other_layout;
    created.replaced_next_offset = other_next_offset;
    return created;
}

void RingStore::reserve(std::uint64_t topic_id, std::int32_t partition,
                        std::uint64_t ring_bytes) const {
    const ring::RingLayout layout = ring::ring_layout(ring_bytes);
    SharedMapping::reserve(name(topic_id, partition), layout.journal_offset, layout.total_bytes);
}

std::uint64_t RingStore::free_bytes() const {
    struct statvfs fs {};
    if (::statvfs(dir_.c_str(), &fs) != 0) return ~std::uint64_t(0);
    return std::uint64_t(fs.f_bavail) * fs.f_frsize;
}

void RingStore::remove(std::uint64_t topic_id, std::int32_t partition) const {
    SharedMapping::remove(name(topic_id, partition));
}

}  // namespace kbus::bus
