// The lock behind an exclusive producer (ProducerOptions::exclusive, ClaimLine in
// ring_descriptor.hpp): an open file description lock on the first byte of the ring's file.
//
// The kernel drops it when its holder dies, so a dead owner never keeps a partition, and nothing
// in it depends on kbusd: it holds across kbusd's restarts. Whoever holds it may set or clear the
// ring's ownership bit; a producer that finds the bit set takes the lock to learn whether the
// owner still lives (it cannot take it) or died (it can, and clears the bit).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "kbus/error.hpp"
#include "kbus/ring_writer.hpp"

namespace kbus {

class ExclusiveLease {
  public:
    /// The lease of the ring file at `path`, or nullopt while someone else holds it (another
    /// process, or another lease in this one: each open of the file is a holder of its own).
    [[nodiscard]] static std::optional<ExclusiveLease> try_take(const std::string& path) {
        ExclusiveLease lease(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
        if (lease.fd_ < 0)
            throw Error(ErrorCode::io_error,
                        "cannot open ring " + path + " to own it: " + std::strerror(errno));
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = 0;
        lock.l_len = 1;
        if (::fcntl(lease.fd_, F_OFD_SETLK, &lock) == 0) return lease;
        if (errno == EAGAIN || errno == EACCES) return std::nullopt;
        throw Error(ErrorCode::io_error, "cannot lock ring " + path + ": " + std::strerror(errno));
    }

    /// Like try_take, but waits out a holder that only passes through (a producer clearing a
    /// dead owner's bit holds the lease for microseconds): nullopt after `patience`.
    [[nodiscard]] static std::optional<ExclusiveLease> take(const std::string& path,
                                                            std::chrono::milliseconds patience) {
        const auto until = std::chrono::steady_clock::now() + patience;
        for (;;) {
            if (auto lease = try_take(path)) return lease;
            if (std::chrono::steady_clock::now() >= until) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }

    ExclusiveLease(ExclusiveLease&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    ExclusiveLease& operator=(ExclusiveLease&& other) noexcept {
        if (this != &other) {
            release();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ExclusiveLease(const ExclusiveLease&) = delete;
    ExclusiveLease& operator=(const ExclusiveLease&) = delete;
    ~ExclusiveLease() { release(); }

  private:
    explicit ExclusiveLease(int fd) noexcept : fd_(fd) {}
    void release() noexcept {
        if (fd_ >= 0) ::close(fd_);  // closing the description drops its lock
        fd_ = -1;
    }

    int fd_ = -1;
};

/// A writer made the ring's only producer for as long as this lives: the bit is set once the
/// lease is held, and cleared before the lease goes.
class ExclusiveOwnership {
  public:
    ExclusiveOwnership(ExclusiveLease lease, ring::RingWriter& writer) noexcept
        : lease_(std::move(lease)), writer_(&writer) {
        writer.take_exclusive();
    }
    ExclusiveOwnership(ExclusiveOwnership&& other) noexcept
        : lease_(std::move(other.lease_)), writer_(std::exchange(other.writer_, nullptr)) {}
    ExclusiveOwnership& operator=(ExclusiveOwnership&&) = delete;
    ExclusiveOwnership(const ExclusiveOwnership&) = delete;
    ExclusiveOwnership& operator=(const ExclusiveOwnership&) = delete;
    ~ExclusiveOwnership() {
        if (writer_ != nullptr) writer_->give_up_exclusive();
    }

  private:
    ExclusiveLease lease_;  // released after the destructor's body has cleared the bit
    ring::RingWriter* writer_;
};

/// For a producer that found the ring owned: clears the bit if its owner died (true: claim
/// again), or false while the owner lives.
[[nodiscard]] inline bool reclaim_abandoned_ring(const std::string& path, ring::RingHeader& h) {
    const std::optional<ExclusiveLease> lease = ExclusiveLease::try_take(path);
    // Held: an owner lives, or one was letting go between clearing its bit and its lease.
    if (!lease) return !ring::owned_exclusively(h);
    ring::RingWriter::clear_ownership(h);
    return true;
}

}  // namespace kbus
