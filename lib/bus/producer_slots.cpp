#include "bus/producer_slots.hpp"

#include <signal.h>

#include <cerrno>
#include <string>

#include "kbus/error.hpp"
#include "kbus/ring_ref.hpp"

namespace kbus::bus {
namespace {

using ring::ProducerSlot;
using ring::ProducerSlotState;

ProducerSlotState state_of(const ProducerSlot& s) {
    // Relaxed: only this thread writes a slot's state.
    return ProducerSlotState(s.state.load(std::memory_order_relaxed));
}

// Free, or retired and passed by the spill. A state no slot can be in (a stray write to shared
// memory) counts as free: the spill names no producer for a record of such a slot.
bool reusable(const ring::RingHeader& h, const ProducerSlot& s) {
    if (state_of(s) == ProducerSlotState::active) return false;
    if (state_of(s) != ProducerSlotState::retiring) return true;
    // Acquire: the spill's cursor says what it has taken, its slot reads included.
    return s.retire_position.load(std::memory_order_relaxed) <=
           h.spill.spill_position.load(std::memory_order_acquire);
}

}  // namespace

std::uint32_t take_producer_slot(ring::RingHeader& h, std::int64_t producer_id, std::int32_t epoch,
                                 std::int32_t owner_pid) {
    std::uint32_t found = ring::producer_slot_count;
    for (std::uint32_t i = 0; i < ring::producer_slot_count; ++i) {
        ProducerSlot& s = h.producers.slots[i];
        if (state_of(s) == ProducerSlotState::active &&
            s.producer_id.load(std::memory_order_relaxed) == producer_id &&
            s.epoch.load(std::memory_order_relaxed) == epoch)
            return i;  // registered before (a reconnect)
        if (found == ring::producer_slot_count && reusable(h, s)) found = i;
    }
    if (found == ring::producer_slot_count) {
        throw Error(ErrorCode::resource_exhausted,
                    "partition has " + std::to_string(ring::producer_slot_count) +
                        " idempotent producers already, the most one partition takes at once");
    }
    ProducerSlot& s = h.producers.slots[found];
    // Relaxed, all: the producer learns the slot from our reply, which follows these stores, and
    // the spill reads them after the acquire of a record's commit word, which follows the reply.
    s.producer_id.store(producer_id, std::memory_order_relaxed);
    s.epoch.store(epoch, std::memory_order_relaxed);
    s.owner_pid.store(owner_pid, std::memory_order_relaxed);
    s.retire_position.store(0, std::memory_order_relaxed);
    s.state.store(std::uint32_t(ProducerSlotState::active), std::memory_order_release);
    return found;
}

void retire_producer_slot(ring::RingHeader& h, std::uint32_t slot) {
    if (slot >= ring::producer_slot_count) return;
    ProducerSlot& s = h.producers.slots[slot];
    if (state_of(s) != ProducerSlotState::active) return;
    // Everything the producer claimed is before the tail now: it has left.
    s.retire_position.store(ring::load_claim(h).second, std::memory_order_relaxed);
    s.state.store(std::uint32_t(ProducerSlotState::retiring), std::memory_order_relaxed);
}

void retire_orphaned_producer_slots(ring::RingHeader& h) {
    for (std::uint32_t i = 0; i < ring::producer_slot_count; ++i) {
        const ProducerSlot& s = h.producers.slots[i];
        const std::int32_t pid = s.owner_pid.load(std::memory_order_relaxed);
        if (state_of(s) == ProducerSlotState::active &&
            (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)))
            retire_producer_slot(h, i);
    }
}

}  // namespace kbus::bus
