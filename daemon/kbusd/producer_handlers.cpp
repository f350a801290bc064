// Idempotent and transactional producers: their ids, their slots in the rings, and their
// transactions (the daemon's TransactionCoordinator).
#include <algorithm>

#include "bus/producer_slots.hpp"
#include "control_handlers.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using kbus::Error;
using kbus::ErrorCode;
using kbus::codec::Empty;
namespace protocol = kbus::protocol;

void ControlHandlers::register_producer_requests() {
    on<protocol::InitProducerIdRequest>(
        [this](const protocol::InitProducerIdRequest& r, std::uint32_t) {
            if (producer_ids_ == nullptr)
                throw Error(ErrorCode::unsupported, "this daemon grants no producer ids");
            const kbus::bus::ProducerIdRegistry::Grant g =
                r.transactional_id.empty() ? producer_ids_->grant_new()
                                           : producer_ids_->grant_for(r.transactional_id);
            // Kafka's InitProducerId: what the instance before left open is aborted first.
            if (transactions_ != nullptr && !r.transactional_id.empty())
                transactions_->abort_open(g.producer_id,
                                          "a newer instance of its transactional id started");
            return protocol::ProducerIdentity{g.producer_id, g.epoch, g.fence_slot};
        });
    on<protocol::RegisterProducerRequest>(
        [this](const protocol::RegisterProducerRequest& r, std::uint32_t c) {
            const auto p = bus_.partition(r.topic_id, r.partition);
            if (r.producer_id < 0 || r.epoch < 0 || r.epoch > 32767)
                throw Error(ErrorCode::invalid_argument, "bad producer id or epoch");
            if (!p->ring_reserved())
                throw Error(ErrorCode::invalid_argument, "the partition's ring is not reserved");
            // The kernel's pid, not the request's: a slot whose process is gone retires at the next
            // adoption, and a client must not make a live producer's slot look orphaned.
            const std::uint32_t slot = kbus::bus::take_producer_slot(
                p->ring().header(), r.producer_id, r.epoch, std::int32_t(peer_pid_(c)));
            slots_by_[c].push_back({p, slot});
            return protocol::ProducerSlotGrant{slot};
        });
    on<protocol::ReleaseProducerRequest>([this](const protocol::ReleaseProducerRequest& r,
                                                std::uint32_t c) {
        auto& taken = slots_by_[c];
        const auto p = bus_.partition(r.topic_id, r.partition);
        const auto it = std::find_if(taken.begin(), taken.end(), [&](const TakenSlot& t) {
            return t.slot == r.slot && t.partition.lock() == p;
        });
        if (it == taken.end())
            throw Error(ErrorCode::invalid_argument, "not this connection's producer slot");
        // Its transaction's marker names the slot: written before the slot retires.
        // Relaxed: the daemon's own store (take_producer_slot), on this thread.
        const std::int64_t id =
            p->ring().header().producers.slots[r.slot].producer_id.load(std::memory_order_relaxed);
        if (transactions_ != nullptr)
            transactions_->abort_open(id, "its producer gave its slots back");
        kbus::bus::retire_producer_slot(p->ring().header(), r.slot);
        taken.erase(it);
        return Empty{};
    });
}

void ControlHandlers::register_transaction_requests() {
    on<protocol::AddPartitionToTxnRequest>(
        [this](const protocol::AddPartitionToTxnRequest& r, std::uint32_t c) {
            if (transactions_ == nullptr)
                throw Error(ErrorCode::unsupported, "this daemon runs no transactions");
            // Only this producer's slot, taken by this connection or by its process (a producer
            // that rode through a kbusd restart keeps the slot it took from the kbusd before).
            const auto p = bus_.partition(r.topic_id, r.partition);
            if (r.slot >= kbus::ring::producer_slot_count)
                throw Error(ErrorCode::invalid_argument, "bad producer slot");
            auto& taken = slots_by_[c];
            const bool registered_here = std::any_of(
                taken.begin(), taken.end(),
                [&](const TakenSlot& t) { return t.slot == r.slot && t.partition.lock() == p; });
            const kbus::ring::ProducerSlot& s = p->ring().header().producers.slots[r.slot];
            // Relaxed: the daemon's own stores (take_producer_slot), or a former kbusd's.
            const bool ours = s.producer_id.load(std::memory_order_relaxed) == r.producer_id &&
                              s.state.load(std::memory_order_relaxed) ==
                                  std::uint32_t(kbus::ring::ProducerSlotState::active) &&
                              (registered_here || s.owner_pid.load(std::memory_order_relaxed) ==
                                                      std::int32_t(peer_pid_(c)));
            if (!ours)
                throw Error(ErrorCode::invalid_argument,
                            "not this connection's producer slot for producer " +
                                std::to_string(r.producer_id));
            if (!registered_here) taken.push_back({p, r.slot});  // retires when we close
            transactions_->add_partition(r, c, kbus::detail::wall_clock_ms());
            return Empty{};
        });
    on<kbus::group::TxnOffsetCommitRequest>(
        [this](const kbus::group::TxnOffsetCommitRequest& r, std::uint32_t c) {
            if (transactions_ == nullptr)
                throw Error(ErrorCode::unsupported, "this daemon runs no transactions");
            transactions_->add_offsets(r, c, kbus::detail::wall_clock_ms());
            return Empty{};
        });
    on<protocol::EndTxnRequest>([this](const protocol::EndTxnRequest& r, std::uint32_t) {
        if (transactions_ == nullptr)
            throw Error(ErrorCode::unsupported, "this daemon runs no transactions");
        return protocol::TxnEnded{transactions_->end(r.producer_id, r.epoch, r.commit)};
    });
}

}  // namespace kbusd
