// Mapping the bus's shared-memory files: the control segment and the partition rings, files in a
// private directory on tmpfs (the daemon's SharedMemoryDirectory, e.g. /dev/shm/kbus.<uid>.<bus>.
// XXXXXX). A file is opened by path, refusing a symlink, and checked before it is trusted: a
// regular file owned by the expected user (the daemon's), with no access for others.
//
// POSIX open and mmap, not Boost.Interprocess's shared_memory_object: shm_open names live in one
// flat, world-writable namespace where another user can pre-create (squat) a predictable name,
// and Boost gives no way to refuse a symlink or check an owner before mapping.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "kbus/error.hpp"

namespace kbus {

class SharedMapping {
  public:
    SharedMapping() = default;
    SharedMapping(const SharedMapping&) = delete;
    SharedMapping& operator=(const SharedMapping&) = delete;
    SharedMapping(SharedMapping&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    SharedMapping& operator=(SharedMapping&& o) noexcept {
        if (this != &o) {
            unmap();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~SharedMapping() { unmap(); }

    /// Maps an existing file owned by `owner`. Throws Error(not_connected) if it is not there,
    /// Error(permission_denied) if it is not what the bus's owner made (a symlink, another owner,
    /// access for others). A file not wholly reserved (a ring no producer has used yet) is
    /// mapped as it is: populating its pages would allocate every one of them.
    static SharedMapping open(const std::string& path, uid_t owner) {
        const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            const int e = errno;
            throw Error(e == ELOOP ? ErrorCode::permission_denied : ErrorCode::not_connected,
                        "cannot map shared memory '" + path + "': " + std::strerror(e));
        }
        SharedMapping m;
        try {
            const struct stat st = checked(fd, path, owner);
            m.map(fd, std::size_t(st.st_size), path, wholly_allocated(st));
        } catch (...) {
            ::close(fd);
            throw;
        }
        ::close(fd);
        return m;
    }

    /// Whether every page of the file is allocated (reserved with fallocate, or written).
    [[nodiscard]] static bool wholly_allocated(const struct stat& st) noexcept {
        return std::uint64_t(st.st_blocks) * 512 >= std::uint64_t(st.st_size);
    }

    /// Daemon side: creates `path` (replacing a stale file of ours) of `size` bytes, zero-filled,
    /// with `mode` and, if `group` >= 0, that group. The first `reserved` bytes (all by default)
    /// are allocated now, so a full tmpfs is an error here (resource_exhausted), not a SIGBUS in
    /// a producer later; the rest stays a hole until reserve(), and nobody may write there before.
    static SharedMapping create(const std::string& path, std::size_t size, mode_t mode = 0600,
                                int group = -1, std::size_t reserved = ~std::size_t(0)) {
        reserved = std::min(reserved, size);
        ::unlink(path.c_str());
        const int fd =
            ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0) fail_create(path, size, errno);
        SharedMapping m;
        try {
            (void)::fchmod(fd, mode);  // whatever the umask
            if (group >= 0) (void)::fchown(fd, uid_t(-1), gid_t(group));
            if (::ftruncate(fd, off_t(size)) != 0) fail_create(path, size, errno);
            if (const int rc = ::posix_fallocate(fd, 0, off_t(reserved)); rc != 0)
                fail_create(path, size, rc);
            m.map(fd, size, path, reserved == size);
        } catch (...) {
            ::close(fd);
            ::unlink(path.c_str());
            throw;
        }
        ::close(fd);
        return m;
    }

    /// Daemon side: allocates bytes [from, size) of a file create() left partly a hole. Throws
    /// Error(resource_exhausted) when tmpfs is full; then nothing past `from` may be written.
    static void reserve(const std::string& path, std::size_t from, std::size_t size) {
        const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) fail_create(path, size, errno);
        const int rc = ::posix_fallocate(fd, off_t(from), off_t(size - from));
        ::close(fd);
        if (rc != 0) fail_create(path, size, rc);
    }

    /// Whether the file at `path` is wholly allocated (false if it is not there).
    [[nodiscard]] static bool wholly_allocated(const std::string& path) noexcept {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && wholly_allocated(st);
    }

    static bool remove(const std::string& path) noexcept { return ::unlink(path.c_str()) == 0; }

    [[nodiscard]] void* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool mapped() const noexcept { return data_ != nullptr; }

    /// Makes every page present in this process's page tables, for reading or also for writing,
    /// in one call where the kernel can (MADV_POPULATE_READ/WRITE, Linux 5.14): MAP_POPULATE
    /// maps a shared file's pages read-only, so a producer would still take a write fault at
    /// each page's first record, and a mapping made before its file was allocated got nothing.
    /// Then every page is read once (touch_every_page), for the hypervisors that shadow them.
    void populate_and_touch(bool for_writing) const noexcept {
#ifndef MADV_POPULATE_READ
        constexpr int MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23;
#endif
        // Best effort: an older kernel refuses, and the reads below do what they can.
        (void)::madvise(data_, size_, for_writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
        touch_every_page();
    }

    /// MAP_POPULATE fills this process's page tables, but a hypervisor that shadows them (as the
    /// paravirtualised guests kbus is benchmarked on do) still takes an exit of ~10 us on each
    /// page's first access from this process. On a ring that is one stall every 4 KiB of records
    /// in the first lap: a 64 B ping-pong's p99 went from 1.1 to 13 us with a 4 MiB ring. Paying
    /// it up front (about 8 ms per 4 MiB ring there; microseconds on bare metal) keeps it out of
    /// the record path.
    void touch_every_page() const noexcept {
        const auto* bytes = static_cast<const volatile unsigned char*>(data_);
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        for (std::size_t at = 0; at < size_; at += page)
            (void)bytes[at];
    }

  private:
    /// What the bus's owner makes: a regular file of `owner`'s, nothing for others. (A bus shared
    /// with a group has group access; that is the group's boundary, not another user's.)
    static struct stat checked(int fd, const std::string& path, uid_t owner) {
        struct stat st {};
        if (::fstat(fd, &st) != 0)
            throw Error(ErrorCode::io_error, "cannot stat '" + path + "': " + std::strerror(errno));
        if (!S_ISREG(st.st_mode) || st.st_uid != owner || (st.st_mode & 0007) != 0)
            throw Error(ErrorCode::permission_denied,
                        "refusing shared memory '" + path + "': owned by uid " +
                            std::to_string(st.st_uid) + " with mode " + octal(st.st_mode & 07777) +
                            ", not a file of uid " + std::to_string(owner) +
                            " closed to other users");
        return st;
    }
    static std::string octal(unsigned mode) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04o", mode);
        return buf;
    }
    [[noreturn]] static void fail_create(const std::string& path, std::size_t size, int e) {
        throw Error(ErrorCode::resource_exhausted, "cannot create shared memory '" + path +
                                                       "' of " + std::to_string(size) +
                                                       " bytes: " + std::strerror(e) +
                                                       (e == ENOSPC ? " (is /dev/shm full?)" : ""));
    }
    /// Page tables filled at map time (`populate`): no page fault on a record's first lap, where
    /// a microsecond budget has no room for one. Not for a file with holes: populating would
    /// allocate them.
    void map(int fd, std::size_t size, const std::string& path, bool populate) {
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
        if (p == MAP_FAILED)
            throw Error(ErrorCode::resource_exhausted,
                        "cannot map '" + path + "': " + std::strerror(errno));
        data_ = p;
        size_ = size;
    }
    void unmap() noexcept {
        if (data_ != nullptr) ::munmap(data_, size_);
        data_ = nullptr;
        size_ = 0;
    }

    void* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace kbus
