#include "control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "security/access_policy.hpp"

namespace kbusd {

using kbus::Error;
using kbus::ErrorCode;
namespace protocol = kbus::protocol;

bool ControlServer::listen() {
    ::unlink(socket_path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof(addr.sun_path)) {
        sink_("ERROR", "socket path too long: " + socket_path_);
        return false;
    }
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    const mode_t old = ::umask(0177);  // nobody else between bind and the policy's mode
    const int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::umask(old);
    if (rc == 0) kbus::security::access_policy().apply_to_path(socket_path_, false);
    if (rc != 0 || ::listen(listen_fd_, 128) != 0) {
        sink_("ERROR", "cannot listen on " + socket_path_ + ": " + std::strerror(errno));
        return false;
    }
    return true;
}

void ControlServer::close() {
    if (listen_fd_ < 0) return;
    ::unlink(socket_path_.c_str());
    ::close(listen_fd_);
    listen_fd_ = -1;
}

void ControlServer::serve(const std::atomic<bool>& stop) {
    std::vector<ControlConnection> conns;
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds wait = handlers_.tick();
    Clock::time_point last_tick = Clock::now();
    // Relaxed: a flag checked once per round (at most `wait` late).
    while (!stop.load(std::memory_order_relaxed)) {
        std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
        for (auto& c : conns)
            fds.push_back(
                {c.fd(),
                 short((c.accepting_requests() ? POLLIN : 0) | (c.replies_waiting() ? POLLOUT : 0)),
                 0});
        // Group sessions and rebalance deadlines are checked between polls; an idle daemon wakes
        // ten times a second for them, not more (it shares cores with busy-polling clients).
        const int ready = ::poll(fds.data(), fds.size(), int(wait.count()));
        // After requests too, but at most once a millisecond: a storm of requests (a consumer
        // attaching to 10,000 partitions) is not a storm of ticks.
        if (const Clock::time_point now = Clock::now();
            now - last_tick >= std::chrono::milliseconds(1)) {
            wait = handlers_.tick();
            last_tick = now;
        }
        if (ready <= 0) continue;
        if (fds[0].revents & POLLIN) accept_connection(conns);
        for (std::size_t i = 1; i < fds.size(); ++i) {
            ControlConnection& c = conns[i - 1];
            if (fds[i].revents == 0) continue;
            bool ok = true;
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ok = c.receive();
            if (ok) ok = answer_requests(c) && c.flush();
            if (ok && c.accepting_requests()) ok = answer_requests(c) && c.flush();
            if (!ok || c.done()) close_connection(c);
        }
        sweep_refused(conns);
        std::erase_if(conns, [](const ControlConnection& c) { return c.fd() < 0; });
        connections_.store(std::uint32_t(conns.size()), std::memory_order_relaxed);
    }
    for (auto& c : conns)
        c.close();
}

// Only the bus's owner (or root, or the policy's group) may connect: the kernel's word for who
// is calling. Anyone else is told why at their first request, then disconnected.
void ControlServer::accept_connection(std::vector<ControlConnection>& conns) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    const std::optional<PeerCredentials> peer = peer_credentials(fd);
    const kbus::security::AccessPolicy& access = kbus::security::access_policy();
    if (peer && access.admits(peer->uid, peer->groups, ::geteuid())) {
        conns.emplace_back(fd, take_connection_id());
        peer_pids_[conns.back().id()] = peer->pid;
        return;
    }
    const std::string who =
        peer ? "uid " + std::to_string(peer->uid) : std::string("a peer without credentials");
    const std::string reason = "this bus serves only uid " + std::to_string(::geteuid()) +
                               (access.group ? ", root and group " + std::to_string(*access.group)
                                             : std::string(" and root")) +
                               ", not " + who;
    limited_log_.write("refused " + who, "WARN",
                       "refused a connection from " +
                           (peer ? "pid " + std::to_string(peer->pid) + " (" + who + ")" : who) +
                           ": " + reason,
                       kbus::detail::monotonic_ns());
    conns.emplace_back(fd, take_connection_id(), reason, kbus::detail::monotonic_ns());
}

