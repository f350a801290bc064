// Small POSIX file helpers for the log: owned descriptors, full writes and reads with errors that
// name the file, and the durable replace (temp file, fsync, rename, fsync of the directory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kbus::log {

class File {
  public:
    File() = default;
    // Opens (creating it for the access policy's owner or group if `create`); throws
    // Error(io_error) naming the path.
    File(const std::string& path, bool create);
    // A file known by its path, opened later (open()): a partition that holds no records holds no
    // descriptor. The path never changes, so readers may ask for it while the file is opened.
    [[nodiscard]] static File unopened(std::string path);
    void open(bool create);
    File(File&& o) noexcept;
    File& operator=(File&& o) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File();

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::uint64_t size() const;
    // Writes all of `data` at `offset`; on failure the file is cut back to `offset` and
    // Error(io_error) is thrown (ENOSPC says "no space left on device").
    void write_at(std::uint64_t offset, std::string_view data);
    // Reads up to n bytes at offset; returns the count read (short only at the end of the file).
    std::size_t read_at(std::uint64_t offset, void* out, std::size_t n) const;
    void truncate(std::uint64_t size);
    void sync_data();
    // Asks the kernel to start writing [offset, offset + length) back now, without waiting and
    // without any promise of durability (sync_data gives that). Advisory: errors surface at the
    // next sync_data.
    void start_writeback(std::uint64_t offset, std::uint64_t length) noexcept;
    void close() noexcept;

  private:
    int fd_ = -1;
    std::string path_;
};

// A whole file mapped for reading, front to back (MADV_SEQUENTIAL). A file another thread unlinks
// meanwhile stays readable; nothing in the log shrinks a closed segment's file while it lives.
class ReadOnlyMapping {
  public:
    // Throws Error(io_error) if the file cannot be mapped.
    ReadOnlyMapping(int fd, std::size_t size);
    ~ReadOnlyMapping();
    ReadOnlyMapping(const ReadOnlyMapping&) = delete;
    ReadOnlyMapping& operator=(const ReadOnlyMapping&) = delete;

    const std::byte* data = nullptr;
    std::size_t size = 0;
};

// Replaces `path` with `content` so that a crash at any instant leaves the old or the new file.
void write_file_durably(const std::string& path, std::string_view content);

// The whole file, or nullopt-like empty + false when it does not exist.
[[nodiscard]] bool read_whole_file(const std::string& path, std::string& out);

void fsync_directory(const std::string& dir);

// Empties `path` if it exists (nothing if it does not); throws Error(io_error) otherwise.
void truncate_if_there(const std::string& path);

}  // namespace kbus::log
