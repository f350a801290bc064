#include "cli/bus_stats_view.hpp"

#include <cstdio>

namespace kbus::cli {
namespace {

const stats::PartitionStats* find(const stats::BusStats& s, const stats::PartitionStats& like) {
    for (const auto& p : s.partitions)
        if (p.topic == like.topic && p.partition == like.partition) return &p;
    return nullptr;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

}  // namespace

std::string json_quoted(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
            continue;
        }
        out += c;
    }
    return out + '"';
}

PartitionRates rates_of(const stats::BusStats& now, std::size_t index,
                        const stats::BusStats& before) {
    const stats::PartitionStats& p = now.partitions[index];
    const stats::PartitionStats* old = find(before, p);
    const double seconds = double(now.time_ms - before.time_ms) / 1000.0;
    if (old == nullptr || seconds <= 0) return {};
    PartitionRates r;
    r.produced_per_s = double(p.high_watermark - old->high_watermark) / seconds;
    std::int64_t consumed = 0;  // readers present in both snapshots, by slot
    for (const auto& [slot, offset] : p.readers)
        for (const auto& [old_slot, old_offset] : old->readers)
            if (slot == old_slot && offset >= old_offset) consumed += offset - old_offset;
    r.consumed_per_s = double(consumed) / seconds;
    return r;
}

std::string stats_json(const stats::BusStats& now, const stats::BusStats& before) {
    std::string j = "{\"time_ms\":" + std::to_string(now.time_ms) +
                    ",\"connections\":" + std::to_string(now.connections) + ",\"partitions\":[";
    for (std::size_t i = 0; i < now.partitions.size(); ++i) {
        const auto& p = now.partitions[i];
        const PartitionRates r = rates_of(now, i, before);
        j += std::string(i ? "," : "") + "{\"topic\":" + json_quoted(p.topic) +
             ",\"partition\":" + std::to_string(p.partition) +
             ",\"log_start_offset\":" + std::to_string(p.log_start_offset) +
             ",\"high_watermark\":" + std::to_string(p.high_watermark) +
             ",\"spilled_offset\":" + std::to_string(p.spilled_offset) +
             ",\"spill_lag\":" + std::to_string(p.spill_lag()) +
             ",\"ring_bytes\":" + std::to_string(p.ring_bytes) +
             ",\"ring_fill_bytes\":" + std::to_string(p.ring_fill_bytes) +
             ",\"aborted_offsets\":" + std::to_string(p.aborted_offsets) +
             ",\"ring_readers\":" + std::to_string(p.readers.size()) +
             ",\"produced_per_s\":" + number(r.produced_per_s) +
             ",\"consumed_per_s\":" + number(r.consumed_per_s) + "}";
    }
    j += "],\"groups\":[";
    for (std::size_t i = 0; i < now.groups.size(); ++i) {
        const auto& g = now.groups[i];
        j += std::string(i ? "," : "") + "{\"group\":" + json_quoted(g.group) +
             ",\"state\":" + json_quoted(g.state) + ",\"members\":" + std::to_string(g.members) +
             ",\"topic\":" + json_quoted(g.topic) +
             ",\"partition\":" + std::to_string(g.partition) +
             ",\"committed\":" + std::to_string(g.committed) + ",\"lag\":" + std::to_string(g.lag) +
             "}";
    }
    return j + "]}\n";
}

std::string stats_table(const stats::BusStats& now, const stats::BusStats& before) {
    std::string t;
    char line[256];
    std::snprintf(line, sizeof line, "%-24s %4s %12s %11s %11s %6s %10s %7s\n", "TOPIC", "PART",
                  "HIGH WATER", "PRODUCED/S", "CONSUMED/S", "RING%", "SPILL LAG", "READERS");
    t += line;
    for (std::size_t i = 0; i < now.partitions.size(); ++i) {
        const auto& p = now.partitions[i];
        const PartitionRates r = rates_of(now, i, before);
        std::snprintf(line, sizeof line, "%-24s %4d %12lld %11.0f %11.0f %5.1f%% %10lld %7zu\n",
                      p.topic.c_str(), p.partition, (long long)p.high_watermark, r.produced_per_s,
                      r.consumed_per_s,
                      p.ring_bytes ? 100.0 * double(p.ring_fill_bytes) / double(p.ring_bytes) : 0,
                      (long long)p.spill_lag(), p.readers.size());
        t += line;
    }
    if (!now.groups.empty()) {
        std::snprintf(line, sizeof line, "\n%-24s %-20s %7s %-24s %4s %12s %10s\n", "GROUP",
                      "STATE", "MEMBERS", "TOPIC", "PART", "COMMITTED", "LAG");
        t += line;
        for (const auto& g : now.groups) {
            std::snprintf(line, sizeof line, "%-24s %-20s %7u %-24s %4d %12lld %10lld\n",
                          g.group.c_str(), g.state.c_str(), g.members, g.topic.c_str(), g.partition,
                          (long long)g.committed, (long long)g.lag);
            t += line;
        }
    }
    return t;
}

std::string stats_prometheus(const stats::BusStats& now) {
    std::string m;
    auto family = [&](const char* name, const char* type, const char* help) {
        m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto partition_metric = [&](const char* name, const char* type, const char* help,
                                auto value_of) {
        family(name, type, help);
        for (const auto& p : now.partitions)
            m += std::string(name) + "{topic=" + json_quoted(p.topic) + ",partition=\"" +
                 std::to_string(p.partition) + "\"} " + std::to_string(value_of(p)) + "\n";
    };
    using P = stats::PartitionStats;
    partition_metric("kbus_partition_records_total", "counter",
                     "Records produced to the partition (its high watermark).",
                     [](const P& p) { return p.high_watermark; });
    partition_metric("kbus_partition_log_start_offset", "gauge", "The oldest offset kept.",
                     [](const P& p) { return p.log_start_offset; });
    partition_metric("kbus_partition_spill_lag_records", "gauge",
                     "Records in the ring not yet on disk.",
                     [](const P& p) { return p.spill_lag(); });
    partition_metric("kbus_partition_ring_fill_bytes", "gauge",
                     "Ring bytes producers may not reuse yet.",
                     [](const P& p) { return p.ring_fill_bytes; });
    partition_metric("kbus_partition_ring_bytes", "gauge", "The ring's capacity.",
                     [](const P& p) { return p.ring_bytes; });
    partition_metric("kbus_partition_ring_readers", "gauge", "Consumers reading from the ring.",
                     [](const P& p) { return p.readers.size(); });
    partition_metric("kbus_partition_aborted_offsets_total", "counter",
                     "Dead producers' claims turned into gaps.",
                     [](const P& p) { return p.aborted_offsets; });
    family("kbus_group_lag_records", "gauge", "High watermark minus the group's committed offset.");
    for (const auto& g : now.groups)
        m += "kbus_group_lag_records{group=" + json_quoted(g.group) +
             ",topic=" + json_quoted(g.topic) + ",partition=\"" + std::to_string(g.partition) +
             "\"} " + std::to_string(g.lag) + "\n";
    family("kbus_connections", "gauge", "Clients connected to kbusd's control socket.");
    m += "kbus_connections " + std::to_string(now.connections) + "\n";
    return m;
}

}  // namespace kbus::cli
