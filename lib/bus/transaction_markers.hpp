// The transaction coordinator's pen: a marker (RecordType::control, Kafka's control record) written
// to a partition's ring as a producer writes a record, with a claim and a commit. It names the
// producer twice: by its slot, for consumers that read the ring (a record names its slot), and by
// a stamp of its producer id and epoch, for the spill (which must write the control batch even if
// the slot was retired meanwhile).
#pragma once

#include <cstdint>
#include <functional>

#include "bus/partition.hpp"
#include "kbus/log/control_record.hpp"

namespace kbus::bus {

// A producer with no slot in the ring (a Kafka client's, named by its stamp alone).
inline constexpr std::uint32_t no_marker_slot = UINT32_MAX;

struct TransactionMarker {
    std::int64_t producer_id = -1;
    std::int16_t epoch = -1;
    std::uint32_t slot = 0;  // the producer's slot in this partition's ring, or no_marker_slot
    log::ControlType type = log::ControlType::abort;
};

// Writes the marker, waiting (the spill woken through `wake_spill`) while the ring is full, at
// most `max_wait_ms`. Returns its offset; -1 if the topic was deleted meanwhile. Throws
// Error(timed_out) when the ring stayed full, Error(partition_owned) when an exclusive producer
// owns the ring.
[[nodiscard]] std::int64_t write_transaction_marker(Partition& p, const TransactionMarker& m,
                                                    const std::function<void()>& wake_spill,
                                                    std::int64_t max_wait_ms = 10'000);

}  // namespace kbus::bus
