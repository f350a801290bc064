// A read-only mapping of part of a file: how a consumer behind the ring reads a segment's batches
// straight out of the page cache, with no copy and no round trip per byte range.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace kbus::detail {

class MappedFileRange {
  public:
    MappedFileRange() = default;
    MappedFileRange(const MappedFileRange&) = delete;
    MappedFileRange& operator=(const MappedFileRange&) = delete;
    MappedFileRange(MappedFileRange&& o) noexcept { swap(o); }
    MappedFileRange& operator=(MappedFileRange&& o) noexcept {
        MappedFileRange(std::move(o)).swap(*this);
        return *this;
    }
    ~MappedFileRange() { reset(); }

    // Maps [position, position + length) of the file; false if it cannot be opened or mapped
    // (another uid's data dir, say): the caller then asks for the bytes instead.
    [[nodiscard]] bool map(const std::string& path, std::uint64_t position, std::uint64_t length) {
        reset();
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        const std::uint64_t page = std::uint64_t(::sysconf(_SC_PAGESIZE));
        const std::uint64_t start = position / page * page;
        const std::size_t size = std::size_t(position + length - start);
        // MAP_POPULATE maps the whole range in one go: no page fault per 4 KiB as it is read.
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, off_t(start));
        ::close(fd);  // the mapping keeps the file (even if retention unlinks it meanwhile)
        if (p == MAP_FAILED) return false;
        base_ = p;
        mapped_ = size;
        bytes_ = {static_cast<const std::byte*>(p) + (position - start), std::size_t(length)};
        return true;
    }

    void reset() noexcept {
        if (base_ != nullptr) ::munmap(base_, mapped_);
        base_ = nullptr;
        mapped_ = 0;
        bytes_ = {};
    }

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

  private:
    void swap(MappedFileRange& o) noexcept {
        std::swap(base_, o.base_);
        std::swap(mapped_, o.mapped_);
        std::swap(bytes_, o.bytes_);
    }

    void* base_ = nullptr;
    std::size_t mapped_ = 0;
    std::span<const std::byte> bytes_;
};

}  // namespace kbus::detail
