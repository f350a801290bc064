// A ring's ProducerSlots (ring_descriptor.hpp): taken by an idempotent producer at its first use
// of the partition, retired when it leaves, free again once the spill has passed every record
// claimed before it left (the spill reads a record's producer id and epoch from its slot). The
// daemon's control thread only; the spill reads slots, never writes them.
#pragma once

#include <cstdint>

#include "kbus/ring_descriptor.hpp"

namespace kbus::bus {

// The producer's slot: its own if it has one already, else a free one. Throws
// Error(resource_exhausted) when every slot is taken.
[[nodiscard]] std::uint32_t take_producer_slot(ring::RingHeader& h, std::int64_t producer_id,
                                               std::int32_t epoch, std::int32_t owner_pid);
// Its producer left: free once the spill passes what was claimed until now.
void retire_producer_slot(ring::RingHeader& h, std::uint32_t slot);
// A daemon adopting a ring: the slots of producers whose process is gone retire.
void retire_orphaned_producer_slots(ring::RingHeader& h);

}  // namespace kbus::bus
