// The mirror's two directions, each run on a thread of its own until g_stop:
//   out: local topics to Kafka, as a member of a local consumer group; produces with librdkafka's
//        idempotent producer and commits a poll's local offsets only once Kafka acknowledged
//        every record of it;
//   in:  Kafka topics into the bus, as a member of a Kafka consumer group; stores a Kafka offset
//        for commit only once its record is committed to the local ring.
#pragma once

#include <memory>
#include <string>

#include "kbus/client.hpp"
#include "mirror/mirror_config.hpp"
#include "mirror_status.hpp"

namespace kbusd::mirror {

class Direction {
  public:
    virtual ~Direction() = default;
    virtual void run() = 0;
};

[[nodiscard]] std::unique_ptr<Direction> make_out_mirror(const kbus::mirror::MirrorConfig& config,
                                                         const kbus::ClientOptions& bus,
                                                         std::string origin,
                                                         DirectionStatus& status);
[[nodiscard]] std::unique_ptr<Direction> make_in_mirror(const kbus::mirror::MirrorConfig& config,
                                                        const kbus::ClientOptions& bus,
                                                        std::string origin,
                                                        DirectionStatus& status);

}  // namespace kbusd::mirror
