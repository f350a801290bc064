// The fault harness's data disk: a tmpfs mounted over kbusd's data dir (root only), so that the
// nemesis can fill it (shrink it to what is in use plus a little, then fill that with a file)
// and free it again. Sized generously otherwise; tmpfs takes memory only for what is written.
#pragma once

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace kbus::harness {

class DataDisk {
  public:
    // With kbusd stopped: moves what is in `path` onto a new tmpfs mounted there. Not root (or
    // no tmpfs): nothing is mounted, and mounted() says so.
    explicit DataDisk(std::string path) : path_(std::move(path)) {
        namespace fs = std::filesystem;
        const std::string aside = path_ + ".before-tmpfs";
        fs::rename(path_, aside);
        fs::create_directories(path_);
        mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, options(roomy).c_str()) == 0;
        for (const auto& e : fs::directory_iterator(aside))
            fs::copy(e.path(), path_ + "/" + e.path().filename().string(),
                     fs::copy_options::recursive);
        fs::remove_all(aside);
        fs::permissions(path_, fs::perms::owner_all);
    }
    DataDisk(const DataDisk&) = delete;
    DataDisk& operator=(const DataDisk&) = delete;
    // Lazily: a kbusd that still has files open there lets go when it ends.
    ~DataDisk() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    [[nodiscard]] bool mounted() const noexcept { return mounted_; }

    // Shrinks the disk to what is in use plus 1 MiB and fills that with a file: from here on,
    // every write of kbusd's fails with ENOSPC. False if the shrink lost a race with writes.
    bool fill() {
        struct statvfs s {};
        if (::statvfs(path_.c_str(), &s) != 0) return false;
        const std::uint64_t used = std::uint64_t(s.f_blocks - s.f_bfree) * s.f_frsize;
        if (!resize(used + (1u << 20))) return false;
        std::ofstream filler(filler_path(), std::ios::binary);
        const std::string block(4096, 'f');
        while (filler.write(block.data(), block.size())) {
        }
        return true;
    }
    void free_space() {
        std::filesystem::remove(filler_path());
        (void)resize(roomy);
    }

  private:
    static constexpr std::uint64_t roomy = 4ULL << 30;
    static std::string options(std::uint64_t size) {
        return "size=" + std::to_string(size) + ",mode=0700";
    }
    [[nodiscard]] std::string filler_path() const { return path_ + "/hz-filler"; }
    bool resize(std::uint64_t size) const {
        return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, options(size).c_str()) == 0;
    }

    std::string path_;
    bool mounted_ = false;
};

}  // namespace kbus::harness
