// The batches at the tail of a partition's log, which is what kbusd learns producers' state from
// after a start: the spill's sequences and open transactions (PartitionSpill::learn_producers),
// and the Kafka listener's answer to a batch retried across a restart (LoggedProducerBatches).
//
// The tail is the last `tail_window_offsets` offsets below `end`, read forward; past
// `tail_max_bytes` (big records) the read skips ahead, so that the newest batches are always
// seen. A corrupt region is stepped over; any other read error ends the scan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "kbus/log/record_batch.hpp"
#include "log/partition_log.hpp"

namespace kbus::log {

inline constexpr std::int64_t tail_window_offsets = 10'000;
inline constexpr std::size_t tail_max_bytes = 64 << 20;

// Calls `on_batch` for every whole batch of the tail below `end`, oldest first.
void for_each_tail_batch(PartitionLog& log, std::int64_t end,
                         const std::function<void(const BatchView&)>& on_batch);

}  // namespace kbus::log
