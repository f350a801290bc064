// Where a bus lives: its name, run dir (socket, lock) and data dir (topics, segments).
// Resolution order, the same for kbusd, the kbus CLI and the client library:
// explicit value (a flag) > environment (KBUS_BUS, KBUS_RUN_DIR, KBUS_DATA_DIR) > default.
// Defaults: root uses /run/kbus/<bus> and /var/lib/kbus/<bus>; other users
// $XDG_RUNTIME_DIR/kbus/<bus> (else $XDG_STATE_HOME/kbus/<bus>, else ~/.local/state/kbus/<bus>:
// never a predictable name in a world-writable directory such as /tmp, which another user could
// create first) and $XDG_DATA_HOME/kbus/<bus> (else ~/.local/share/kbus/<bus>).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "kbus/error.hpp"
#include "kbus/names.hpp"

namespace kbus {

struct BusLocation {
    std::string bus = "default";
    std::string run_dir;
    std::string data_dir;

    [[nodiscard]] std::string socket_path() const { return run_dir + "/kbus.sock"; }
    [[nodiscard]] std::string lock_path() const { return run_dir + "/kbusd.lock"; }
    /// The name the bus's shared-memory directory starts with (/dev/shm/<this>XXXXXX, see the
    /// daemon's SharedMemoryDirectory): the uid, so that buses of different users never collide.
    [[nodiscard]] std::string shm_dir_prefix() const {
        return "kbus." + std::to_string(::geteuid()) + "." + bus + ".";
    }
};

namespace detail {
inline std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
}
}  // namespace detail

struct BusLocationOverrides {
    std::optional<std::string> bus;
    std::optional<std::string> run_dir;
    std::optional<std::string> data_dir;
};

[[nodiscard]] inline BusLocation resolve_bus_location(const BusLocationOverrides& given = {}) {
    BusLocation loc;
    loc.bus = given.bus ? *given.bus : detail::env("KBUS_BUS").value_or("default");
    if (auto why = check_bus_name(loc.bus); !why.empty())
        throw Error(ErrorCode::invalid_argument, why);
    const bool root = ::geteuid() == 0;
    if (given.run_dir) {
        loc.run_dir = *given.run_dir;
    } else if (auto e = detail::env("KBUS_RUN_DIR")) {
        loc.run_dir = *e;
    } else if (root) {
        loc.run_dir = "/run/kbus/" + loc.bus;
    } else if (auto x = detail::env("XDG_RUNTIME_DIR")) {
        loc.run_dir = *x + "/kbus/" + loc.bus;
    } else if (auto st = detail::env("XDG_STATE_HOME")) {
        loc.run_dir = *st + "/kbus/" + loc.bus;
    } else {
        loc.run_dir = detail::env("HOME").value_or("/") + "/.local/state/kbus/" + loc.bus;
    }
    if (given.data_dir) {
        loc.data_dir = *given.data_dir;
    } else if (auto e = detail::env("KBUS_DATA_DIR")) {
        loc.data_dir = *e;
    } else if (root) {
        loc.data_dir = "/var/lib/kbus/" + loc.bus;
    } else if (auto x = detail::env("XDG_DATA_HOME")) {
        loc.data_dir = *x + "/kbus/" + loc.bus;
    } else {
        loc.data_dir = detail::env("HOME").value_or("/tmp") + "/.local/share/kbus/" + loc.bus;
    }
    return loc;
}

}  // namespace kbus
