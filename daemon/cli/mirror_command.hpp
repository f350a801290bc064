// `kbus mirror --config FILE [--override key=value]... [--status]`: copies local topics to a
// Kafka cluster and Kafka topics into the bus (mirror/mirror_config.hpp), as a process of its
// own, until SIGINT or SIGTERM. At least once both ways:
//   out: a member of a local consumer group; produces with librdkafka's idempotent producer and
//        commits a poll's local offsets only once Kafka acknowledged every record of it;
//   in:  a member of a Kafka consumer group; commits a Kafka offset only once its record is
//        committed to the local ring.
// Records keep key, value, headers and timestamp, and gain an origin header that keeps a
// two-way setup from looping. `--status` prints what the running mirror last reported.
#pragma once

#include <string>
#include <vector>

#include "kbus/client.hpp"

namespace kbusd {

[[nodiscard]] int mirror_command(const std::vector<std::string>& args,
                                 const kbus::ClientOptions& bus);

// What the mirrors of a bus last reported (their status files in its run dir), for kbus stats
// and kbus top: one entry per mirror group, with the report's age.
struct MirrorReport {
    std::string group;
    double age_s = 0;
    std::string text;  // as --status prints it
};
[[nodiscard]] std::vector<MirrorReport> mirror_reports(const std::string& run_dir);

}  // namespace kbusd
