#include "kafka_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "tcp_listen.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

// A connection stops reading requests while this much of its responses waits to be sent: a
// client that does not read stalls itself, never the listener.
constexpr std::uint64_t max_queued_response_bytes = 64u << 20;
// Received and not yet served, beyond the request at the front.
constexpr std::size_t read_ahead_bytes = 4u << 20;
// How often parked requests are tried again (a fetch waiting for the spill, a join).
constexpr int park_poll_ms = 1;

}  // namespace

KafkaListener::KafkaListener(KafkaBackend& backend, KafkaListenerOptions options, Log log)
    : backend_(backend),
      options_(std::move(options)),
      log_(std::move(log)),
      producers_([this] { return backend_.new_producer_id(); }) {}

std::uint16_t KafkaListener::start() {
    // listeners=PLAINTEXT://:9092 (no host) means every address, as in Kafka.
    const std::string host = options_.bind_host.empty() ? "0.0.0.0" : options_.bind_host;
    const TcpListening l = listen_tcp(host, options_.port, SOCK_NONBLOCK, 128, "listeners",
                                      "cannot listen for Kafka clients on");
    listen_fd_ = l.fd;
    const std::uint16_t port = l.port;
    if (options_.advertised_host.empty())
        options_.advertised_host = options_.bind_host.empty() ? "127.0.0.1" : options_.bind_host;
    if (options_.advertised_port < 0) options_.advertised_port = port;

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    thread_ = std::thread([this] { run(); });
    return port;
}

void KafkaListener::stop() {
    stopping_.store(true, std::memory_order_relaxed);
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, c] : connections_)
        ::close(fd);
    connections_.clear();
    for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
}

void KafkaListener::wake() noexcept {
    if (wake_fd_ < 0) return;
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
}

void KafkaListener::run() {
    epoll_event events[64];
    while (!stopping_.load(std::memory_order_relaxed)) {
        bool any_parked = false;
        for (auto& [fd, c] : connections_)
            any_parked = any_parked || c->parked.has_value();
        const int n = ::epoll_wait(epoll_fd_, events, 64, any_parked ? park_poll_ms : 100);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listen_fd_) {
                accept_all();
                continue;
            }
            if (fd == wake_fd_) {
                std::uint64_t count = 0;  // drained: the level-triggered fd would wake us again
                (void)!::read(wake_fd_, &count, sizeof count);
                continue;
            }
            const auto it = connections_.find(fd);
            if (it == connections_.end()) continue;
            KafkaConnection& c = *it->second;
            if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                close(c, "");  // reset or hung up: nothing can be sent back
                continue;
            }
            if (events[i].events & EPOLLIN) on_readable(c);
            if (c.fd >= 0 && (events[i].events & EPOLLOUT)) on_writable(c);
        }
        // Parked requests try again (their wait may be over), and a connection freed of its
        // backlog takes up the requests it had read ahead.
        const std::int64_t now = kbus::detail::wall_clock_ms();
        for (auto& [fd, c] : connections_)
            if (c->fd >= 0 && !c->closing && (c->parked || !c->in.empty())) {
                serve_requests(*c, now);
                if (c->fd >= 0) on_writable(*c);
            }
        std::erase_if(connections_, [](const auto& kv) { return kv.second->fd < 0; });
    }
}

void KafkaListener::accept_all() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<KafkaConnection>();
        c->fd = fd;
        c->id = next_connection_id_++;
        epoll_event ev{};
        ev.events = c->epoll_events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        connections_[fd] = std::move(c);
    }
}

void KafkaListener::on_readable(KafkaConnection& c) {
    if (c.closing) return;
    char buf[64 * 1024];
    for (;;) {
        // Read ahead only so far: beyond it the kernel's buffer holds the client back.
        std::size_t wanted = read_ahead_bytes;
        if (c.in.size() >= frame_size_bytes) {
            const std::int32_t size = kbus::detail::load_be<std::int32_t>(c.in.data());
            if (size > 0) wanted = std::max(wanted, std::size_t(size) + frame_size_bytes);
        }
        if (c.in.size() >= wanted) break;
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c.in.append(buf, std::size_t(n));
            continue;
        }
        if (n == 0) return close(c, "");  // the client went away (perhaps mid-request)
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return close(c, std::string("receive failed: ") + std::strerror(errno));
    }
    serve_requests(c, kbus::detail::wall_clock_ms());
    if (c.fd >= 0) on_writable(c);
}

