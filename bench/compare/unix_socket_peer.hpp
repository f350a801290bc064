// A Unix domain stream socket (a socketpair made before the fork): the blocking baseline most
// local IPC starts from. Every message is copied in and out of the kernel.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "peer.hpp"

namespace kbus::compare {

class UnixSocketPeer final : public Peer {
  public:
    ~UnixSocketPeer() override { close_pair(); }
    [[nodiscard]] std::string name() const override { return "unix socket"; }
    void prepare(const RunSpec&) override {
        close_pair();
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) != 0)
            throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    }
    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        const bool first = spec.role == Role::pinger || spec.role == Role::receiver;
        ::close(fds_[first ? 1 : 0]);
        return std::make_unique<Side>(fds_[first ? 0 : 1], spec.payload);
    }

  private:
    class Side final : public Endpoint {
      public:
        Side(int fd, std::size_t payload) : fd_(fd), buffer_(payload, std::byte{'u'}) {}
        void send() override {
            for (std::size_t done = 0; done < buffer_.size();) {
                const ssize_t n = ::send(fd_, buffer_.data() + done, buffer_.size() - done, 0);
                if (n < 0 && errno != EINTR)
                    throw std::runtime_error(std::string("send: ") + std::strerror(errno));
                done += n > 0 ? std::size_t(n) : 0;
            }
        }
        void receive() override {
            for (std::size_t done = 0; done < buffer_.size();) {
                const ssize_t n = ::recv(fd_, buffer_.data() + done, buffer_.size() - done, 0);
                if (n == 0) throw std::runtime_error("recv: the other side closed");
                if (n < 0 && errno != EINTR)
                    throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
                done += n > 0 ? std::size_t(n) : 0;
            }
        }

      private:
        int fd_;
        std::vector<std::byte> buffer_;
    };
    void close_pair() {
        for (int& fd : fds_)
            if (fd >= 0) ::close(std::exchange(fd, -1));
    }
    int fds_[2] = {-1, -1};
};

}  // namespace kbus::compare
