// kbusd's control socket (<run dir>/kbus.sock): accepts clients the access policy admits, splits
// their byte streams into frames (protocol.hpp) and answers each request in order with a reply
// frame: an error code, a message, then the reply's fields. One thread, poll(), non-blocking
// connections: a client that sends half a frame or never reads its replies stalls only itself.
// What a request means is the handler's business (ControlHandlers).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "control_connection.hpp"
#include "kbus/protocol.hpp"
#include "logging/log_sink.hpp"

namespace kbusd {

struct ControlServerHandlers {
    // A request's reply fields; throws kbus::Error (the connection lives on).
    std::function<std::string(kbus::protocol::RequestType type, std::string_view payload,
                              std::uint32_t connection)>
        answer;
    // A connection closed: what it held is released.
    std::function<void(std::uint32_t connection)> closed;
    // Every round of the loop: timers that do not wait for requests. Returns how long the loop
    // may then wait for a request before the next round.
    std::function<std::chrono::milliseconds()> tick;
};

class ControlServer {
  public:
    ControlServer(std::string socket_path, ControlServerHandlers handlers,
                  kbus::logging::LogSink sink)
        : socket_path_(std::move(socket_path)),
          handlers_(std::move(handlers)),
          sink_(std::move(sink)) {}
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    ~ControlServer() { close(); }

    // Binds the socket (replacing a stale one) with the access policy's mode. False, logged, if
    // it cannot.
    [[nodiscard]] bool listen();
    // Serves until `stop` is set; then closes every connection.
    void serve(const std::atomic<bool>& stop);
    // Unlinks the socket and closes it: no client reaches this daemon any more.
    void close();
    [[nodiscard]] std::uint32_t connections() const noexcept {
        return connections_.load(std::memory_order_relaxed);  // a statistic
    }
    // The process at a connection's other end, as the kernel saw it at connect (0: unknown).
    // The server's thread only (handlers answering a request).
    [[nodiscard]] pid_t peer_pid(std::uint32_t connection) const {
        const auto it = peer_pids_.find(connection);
        return it == peer_pids_.end() ? 0 : it->second;
    }

  private:
    void accept_connection(std::vector<ControlConnection>& conns);
    // Answers the complete frames waiting, until too many replies wait; false closes the
    // connection (framing that cannot be trusted: an oversized frame), once the replies before it
    // are sent.
    bool answer_requests(ControlConnection& c);
    [[nodiscard]] std::string reply_frame(const kbus::protocol::FrameHeader& h,
                                          std::string_view payload, std::uint32_t connection);
    void close_connection(ControlConnection& c);

    void refuse_requests(ControlConnection& c);
    void sweep_refused(std::vector<ControlConnection>& conns);

    std::string socket_path_;
    ControlServerHandlers handlers_;
    kbus::logging::LogSink sink_;
    kbus::logging::RateLimitedLog limited_log_{sink_};
    int listen_fd_ = -1;
    [[nodiscard]] std::uint32_t take_connection_id() noexcept;
    std::uint32_t next_id_ = 1;  // 0 is orphan_owner: slots of an earlier daemon run
    std::atomic<std::uint32_t> connections_{0};
    std::unordered_map<std::uint32_t, pid_t> peer_pids_;  // the kernel's word, per connection
};

}  // namespace kbusd
