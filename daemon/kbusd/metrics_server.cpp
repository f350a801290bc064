#include "metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kbus/error.hpp"
#include "tcp_listen.hpp"

namespace kbusd {

std::uint16_t MetricsServer::start(const std::string& address, std::uint16_t port, Render render) {
    render_ = std::move(render);
    const TcpListening l =
        listen_tcp(address, port, 0, 16, "kbus.metrics.address", "cannot serve metrics on");
    listen_fd_ = l.fd;
    thread_ = std::thread([this] { serve(); });
    return l.port;
}

void MetricsServer::stop() {
    stopping_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

void MetricsServer::serve() {
    while (!stopping_.load(std::memory_order_relaxed)) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;  // wakes to notice stop()
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        answer(fd);
        ::close(fd);
    }
}

// Reads the request head (a second at most, 8 KiB at most) and answers it.
void MetricsServer::answer(int fd) {
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        request.append(buf, std::size_t(n));
    }
    std::string status = "400 Bad Request", body = "bad request\n";
    const std::string line = request.substr(0, request.find("\r\n"));
    if (line.rfind("GET /metrics ", 0) == 0 || line.rfind("GET /metrics?", 0) == 0) {
        status = "200 OK";
        body = render_();
    } else if (line.rfind("GET ", 0) == 0) {
        status = "404 Not Found";
        body = "kbusd serves /metrics only\n";
    }
    const std::string response =
        "HTTP/1.1 " + status + "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
}

}  // namespace kbusd
