// The client's connection to kbusd's control socket. It doubles as the client's liveness signal:
// when the process dies the daemon sees the close and releases what the client held.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "kbus/error.hpp"
#include "kbus/protocol.hpp"

namespace kbus {

class ControlChannel {
  public:
    ControlChannel() = default;
    ControlChannel(const ControlChannel&) = delete;
    ControlChannel& operator=(const ControlChannel&) = delete;
    ControlChannel(ControlChannel&& o) noexcept
        : fd_(o.fd_),
          peer_uid_(o.peer_uid_),
          next_id_(o.next_id_),
          async_outstanding_(o.async_outstanding_) {
        o.fd_ = -1;
        o.async_outstanding_ = 0;
    }
    ControlChannel& operator=(ControlChannel&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = o.fd_;
            peer_uid_ = o.peer_uid_;
            next_id_ = o.next_id_;
            async_outstanding_ = o.async_outstanding_;
            o.fd_ = -1;
            o.async_outstanding_ = 0;
        }
        return *this;
    }
    ~ControlChannel() { close(); }

    void connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
        close();
        timeout_ = timeout;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (socket_path.size() >= sizeof(addr.sun_path))
            throw Error(ErrorCode::invalid_argument, "socket path too long: " + socket_path);
        std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            throw Error(ErrorCode::io_error, std::string("socket: ") + std::strerror(errno));
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
            const int e = errno;
            close();
            throw Error(ErrorCode::not_connected, "cannot reach kbusd at " + socket_path + ": " +
                                                      std::strerror(e) +
                                                      " (is the daemon running?)");
        }
        // The kernel's word for who listens there: the client decides whether to trust it.
        ucred cred{};
        socklen_t length = sizeof cred;
        if (::getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
            close();
            throw Error(ErrorCode::not_connected, "cannot tell who serves " + socket_path);
        }
        peer_uid_ = cred.uid;
    }

    /// The uid of the process at the other end (SO_PEERCRED at connect).
    [[nodiscard]] uid_t peer_uid() const noexcept { return peer_uid_; }

    [[nodiscard]] bool connected() const noexcept { return fd_ >= 0; }
    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        async_outstanding_ = 0;  // their replies went with the connection
    }

    /// Sends a request without waiting for its reply (Kafka's commitAsync). Replies come back in
    /// order, so the next call() reads it first; an error in it is kept for take_async_error().
    void send_async(protocol::RequestType type, const std::string& payload) {
        if (fd_ < 0) throw Error(ErrorCode::not_connected, "not connected to kbusd");
        // Unread replies fill our socket buffer, then the daemon's send blocks, then ours: read
        // them before too many pile up.
        while (async_outstanding_ >= max_async_outstanding)
            read_async_reply();
        send_frame(type, payload);
        ++async_outstanding_;
    }

    /// The first error an asynchronous request got since the last look, if any.
    [[nodiscard]] std::optional<Error> take_async_error() {
        std::optional<Error> e = std::move(async_error_);
        async_error_.reset();
        return e;
    }

    /// Sends a request and returns the reply's fields (after the error header). Throws the
    /// daemon's error as kbus::Error, or not_connected if the connection broke.
    std::string call(protocol::RequestType type, const std::string& payload) {
        if (fd_ < 0) throw Error(ErrorCode::not_connected, "not connected to kbusd");
        const protocol::FrameHeader h = send_frame(type, payload);
        for (;;) {
            protocol::FrameHeader rh{};
            read_all(&rh, sizeof(rh));
            if (rh.payload_length > protocol::max_reply_payload) fail("reply too large");
            std::string body(rh.payload_length, '\0');
            read_all(body.data(), body.size());
            protocol::Reader r(body);
            const auto code = static_cast<ErrorCode>(r.u16());
            std::string message = r.str();
            if (rh.request_id != h.request_id) {
                // An earlier asynchronous request's reply.
                if (async_outstanding_ == 0) fail("reply does not match request");
                --async_outstanding_;
                if (code != ErrorCode::ok && !async_error_) async_error_.emplace(code, message);
                continue;
            }
            if (rh.type != (h.type | protocol::reply_flag)) fail("reply does not match request");
            if (code != ErrorCode::ok) throw Error(code, message);
            return body.substr(body.size() - r.remaining());
        }
    }

  private:
    static constexpr std::uint32_t max_async_outstanding = 8;

    void read_reply(protocol::FrameHeader& rh, std::string& body) {
        read_all(&rh, sizeof(rh));
        if (rh.payload_length > protocol::max_reply_payload) fail("reply too large");
        body.assign(rh.payload_length, '\0');
        read_all(body.data(), body.size());
    }
    void read_async_reply() {
        protocol::FrameHeader rh{};
        std::string body;
        read_reply(rh, body);
        protocol::Reader r(body);
        const auto code = static_cast<ErrorCode>(r.u16());
        std::string message = r.str();
        --async_outstanding_;
        if (code != ErrorCode::ok && !async_error_) async_error_.emplace(code, message);
    }
    protocol::FrameHeader send_frame(protocol::RequestType type, const std::string& payload) {
        protocol::FrameHeader h{
            static_cast<std::uint32_t>(payload.size()), static_cast<std::uint16_t>(type),
            static_cast<std::uint16_t>(protocol::protocol_version), next_id_++, 0};
        std::string frame(reinterpret_cast<const char*>(&h), sizeof(h));
        frame += payload;
        write_all(frame.data(), frame.size());
        return h;
    }
    [[noreturn]] void fail(const char* what) {
        close();
        throw Error(ErrorCode::not_connected, std::string("kbusd connection lost: ") + what);
    }
    void wait_for(short events) {
        pollfd p{fd_, events, 0};
        for (;;) {
            const int rc = ::poll(&p, 1, static_cast<int>(timeout_.count()));
            if (rc > 0) return;
            if (rc == 0) {
                close();
                throw Error(ErrorCode::timed_out, "kbusd did not answer in time");
            }
            if (errno != EINTR) fail(std::strerror(errno));
        }
    }
    void write_all(const char* p, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    wait_for(POLLOUT);
                    continue;
                }
                fail(std::strerror(errno));
            }
            p += w;
            n -= std::size_t(w);
        }
    }
    void read_all(void* out, std::size_t n) {
        auto* p = static_cast<char*>(out);
        while (n > 0) {
            wait_for(POLLIN);
            const ssize_t r = ::recv(fd_, p, n, 0);
            if (r == 0) fail("closed by the daemon");
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                fail(std::strerror(errno));
            }
            p += r;
            n -= std::size_t(r);
        }
    }

    int fd_ = -1;
    uid_t peer_uid_ = 0;
    std::uint32_t next_id_ = 1;
    std::uint32_t async_outstanding_ = 0;
    std::optional<Error> async_error_;
    std::chrono::milliseconds timeout_{10000};
};

}  // namespace kbus
