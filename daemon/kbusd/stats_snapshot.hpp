// The bus as `kbus stats`, `kbus top` and the metrics endpoint show it: every partition's offsets,
// ring fill, spill lag and ring readers; every group's committed offset and lag.
#pragma once

#include <cstdint>

#include "bus/bus.hpp"
#include "groups/group_service.hpp"
#include "kbus/bus_stats.hpp"

namespace kbusd {

[[nodiscard]] kbus::stats::BusStats stats_snapshot(kbus::bus::Bus& bus,
                                                   kbus::groups::GroupService& groups,
                                                   std::uint32_t connections);

}  // namespace kbusd