void KafkaListener::on_writable(KafkaConnection& c) {
    while (!c.out.empty()) {
        auto& front = c.out.front();
        ssize_t n = 0;
        std::uint64_t left = 0;
        if (auto* bytes = std::get_if<std::string>(&front)) {
            left = bytes->size() - c.sent_in_front;
            n = ::send(c.fd, bytes->data() + c.sent_in_front, left, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            const FileExtent& e = std::get<FileExtent>(front);
            left = e.length - c.sent_in_front;
            off_t at = off_t(e.position + c.sent_in_front);
            n = ::sendfile(c.fd, *e.fd, &at, std::min<std::uint64_t>(left, 1u << 30));
            // A segment cut shorter than the extent the response promised: the frame cannot
            // be completed, so the connection must go (the client retries elsewhere).
            if (n == 0) return close(c, "segment shorter than its extent");
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return close(c, std::string("send failed: ") + std::strerror(errno));
        }
        c.out_bytes -= std::uint64_t(n);
        c.sent_in_front += std::uint64_t(n);
        if (std::uint64_t(n) == left) {
            c.out.pop_front();
            c.sent_in_front = 0;
        }
    }
    if (c.closing && c.out.empty()) return close(c, "");
    update_interest(c);
}

void KafkaListener::update_interest(KafkaConnection& c) {
    std::uint32_t wanted = 0;
    const bool accepting = !c.parked && c.out_bytes < max_queued_response_bytes;
    if (!c.closing && (accepting || c.in.size() < read_ahead_bytes)) wanted |= EPOLLIN;
    if (!c.out.empty()) wanted |= EPOLLOUT;
    if (wanted == c.epoll_events) return;
    epoll_event ev{};
    ev.events = c.epoll_events = wanted;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void KafkaListener::warn(const std::string& key, const std::string& message) {
    // One cause, whatever its numbers (sizes, API keys): "frame of 123 bytes" and "of 456" alike.
    std::string cause = key;
    std::erase_if(cause, [](char ch) { return ch >= '0' && ch <= '9'; });
    limited_log_.write(cause, "WARN", message, kbus::detail::monotonic_ns());
}

void KafkaListener::close_after_answers(KafkaConnection& c, const std::string& why) {
    warn("close: " + why, "Kafka connection " + std::to_string(c.id) + ": " + why + ", closing");
    c.closing = true;
    c.parked.reset();
    c.in.clear();
}

void KafkaListener::close(KafkaConnection& c, const std::string& why) {
    if (c.fd < 0) return;
    if (!why.empty())
        warn("close: " + why,
             "Kafka connection " + std::to_string(c.id) + ": " + why + ", closing");
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.parked.reset();
}

// Serves the complete frames at the front of `in`, in order, until one parks or the response
// backlog is full.
void KafkaListener::serve_requests(KafkaConnection& c, std::int64_t now_ms) {
    std::size_t used = 0;
    while (c.fd >= 0 && !c.closing && c.out_bytes < max_queued_response_bytes) {
        const std::string_view rest = std::string_view(c.in).substr(used);
        if (rest.size() < frame_size_bytes) break;
        const std::int32_t size = kbus::detail::load_be<std::int32_t>(rest.data());
        if (size < 8 || size > options_.max_request_bytes) {
            // Framing that cannot be trusted: nothing after it can be found.
            close_after_answers(c, "request frame of " + std::to_string(size) +
                                       " bytes (socket.request.max.bytes is " +
                                       std::to_string(options_.max_request_bytes) + ")");
            return;
        }
        if (rest.size() < frame_size_bytes + std::size_t(size)) break;
        WireReader frame(rest.substr(frame_size_bytes, std::size_t(size)));
        RequestHeader h;
        bool done = true;
        try {
            h = RequestHeader::read(frame);
        } catch (const KafkaDecodeError& e) {
            close_after_answers(c, std::string("malformed request header: ") + e.what());
            return;
        }
        try {
            done = serve(c, h, frame, now_ms);
        } catch (const KafkaDecodeError& e) {
            // A body that does not parse: Kafka closes the connection, and so do we (the client
            // then knows the request failed, rather than waiting for an answer forever).
            close_after_answers(c, "malformed " + std::to_string(h.api_key) + " v" +
                                       std::to_string(h.api_version) + " request: " + e.what());
            return;
        }
        if (!done) break;  // parked: it stays at the front
        c.parked.reset();
        used += frame_size_bytes + std::size_t(size);
    }
    if (c.fd >= 0 && !c.closing) c.in.erase(0, used);
}

void KafkaListener::respond(KafkaConnection& c, const RequestHeader& h, ResponseBuilder& body) {
    WireWriter head;
    head.i32(std::int32_t(4 + body.size()));
    head.i32(h.correlation_id);
    std::vector<std::variant<std::string, FileExtent>> pieces;
    pieces.emplace_back(std::move(head.buffer()));
    c.queue(std::move(pieces));
    c.queue(body.finish());
}

}  // namespace kbusd
