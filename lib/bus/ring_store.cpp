#include "bus/ring_store.hpp"

#include <unistd.h>

namespace kbus::bus {
namespace {

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
    try {
        SharedMapping old = SharedMapping::open(ring_name, ::geteuid());
        if (ring::RingRef::looks_valid(old.data(), old.size())) {
            ring::RingRef r(old.data());
            if (matches(r, m, p)) return {std::move(old), r, true};
        }
    } catch (const Error&) {  // none there, or not ours: a new one replaces it
    }
    MappedRing created;
    created.mapping = SharedMapping::create(ring_name, ring::ring_layout(m.ring_bytes).total_bytes,
                                            mode_, group_);
    created.ring = ring::RingRef::initialize(created.mapping.data(), m.ring_bytes, m.topic_id,
                                             std::uint32_t(p), m.max_message_bytes,
                                             ring::TimestampType(m.timestamp_type), first_offset);
    return created;
}

void RingStore::remove(std::uint64_t topic_id, std::int32_t partition) const {
    SharedMapping::remove(name(topic_id, partition));
}

}  // namespace kbus::bus
