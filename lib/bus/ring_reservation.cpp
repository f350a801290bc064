// Rings are created as their header alone and reserved (journal and data allocated) at a
// producer's first use, so a topic of thousands of partitions costs a page per idle partition,
// not a ring each. The budget, kbus.max.shared.memory.bytes, counts what is allocated: every
// header, and every reserved ring whole.
#include "bus/bus.hpp"
#include "kbus/error.hpp"

namespace kbus::bus {

std::uint64_t Bus::ring_memory_in_use_locked() const {
    std::uint64_t in_use = 0;
    for (const auto& [name, t] : topics_)
        for (const auto& p : t->partitions)
            in_use += p->ring_memory_bytes();
    for (const auto& [name, reserved] : creating_)
        // A header each, as they are made.
        in_use += ring::ring_layout(reserved.ring_bytes).journal_offset *
                  std::uint64_t(reserved.partitions);
    return in_use;
}

std::uint64_t Bus::ring_memory_in_use() const {
    std::lock_guard lock(mutex_);
    return ring_memory_in_use_locked();
}

void Bus::reserve_ring(Partition& p) {
    if (p.ring_reserved()) return;
    std::lock_guard reserving(reserve_mutex_);
    const std::uint64_t wanted = p.ring_reserve_bytes();
    if (wanted == 0) return;  // reserved meanwhile
    const std::string what = "cannot reserve the ring of " + p.topic() + "-" +
                             std::to_string(p.index()) + " (" + std::to_string(wanted) +
                             " bytes): ";
    const std::uint64_t in_use = ring_memory_in_use();
    if (broker_.max_shared_memory_bytes >= 0 &&
        std::int64_t(in_use + wanted) > broker_.max_shared_memory_bytes)
        throw Error(ErrorCode::resource_exhausted,
                    what + "it would pass kbus.max.shared.memory.bytes (" +
                        std::to_string(broker_.max_shared_memory_bytes) + ", " +
                        std::to_string(in_use) + " in use by the bus's rings)");
    if (const std::uint64_t free = rings_.free_bytes(); free < wanted)
        throw Error(ErrorCode::resource_exhausted, what + "shared memory has " +
                                                       std::to_string(free) +
                                                       " bytes free (shared memory full)");
    p.reserve_ring();  // fallocate: a tmpfs that filled meanwhile is refused here, not a SIGBUS
}

}  // namespace kbus::bus
