// The bus's shared-memory directory: a private directory on tmpfs (/dev/shm/kbus.<uid>.<bus>.
// XXXXXX, mode 0700, or 02770 for a bus shared with a group) that holds the control segment, the
// partition rings and the clients' lock. Inside it nobody but the bus's owner (and group) can
// create a name, so no other local user can plant a ring for the daemon to adopt, or squat a
// future ring's name to stop a topic create; the directory's own name is chosen by mkdtemp, so
// nobody can squat it either.
//
// It outlives the daemon, as a crash leaves it: a restarted daemon adopts the directory an
// earlier run left (found by its name prefix, and trusted only as a real directory of the bus's
// owner with the policy's mode), so running clients ride through a restart on the same rings.
//
// Liveness of mappers: every client holds a shared flock on `clients.lock` while it maps anything
// here (the kernel drops it when the process dies). A daemon stopping cleanly removes the
// directory only when it can take that lock exclusively: nobody maps a ring any more, so nobody
// can write into one that is about to go.
#pragma once

#include <sys/types.h>
#include <optional>
#include <string>

#include "logging/log_sink.hpp"
#include "security/access_policy.hpp"

namespace kbus::bus {

class SharedMemoryDirectory {
  public:
    static constexpr const char* control_name = "control";
    static constexpr const char* clients_lock_name = "clients.lock";

    // Adopts the directory an earlier run left under `parent` whose name starts with `prefix`,
    // if there is one this user owns with the policy's mode and a control segment in it; else
    // creates one. Throws Error(io_error) naming the reason when neither is possible.
    static SharedMemoryDirectory open_or_create(const std::string& parent,
                                                const std::string& prefix,
                                                const security::AccessPolicy& policy,
                                                const logging::LogSink& sink);
    SharedMemoryDirectory(const SharedMemoryDirectory&) = delete;
    SharedMemoryDirectory& operator=(const SharedMemoryDirectory&) = delete;
    SharedMemoryDirectory(SharedMemoryDirectory&& o) noexcept;
    SharedMemoryDirectory& operator=(SharedMemoryDirectory&& o) noexcept;
    ~SharedMemoryDirectory();

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
    // True when this run made the directory (nothing of an earlier run was adopted).
    [[nodiscard]] bool created() const noexcept { return created_; }

    // Takes the clients' lock exclusively if no client holds it: then no process maps anything
    // here, and none can start to until release_clients() or remove_all(). False if one does.
    [[nodiscard]] bool lock_out_clients();
    void release_clients() noexcept;
    // Removes the directory and everything in it (call with the clients locked out).
    void remove_all() noexcept;

  private:
    SharedMemoryDirectory(std::string path, bool created, int lock_fd)
        : path_(std::move(path)), created_(created), lock_fd_(lock_fd) {}

    std::string path_;
    bool created_ = false;
    int lock_fd_ = -1;
    bool locked_out_ = false;
};

// Why a directory found under /dev/shm is not the bus's own (empty: it is): a symlink or not a
// directory, another owner, or a mode other than the policy's.
[[nodiscard]] std::string untrusted_directory_reason(const std::string& path,
                                                     const security::AccessPolicy& policy);

}  // namespace kbus::bus
