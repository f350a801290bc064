#include "stats_snapshot.hpp"

#include "kbus/detail/clock.hpp"

namespace kbusd {

kbus::stats::BusStats stats_snapshot(kbus::bus::Bus& bus, kbus::groups::GroupService& groups,
                                     std::uint32_t connections) {
    kbus::stats::BusStats s;
    s.time_ms = kbus::detail::wall_clock_ms();
    s.connections = connections;
    for (const auto& part : bus.partitions()) {
        const kbus::protocol::PartitionState d = part->state();
        kbus::stats::PartitionStats p;
        p.topic = part->topic();
        p.partition = part->index();
        p.log_start_offset = d.log_start_offset;
        p.high_watermark = d.high_watermark;
        p.spilled_offset = d.spill_offset;
        p.ring_bytes = d.ring_bytes;
        p.ring_fill_bytes = d.ring_fill_bytes;
        p.aborted_offsets = part->spill_aborted_offsets();
        p.readers = part->gate().readers();
        s.partitions.push_back(std::move(p));
    }
    s.groups = groups.lags();
    return s;
}

}  // namespace kbusd
