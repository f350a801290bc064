// A kbusd of its own for a Kafka listener test: the listener on a free loopback port, and that
// port as a Kafka client's bootstrap address.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "daemon_fixture.hpp"

namespace kbus::test {

struct KafkaDaemon {
    DaemonFixture d;
    std::string broker;  // host:port
    explicit KafkaDaemon(const std::string& name)
        : d(name, {"--override", "listeners=PLAINTEXT://127.0.0.1:0"}), broker(d.kafka_broker()) {
        REQUIRE(!broker.empty());
    }
    [[nodiscard]] std::uint16_t port() const {
        return std::uint16_t(std::stoi(broker.substr(broker.rfind(':') + 1)));
    }
};

}  // namespace kbus::test
