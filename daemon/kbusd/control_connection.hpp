// One client's connection to kbusd's control socket. Non-blocking both ways: requests pile up
// in `in` until a whole frame is there, replies wait in `out` until the socket takes them. A
// client that stops reading its replies stalls only itself: the daemon stops taking its requests
// once too many replies wait, and never blocks on it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kbusd {

// Who is at the other end of a Unix socket, as the kernel saw it at connect(): SO_PEERCRED, and
// SO_PEERGROUPS for its supplementary groups.
struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // the primary group included
};
[[nodiscard]] std::optional<PeerCredentials> peer_credentials(int fd);

class ControlConnection {
  public:
    // Replies waiting beyond this: stop reading requests until the client has taken them.
    static constexpr std::size_t reply_backlog_bytes = 4 << 20;

    ControlConnection(int fd, std::uint32_t id) noexcept : fd_(fd), id_(id) {}
    // A peer the access policy refuses: its first request is answered with `reason` (so that it
    // learns why at once, instead of retrying a dead connection), then the connection closes.
    ControlConnection(int fd, std::uint32_t id, std::string reason,
                      std::uint64_t accepted_ns) noexcept
        : fd_(fd), id_(id), refusal_(std::move(reason)), accepted_ns_(accepted_ns) {}

    // Appends what the socket has to the request buffer. False: the peer closed, or failed.
    [[nodiscard]] bool receive();
    // Sends queued replies as far as the socket takes them. False: the socket failed.
    [[nodiscard]] bool flush();
    void queue_reply(const std::string& frame) { out_ += frame; }

    [[nodiscard]] bool accepting_requests() const noexcept {
        return out_.size() < reply_backlog_bytes;
    }
    [[nodiscard]] bool replies_waiting() const noexcept { return !out_.empty(); }
    [[nodiscard]] std::string& requests() noexcept { return in_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const std::optional<std::string>& refusal() const noexcept { return refusal_; }
    [[nodiscard]] std::uint64_t accepted_ns() const noexcept { return accepted_ns_; }
    // Close once the replies queued so far are sent.
    void close_after_replies() noexcept { closing_ = true; }
    [[nodiscard]] bool done() const noexcept { return closing_ && out_.empty(); }
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
    void close();

  private:
    int fd_;
    std::uint32_t id_;
    std::string in_;
    std::string out_;
    std::optional<std::string> refusal_;
    std::uint64_t accepted_ns_ = 0;
    bool closing_ = false;
};

}  // namespace kbusd
