// Mapping the daemon's shared-memory objects (control segment, rings) with Boost.Interprocess.
// Clients only open and map: creation, sizing and removal belong to the daemon.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <string>

#include "kbus/error.hpp"

namespace kbus {

class SharedMapping {
  public:
    SharedMapping() = default;

    // touch_pages: read one byte of every page before returning (see touch_every_page).
    static SharedMapping open(const std::string& name, bool touch_pages = false) {
        namespace bip = boost::interprocess;
        SharedMapping m;
        try {
            bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
            m.region_ = bip::mapped_region(object, bip::read_write, 0, 0, nullptr, populate);
        } catch (const bip::interprocess_exception& e) {
            throw Error(ErrorCode::not_connected,
                        "cannot map shared memory '" + name + "': " + e.what());
        }
        if (touch_pages) m.touch_every_page();
        return m;
    }

    // Daemon side: creates (or replaces) an object of `size` bytes, zero-filled, with `mode`
    // (owner only by default) and, if `group` >= 0, that group.
    static SharedMapping create(const std::string& name, std::size_t size, unsigned mode = 0600,
                                int group = -1) {
        namespace bip = boost::interprocess;
        SharedMapping m;
        try {
            bip::shared_memory_object::remove(name.c_str());
            bip::permissions perms(mode);
            bip::shared_memory_object object(bip::create_only, name.c_str(), bip::read_write,
                                             perms);
            object.truncate(static_cast<bip::offset_t>(size));
            if (group >= 0)
                (void)::fchown(object.get_mapping_handle().handle, uid_t(-1), gid_t(group));
            // Reserve every page now: a full tmpfs is an error here, not a SIGBUS in a producer.
            if (const int rc = ::posix_fallocate(object.get_mapping_handle().handle, 0,
                                                 static_cast<off_t>(size));
                rc != 0)
                throw Error(ErrorCode::resource_exhausted, "cannot create shared memory '" + name +
                                                               "' of " + std::to_string(size) +
                                                               " bytes: " + std::strerror(rc) +
                                                               " (is /dev/shm full?)");
            m.region_ = bip::mapped_region(object, bip::read_write, 0, 0, nullptr, populate);
        } catch (const bip::interprocess_exception& e) {
            throw Error(ErrorCode::resource_exhausted, "cannot create shared memory '" + name +
                                                           "' of " + std::to_string(size) +
                                                           " bytes: " + e.what());
        }
        return m;
    }

    static bool remove(const std::string& name) noexcept {
        return boost::interprocess::shared_memory_object::remove(name.c_str());
    }

    [[nodiscard]] void* data() const noexcept { return region_.get_address(); }
    [[nodiscard]] std::size_t size() const noexcept { return region_.get_size(); }
    [[nodiscard]] bool mapped() const noexcept { return region_.get_address() != nullptr; }

    // MAP_POPULATE fills this process's page tables, but a hypervisor that shadows them (as the
    // paravirtualised guests kbus is benchmarked on do) still takes an exit of ~10 us on each
    // page's first access from this process. On a ring that is one stall every 4 KiB of records
    // in the first lap: a 64 B ping-pong's p99 went from 1.1 to 13 us with a 4 MiB ring. Paying
    // it here, at attach (about 8 ms per 4 MiB ring there; microseconds on bare metal), keeps it
    // out of the record path. A read suffices: the tmpfs pages are already dirty, so the entry the
    // hypervisor builds is writable.
    void touch_every_page() const noexcept {
        const auto* bytes = static_cast<const volatile unsigned char*>(region_.get_address());
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        for (std::size_t at = 0; at < region_.get_size(); at += page)
            (void)bytes[at];
    }

  private:
    // Page tables filled at map time: no page fault on a record's first lap, where a
    // microsecond budget has no room for one.
    static constexpr int populate = MAP_POPULATE;
    boost::interprocess::mapped_region region_;
};

}  // namespace kbus
