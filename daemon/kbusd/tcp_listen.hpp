// A listening TCP socket on an IPv4 address, for the daemon's optional ports (the Kafka listener,
// the metrics endpoint): bound, listening, and the port the kernel gave when asked for port 0.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "kbus/error.hpp"

namespace kbusd {

struct TcpListening {
    int fd = -1;
    std::uint16_t port = 0;
};

// `host` 0.0.0.0: every address. A host that is not IPv4 is refused naming `config_key`; a bind or
// listen that fails (a port in use) says "<doing> host:port: <why>".
inline TcpListening listen_tcp(const std::string& host, std::uint16_t port, int socket_flags,
                               int backlog, const std::string& config_key,
                               const std::string& doing) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
        throw kbus::Error(kbus::ErrorCode::invalid_argument,
                          config_key + ": '" + host + "' is not an IPv4 address");
    TcpListening l;
    l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | socket_flags, 0);
    const int one = 1;
    ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(l.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(l.fd, backlog) != 0) {
        const int e = errno;
        ::close(l.fd);
        throw kbus::Error(
            kbus::ErrorCode::io_error,
            doing + " " + host + ":" + std::to_string(port) + ": " + std::strerror(e));
    }
    socklen_t length = sizeof addr;
    ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&addr), &length);
    l.port = ntohs(addr.sin_port);
    return l;
}

}  // namespace kbusd
