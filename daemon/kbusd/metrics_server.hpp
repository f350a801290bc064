// kbusd's optional Prometheus endpoint: GET /metrics on a loopback TCP port (kbus.metrics.port),
// answered from a thread of its own with whatever `render` returns (the bus's stats in
// Prometheus' text format). One request per connection; anything else gets 404 or 400.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace kbusd {

class MetricsServer {
  public:
    using Render = std::function<std::string()>;
    MetricsServer() = default;
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    ~MetricsServer() { stop(); }

    // Binds address:port (0: any free port) and starts serving. Returns the port, or throws
    // kbus::Error(io_error) naming the address (e.g. a port in use).
    std::uint16_t start(const std::string& address, std::uint16_t port, Render render);
    void stop();

  private:
    void serve();
    void answer(int fd);

    int listen_fd_ = -1;
    Render render_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace kbusd
