// A snapshot of a running bus, as `kbus stats`, `kbus top` and the Prometheus endpoint show it:
// per partition its offsets, ring fill, spill lag and where its ring consumers are; per group and
// partition its committed offset and lag. Rates come from two snapshots (the offsets only grow).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kbus/detail/message_codec.hpp"

namespace kbus::stats {

struct PartitionStats {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;  ///< next offset producers write: records produced so far
    std::int64_t spilled_offset = 0;  ///< everything below is on disk
    std::uint64_t ring_bytes = 0;
    std::uint64_t ring_fill_bytes = 0;  ///< claimed but not yet released by the spill or readers
    std::uint64_t aborted_offsets = 0;  ///< dead producers' claims turned into gaps
    /// Attached ring consumers: (reader slot, next offset it reads).
    std::vector<std::pair<std::uint32_t, std::int64_t>> readers;
    KBUS_FIELDS(topic, partition, log_start_offset, high_watermark, spilled_offset, ring_bytes,
                ring_fill_bytes, aborted_offsets, readers)

    [[nodiscard]] std::int64_t spill_lag() const noexcept {
        return high_watermark - spilled_offset;
    }
};

struct GroupPartitionLag {
    std::string group;
    std::string state;
    std::uint32_t members = 0;
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t committed = 0;
    std::int64_t lag = 0;  ///< high watermark - committed
    KBUS_FIELDS(group, state, members, topic, partition, committed, lag)
};

struct BusStats {
    std::int64_t time_ms = 0;  ///< the daemon's wall clock when taken
    std::uint32_t connections = 0;
    std::vector<PartitionStats> partitions;
    std::vector<GroupPartitionLag> groups;
    KBUS_FIELDS(time_ms, connections, partitions, groups)
};

}  // namespace kbus::stats
