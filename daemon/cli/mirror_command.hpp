// `kbus mirror --config FILE [--override key=value]... [--status]`: copies local topics to a
// Kafka cluster and Kafka topics into the bus (mirror/mirror_config.hpp, mirror_directions.hpp),
// as a process of its own, until SIGINT or SIGTERM, at least once both ways. Records keep key,
// value, headers and timestamp, and gain an origin header that keeps a two-way setup from
// looping. `--status` prints what the running mirror last reported (mirror_reports.hpp).
#pragma once

#include <string>
#include <vector>

#include "kbus/client.hpp"

namespace kbusd {

[[nodiscard]] int mirror_command(const std::vector<std::string>& args,
                                 const kbus::ClientOptions& bus);

}  // namespace kbusd
