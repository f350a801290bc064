#include "log/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kbus/error.hpp"
#include "security/access_policy.hpp"

namespace kbus::log {
namespace {
[[noreturn]] void io_failure(const std::string& what, const std::string& path, int err) {
    throw Error(ErrorCode::io_error, what + " " + path + ": " + std::strerror(err));
}
}  // namespace

File::File(const std::string& path, bool create) : path_(path) {
    open(create);
}

File File::unopened(std::string path) {
    File f;
    f.path_ = std::move(path);
    return f;
}

void File::open(bool create) {
    if (fd_ >= 0) return;
    const security::AccessPolicy& access = security::access_policy();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), access.file_mode());
    if (fd_ < 0) io_failure("cannot open", path_, errno);
    if (create) access.apply_to_fd(fd_);
}

File::File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
    o.fd_ = -1;
}

File& File::operator=(File&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        o.fd_ = -1;
    }
    return *this;
}

File::~File() {
    close();
}

void File::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::uint64_t File::size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) io_failure("cannot stat", path_, errno);
    return std::uint64_t(st.st_size);
}

void File::write_at(std::uint64_t offset, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n =
            ::pwrite(fd_, data.data() + done, data.size() - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            (void)::ftruncate(fd_, off_t(offset));  // never leave half a batch behind
            io_failure("cannot write", path_, err);
        }
        done += std::size_t(n);
    }
}

std::size_t File::read_at(std::uint64_t offset, void* out, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r =
            ::pread(fd_, static_cast<char*>(out) + done, n - done, off_t(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) io_failure("cannot read", path_, errno);
        if (r == 0) break;
        done += std::size_t(r);
    }
    return done;
}

void File::truncate(std::uint64_t size) {
    if (::ftruncate(fd_, off_t(size)) != 0) io_failure("cannot truncate", path_, errno);
}

void File::sync_data() {
    if (::fdatasync(fd_) != 0) io_failure("cannot sync", path_, errno);
}

void File::start_writeback(std::uint64_t offset, std::uint64_t length) noexcept {
#if defined(__linux__)
    (void)::sync_file_range(fd_, off_t(offset), off_t(length), SYNC_FILE_RANGE_WRITE);
#else
    (void)offset;
    (void)length;
#endif
}

void truncate_if_there(const std::string& path) {
    if (::truncate(path.c_str(), 0) != 0 && errno != ENOENT)
        io_failure("cannot truncate", path, errno);
}

void fsync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) io_failure("cannot open directory", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) io_failure("cannot sync directory", dir, err);
}

void write_file_durably(const std::string& path, std::string_view content) {
    const std::string tmp = path + ".tmp";
    try {
        {
            File f(tmp, true);
            f.truncate(0);
            f.write_at(0, content);
            if (::fsync(f.fd()) != 0) io_failure("cannot sync", tmp, errno);
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) io_failure("cannot rename", tmp, errno);
    } catch (...) {
        ::unlink(tmp.c_str());  // a full disk leaves the old file, and nothing half-written
        throw;
    }
    fsync_directory(std::filesystem::path(path).parent_path().string());
}

bool read_whole_file(const std::string& path, std::string& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        io_failure("cannot open", path, errno);
    }
    out.clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            io_failure("cannot read", path, err);
        }
        if (n == 0) break;
        out.append(buf, std::size_t(n));
    }
    ::close(fd);
    return true;
}

ReadOnlyMapping::ReadOnlyMapping(int fd, std::size_t n) : size(n) {
    if (n == 0) return;
    void* p = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw Error(ErrorCode::io_error, "cannot map a segment");
    data = static_cast<const std::byte*>(p);
    ::madvise(p, n, MADV_SEQUENTIAL);
}

ReadOnlyMapping::~ReadOnlyMapping() {
    if (data != nullptr) ::munmap(const_cast<std::byte*>(data), size);
}

}  // namespace kbus::log