// Ids never repeat among live connections in practice (2^32 accepts), and never take 0, which
// marks slots an earlier daemon run left behind.
std::uint32_t ControlServer::take_connection_id() noexcept {
    // 0 and the largest id are no connection's: slots of an earlier daemon, and the
    // transactions of Kafka clients (TransactionCoordinator::no_connection).
    if (next_id_ == 0 || next_id_ == UINT32_MAX) next_id_ = 1;
    return next_id_++;
}

// A refused peer's first request gets the refusal as its answer; the connection then closes.
void ControlServer::refuse_requests(ControlConnection& c) {
    const protocol::SplitFrame f = protocol::split_frame(c.requests(), protocol::max_frame_payload);
    if (f.status == protocol::SplitFrame::Status::incomplete) return;
    if (f.status == protocol::SplitFrame::Status::oversized) return c.close();
    protocol::Writer reply;
    reply.u16(static_cast<std::uint16_t>(ErrorCode::permission_denied));
    reply.str(*c.refusal());
    const protocol::FrameHeader rh{static_cast<std::uint32_t>(reply.bytes().size()),
                                   static_cast<std::uint16_t>(f.header.type | protocol::reply_flag),
                                   f.header.version, f.header.request_id, 0};
    std::string out(reinterpret_cast<const char*>(&rh), sizeof(rh));
    out += reply.bytes();
    c.queue_reply(out);
    c.requests().clear();
    c.close_after_replies();
}

// Refused peers that never send a request are not kept waiting for one.
void ControlServer::sweep_refused(std::vector<ControlConnection>& conns) {
    constexpr std::uint64_t patience_ns = 2'000'000'000;
    const std::uint64_t now = kbus::detail::monotonic_ns();
    for (auto& c : conns)
        if (c.fd() >= 0 && c.refusal() && now - c.accepted_ns() > patience_ns) c.close();
}

void ControlServer::close_connection(ControlConnection& c) {
    handlers_.closed(c.id());
    peer_pids_.erase(c.id());
    c.close();
}

bool ControlServer::answer_requests(ControlConnection& c) {
    if (c.refusal()) {
        refuse_requests(c);
        return true;
    }
    std::string& in = c.requests();
    std::size_t used = 0;
    while (c.accepting_requests()) {
        using Status = protocol::SplitFrame::Status;
        const protocol::SplitFrame f =
            protocol::split_frame(std::string_view(in).substr(used), protocol::max_frame_payload);
        if (f.status == Status::oversized) {
            limited_log_.write("oversized frame", "WARN",
                               "connection " + std::to_string(c.id()) + ": frame of " +
                                   std::to_string(f.header.payload_length) +
                                   " bytes exceeds the limit, closing",
                               kbus::detail::monotonic_ns());
            // The requests before it were answered: their replies go out before the close (as
            // far as the socket takes them now; the connection does not wait for its reader).
            (void)c.flush();
            return false;
        }
        if (f.status == Status::incomplete) break;
        c.queue_reply(reply_frame(f.header, f.payload, c.id()));
        used += f.frame_bytes;
    }
    in.erase(0, used);
    return true;
}

// One request's reply frame: its fields, or the error it met.
std::string ControlServer::reply_frame(const protocol::FrameHeader& h, std::string_view payload,
                                       std::uint32_t connection) {
    protocol::Writer reply;
    try {
        const std::string body =
            handlers_.answer(static_cast<protocol::RequestType>(h.type), payload, connection);
        reply.u16(0);
        reply.str("");
        reply.raw(body.data(), body.size());
    } catch (const Error& e) {
        reply = {};
        reply.u16(static_cast<std::uint16_t>(e.code()));
        reply.str(e.what());
    } catch (const std::exception& e) {
        reply = {};
        reply.u16(static_cast<std::uint16_t>(ErrorCode::unknown));
        reply.str(e.what());
    }
    const protocol::FrameHeader rh{static_cast<std::uint32_t>(reply.bytes().size()),
                                   static_cast<std::uint16_t>(h.type | protocol::reply_flag),
                                   h.version, h.request_id, 0};
    std::string out(reinterpret_cast<const char*>(&rh), sizeof(rh));
    out += reply.bytes();
    return out;
}

}  // namespace kbusd
