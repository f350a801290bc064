// What kbus_compare measures every system through. A run is two processes pinned to different
// cores: a pinger that times round trips and an echoer (latency), or a receiver that times a
// stream and a sender (throughput). Each system opens an Endpoint for its side; the loops that
// send, receive and time are the same for every system (run_pair.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../latency_histogram.hpp"

namespace kbus::compare {

using bench::LatencyHistogram;

enum class Role { pinger, echoer, receiver, sender };

struct RunSpec {
    std::size_t payload = 64;
    Role role = Role::pinger;
    // Latency runs send a message whose bytes the sender writes only in part (the first 8), so
    // that zero-copy systems show what they are; streams write every byte of every message.
    [[nodiscard]] bool writes_whole_payload() const noexcept { return role == Role::sender; }
};

// One side of a run. pinger: send, then receive the echo. echoer: receive, then send. sender:
// send. receiver: receive. Errors are thrown (std::exception); the run reports them.
class Endpoint {
  public:
    virtual ~Endpoint() = default;
    virtual void send() = 0;
    virtual void receive() = 0;
    // After a sender's last send: anything it held back to send together goes now.
    virtual void flush() {}
};

class Peer {
  public:
    virtual ~Peer() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    // Empty when the system can be measured here; else the reason it is skipped.
    [[nodiscard]] virtual std::string unavailable_reason() { return {}; }
    // Called in kbus_compare's own process before each run's two processes are forked.
    virtual void prepare(const RunSpec& /*spec*/) {}
    // Called in kbus_compare's own process after each run's two processes have ended (or after
    // prepare failed): what prepare started for the run stops here.
    virtual void finish() {}
    // Called in each run's child process, pinned to its core.
    [[nodiscard]] virtual std::unique_ptr<Endpoint> open(const RunSpec& spec) = 0;
    [[nodiscard]] virtual bool measures_throughput() const { return true; }
    [[nodiscard]] virtual bool measures_latency() const { return true; }
};

}  // namespace kbus::compare
