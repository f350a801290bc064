// How a bus snapshot is shown: JSON for scripts (`kbus stats --json`), a table for people
// (`kbus stats`, `kbus top`), and Prometheus' text format (kbusd's metrics endpoint). Rates come
// from two snapshots: records produced (high watermark) and consumed (ring readers' offsets)
// per second between them.
#pragma once

#include <string>
#include <string_view>

#include "kbus/bus_stats.hpp"

namespace kbus::cli {

struct PartitionRates {
    double produced_per_s = 0;
    double consumed_per_s = 0;
};

// Rates of `now`'s partition `index` against the same partition in `before` (0 if absent).
[[nodiscard]] PartitionRates rates_of(const stats::BusStats& now, std::size_t index,
                                      const stats::BusStats& before);

// A JSON string literal (quotes, backslashes and control characters escaped).
[[nodiscard]] std::string json_quoted(std::string_view s);

[[nodiscard]] std::string stats_json(const stats::BusStats& now, const stats::BusStats& before);
[[nodiscard]] std::string stats_table(const stats::BusStats& now, const stats::BusStats& before);
[[nodiscard]] std::string stats_prometheus(const stats::BusStats& now);

}  // namespace kbus::cli
