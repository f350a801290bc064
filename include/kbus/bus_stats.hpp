// A snapshot of a running bus, as `kbus stats`, `kbus top` and the Prometheus endpoint show it:
// per partition its offsets, ring fill, spill lag and where its ring consumers are; per group and
// partition its committed offset and lag. Rates come from two snapshots (the offsets only grow).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kbus/protocol.hpp"

namespace kbus::stats {

struct PartitionStats {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;  // next offset producers write: records produced so far
    std::int64_t spilled_offset = 0;  // everything below is on disk
    std::uint64_t ring_bytes = 0;
    std::uint64_t ring_fill_bytes = 0;  // claimed but not yet released by the spill or readers
    std::uint64_t aborted_offsets = 0;  // dead producers' claims turned into gaps
    // Attached ring consumers: (reader slot, next offset it reads).
    std::vector<std::pair<std::uint32_t, std::int64_t>> readers;

    [[nodiscard]] std::int64_t spill_lag() const noexcept {
        return high_watermark - spilled_offset;
    }

    void write(protocol::Writer& w) const {
        w.str(topic);
        w.i32(partition);
        w.i64(log_start_offset);
        w.i64(high_watermark);
        w.i64(spilled_offset);
        w.u64(ring_bytes);
        w.u64(ring_fill_bytes);
        w.u64(aborted_offsets);
        w.u32(std::uint32_t(readers.size()));
        for (const auto& [slot, offset] : readers) {
            w.u32(slot);
            w.i64(offset);
        }
    }
    static PartitionStats read(protocol::Reader& r) {
        PartitionStats s;
        s.topic = r.str();
        s.partition = r.i32();
        s.log_start_offset = r.i64();
        s.high_watermark = r.i64();
        s.spilled_offset = r.i64();
        s.ring_bytes = r.u64();
        s.ring_fill_bytes = r.u64();
        s.aborted_offsets = r.u64();
        s.readers.resize(r.count(12));
        for (auto& [slot, offset] : s.readers) {
            slot = r.u32();
            offset = r.i64();
        }
        return s;
    }
};

struct GroupPartitionLag {
    std::string group;
    std::string state;
    std::uint32_t members = 0;
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t committed = 0;
    std::int64_t lag = 0;  // high watermark - committed

    void write(protocol::Writer& w) const {
        w.str(group);
        w.str(state);
        w.u32(members);
        w.str(topic);
        w.i32(partition);
        w.i64(committed);
        w.i64(lag);
    }
    static GroupPartitionLag read(protocol::Reader& r) {
        GroupPartitionLag g;
        g.group = r.str();
        g.state = r.str();
        g.members = r.u32();
        g.topic = r.str();
        g.partition = r.i32();
        g.committed = r.i64();
        g.lag = r.i64();
        return g;
    }
};

struct BusStats {
    std::int64_t time_ms = 0;  // the daemon's wall clock when taken
    std::uint32_t connections = 0;
    std::vector<PartitionStats> partitions;
    std::vector<GroupPartitionLag> groups;

    void write(protocol::Writer& w) const {
        w.i64(time_ms);
        w.u32(connections);
        w.u32(std::uint32_t(partitions.size()));
        for (const auto& p : partitions)
            p.write(w);
        w.u32(std::uint32_t(groups.size()));
        for (const auto& g : groups)
            g.write(w);
    }
    static BusStats read(protocol::Reader& r) {
        BusStats s;
        s.time_ms = r.i64();
        s.connections = r.u32();
        s.partitions.resize(r.count(60));
        for (auto& p : s.partitions)
            p = PartitionStats::read(r);
        s.groups.resize(r.count(40));
        for (auto& g : s.groups)
            g = GroupPartitionLag::read(r);
        return s;
    }
};

}  // namespace kbus::stats
