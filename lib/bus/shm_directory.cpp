#include "bus/shm_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "kbus/error.hpp"

namespace kbus::bus {
namespace {

std::string octal(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

// The newest control segment's time among the candidates, so that of two directories of ours
// (which only a crash in the middle of an earlier start can leave) the live one wins.
std::int64_t control_mtime(const std::string& dir) {
    struct stat st {};
    const std::string control = dir + "/" + SharedMemoryDirectory::control_name;
    if (::lstat(control.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
        return -1;
    return std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::optional<std::string> adoptable(const std::string& parent, const std::string& prefix,
                                     const security::AccessPolicy& policy,
                                     const logging::LogSink& sink) {
    std::optional<std::string> best;
    std::int64_t best_time = -1;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string path = e.path().string();
        if (const std::string why = untrusted_directory_reason(path, policy); !why.empty()) {
            sink("WARN", "not adopting " + path + ": " + why);
            continue;
        }
        const std::int64_t t = control_mtime(path);
        if (t < 0) continue;  // a start that died before it made its control segment
        if (best)
            sink("WARN", "two shared-memory directories of this bus; the older stays: " +
                             (t > best_time ? *best : path));
        if (t > best_time) {
            best = path;
            best_time = t;
        }
    }
    return best;
}

std::string make_directory(const std::string& parent, const std::string& prefix,
                           const security::AccessPolicy& policy) {
    std::string name = parent + "/" + prefix + "XXXXXX";
    if (::mkdtemp(name.data()) == nullptr)
        throw Error(ErrorCode::io_error, "cannot create a shared-memory directory in " + parent +
                                             ": " + std::strerror(errno));
    policy.apply_to_path(name, true);
    return name;
}

int open_clients_lock(const std::string& path, const security::AccessPolicy& policy) {
    const int fd =
        ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, policy.file_mode());
    if (fd < 0)
        throw Error(ErrorCode::io_error, "cannot open " + path + ": " + std::strerror(errno));
    policy.apply_to_fd(fd);
    return fd;
}

}  // namespace

std::string untrusted_directory_reason(const std::string& path,
                                       const security::AccessPolicy& policy) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return "not a directory (a symlink or a file)";
    if (st.st_uid != ::geteuid())
        return "owned by uid " + std::to_string(st.st_uid) + ", not by the bus's owner (uid " +
               std::to_string(::geteuid()) + ")";
    if ((st.st_mode & 07777) != policy.dir_mode())
        return "mode " + octal(st.st_mode & 07777) + ", not " + octal(policy.dir_mode());
    if (policy.group && st.st_gid != *policy.group)
        return "group " + std::to_string(st.st_gid) + ", not " + std::to_string(*policy.group);
    return {};
}

SharedMemoryDirectory SharedMemoryDirectory::open_or_create(const std::string& parent,
                                                            const std::string& prefix,
                                                            const security::AccessPolicy& policy,
                                                            const logging::LogSink& sink) {
    std::optional<std::string> path = adoptable(parent, prefix, policy, sink);
    const bool created = !path;
    if (created) path = make_directory(parent, prefix, policy);
    return SharedMemoryDirectory(*path, created,
                                 open_clients_lock(*path + "/" + clients_lock_name, policy));
}

SharedMemoryDirectory::SharedMemoryDirectory(SharedMemoryDirectory&& o) noexcept
    : path_(std::move(o.path_)),
      created_(o.created_),
      lock_fd_(std::exchange(o.lock_fd_, -1)),
      locked_out_(o.locked_out_) {}

SharedMemoryDirectory& SharedMemoryDirectory::operator=(SharedMemoryDirectory&& o) noexcept {
    if (this != &o) {
        if (lock_fd_ >= 0) ::close(lock_fd_);
        path_ = std::move(o.path_);
        created_ = o.created_;
        lock_fd_ = std::exchange(o.lock_fd_, -1);
        locked_out_ = o.locked_out_;
    }
    return *this;
}

SharedMemoryDirectory::~SharedMemoryDirectory() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool SharedMemoryDirectory::lock_out_clients() {
    if (!locked_out_) locked_out_ = ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
    return locked_out_;
}

void SharedMemoryDirectory::release_clients() noexcept {
    if (locked_out_) (void)::flock(lock_fd_, LOCK_UN);
    locked_out_ = false;
}

void SharedMemoryDirectory::remove_all() noexcept {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // the lock file last-but-not-least: we hold it
    release_clients();
}

}  // namespace kbus::bus
