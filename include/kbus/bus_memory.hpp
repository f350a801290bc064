// A client's hold on the bus's shared memory: the directory the daemon named (its
// SharedMemoryDirectory), the clients' lock in it, the control segment, and the rings it maps.
//
// The lock is what keeps a clean daemon stop from removing rings a process still writes into:
// the client holds a shared flock on <dir>/clients.lock for as long as anything of the directory
// is mapped (every TopicHandle keeps it too), and the daemon removes the directory only when it
// can take that lock exclusively. The kernel drops the lock when the process dies: no lock here
// can outlive a crashed holder.
//
// Every file is checked before it is mapped: it must belong to the daemon's uid (the peer the
// control socket's SO_PEERCRED named), with no access for others (shared_memory.hpp).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "kbus/control_descriptor.hpp"
#include "kbus/error.hpp"
#include "kbus/shared_memory.hpp"

namespace kbus {

/// A shared flock on the directory's clients.lock, held while this object lives.
class ClientsLock {
  public:
    /// Throws Error(not_connected) when the directory is going away (the daemon removed it while
    /// we waited), Error(permission_denied) when the lock file is not the daemon's.
    ClientsLock(const std::string& dir, uid_t owner) {
        const std::string path = dir + "/clients.lock";
        fd_ = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd_ < 0)
            throw Error(errno == ELOOP ? ErrorCode::permission_denied : ErrorCode::not_connected,
                        "cannot open " + path + ": " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != owner) {
            release();
            throw Error(ErrorCode::permission_denied, "refusing " + path +
                                                          ": not a file of the daemon's (uid " +
                                                          std::to_string(owner) + ")");
        }
        // Blocks only while a stopping daemon holds it exclusively to remove the directory.
        while (::flock(fd_, LOCK_SH) != 0 && errno == EINTR) {
        }
        if (::fstat(fd_, &st) != 0 || st.st_nlink == 0) {
            release();
            throw Error(ErrorCode::not_connected,
                        "kbusd removed its shared memory " + dir + " (it stopped)");
        }
    }
    ClientsLock(const ClientsLock&) = delete;
    ClientsLock& operator=(const ClientsLock&) = delete;
    ~ClientsLock() { release(); }

  private:
    void release() noexcept {
        if (fd_ >= 0) ::close(fd_);  // closing drops the flock
        fd_ = -1;
    }
    int fd_ = -1;
};

class BusMemory {
  public:
    BusMemory() = default;

    /// Attaches to the directory the daemon (uid `owner`) named: the lock first, then the control
    /// segment.
    static BusMemory attach(const std::string& dir, uid_t owner) {
        BusMemory m;
        m.dir_ = dir;
        m.owner_ = owner;
        m.lock_ = std::make_shared<ClientsLock>(dir, owner);
        m.control_ = SharedMapping::open(dir + "/control", owner);
        if (m.control_.size() < sizeof(control::ControlSegment))
            throw Error(ErrorCode::protocol_error, "control segment is too small");
        return m;
    }

    [[nodiscard]] bool attached() const noexcept { return control_.mapped(); }
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
    [[nodiscard]] control::ControlSegment& control() const noexcept {
        return *static_cast<control::ControlSegment*>(control_.data());
    }
    /// A ring (or any file of the directory), checked to be the daemon's.
    [[nodiscard]] SharedMapping map(const std::string& path) const {
        return SharedMapping::open(path, owner_);
    }
    /// Shared with whatever keeps mappings of this directory beyond this object.
    [[nodiscard]] std::shared_ptr<const ClientsLock> lock() const noexcept { return lock_; }

  private:
    std::string dir_;
    uid_t owner_ = 0;
    std::shared_ptr<const ClientsLock> lock_;  ///< declared before the mapping: released after it
    SharedMapping control_;
};

}  // namespace kbus
