// A kbusd of its own for a Kafka listener test: the listener on a free loopback port, and that
// port as a Kafka client's bootstrap address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "daemon_fixture.hpp"

namespace kbus::test {

// A loopback port free now, for a listener that keeps it across restarts (clients reconnect
// there). Another process may take it meanwhile: tests use it at once.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct KafkaDaemon {
    DaemonFixture d;
    std::string broker;  // host:port
    // `fixed_port`: the same port after d.restart(), as a Kafka broker keeps its address.
    explicit KafkaDaemon(const std::string& name, bool fixed_port = false)
        : d(name, {"--override", "listeners=PLAINTEXT://127.0.0.1:" +
                                     std::to_string(fixed_port ? free_port() : 0)}),
          broker(d.kafka_broker()) {
        REQUIRE(!broker.empty());
    }
    [[nodiscard]] std::uint16_t port() const {
        return std::uint16_t(std::stoi(broker.substr(broker.rfind(':') + 1)));
    }
};

}  // namespace kbus::test
