#include "control_connection.hpp"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kbusd {

std::optional<PeerCredentials> peer_credentials(int fd) {
    ucred cred{};
    socklen_t length = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0 || length != sizeof cred)
        return std::nullopt;
    PeerCredentials peer{cred.pid, cred.uid, cred.gid, {cred.gid}};
    std::vector<gid_t> groups(64);
    socklen_t bytes = socklen_t(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) != 0 &&
        errno == ERANGE) {  // more than 64: the kernel said how many
        groups.resize(bytes / sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) != 0) bytes = 0;
    }
    groups.resize(bytes / sizeof(gid_t));
    peer.groups.insert(peer.groups.end(), groups.begin(), groups.end());
    return peer;
}

bool ControlConnection::receive() {
    for (int round = 0; round < 16; ++round) {  // at most 1 MiB a turn: others get theirs
        char buf[65536];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, std::size_t(n));
            if (std::size_t(n) < sizeof buf) return true;
            continue;
        }
        if (n == 0) return false;  // the peer closed
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return true;
}

bool ControlConnection::flush() {
    std::size_t sent = 0;
    while (sent < out_.size()) {
        const ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += std::size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;
    }
    out_.erase(0, sent);
    return true;
}

void ControlConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

}  // namespace kbusd
