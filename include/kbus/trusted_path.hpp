// ssh's rule for ~/.ssh, applied to where a bus lives: a directory is trusted when every directory
// from the root down to it is owned by root or by the bus's owner and writable by nobody else,
// except sticky directories owned by root (like /tmp and /dev/shm), where others may create names
// but not remove or replace ours. kbusd checks its run and data directories so before using them;
// a client checks the run directory so when the daemon runs as another user (a bus shared with a
// group). Without it, another local user who owns a directory on the path could swap the run
// directory and stand in for the daemon.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace kbus {

// Empty when `path` (or, if it does not exist yet, its deepest existing ancestor) is trusted for
// `owner`; else why not, naming the directory. `shared_group`: directories of the bus's own
// (owned by `owner`) may also be writable by that group. `allow_sticky`: false refuses paths
// through sticky world-writable directories too (where a name can be taken first by anyone).
[[nodiscard]] inline std::string untrusted_path_reason(const std::string& path, uid_t owner,
                                                       std::optional<gid_t> shared_group = {},
                                                       bool allow_sticky = true) {
    std::string existing = path;
    char real[PATH_MAX];
    while (::realpath(existing.c_str(), real) == nullptr) {
        const auto slash = existing.find_last_of('/');
        if (slash == std::string::npos || slash == 0) {
            existing = "/";
            if (::realpath("/", real) == nullptr) return "cannot resolve '/'";
            break;
        }
        existing.resize(slash);
    }
    const std::string resolved(real);
    std::vector<std::string> dirs{"/"};
    for (std::size_t i = 1; i <= resolved.size(); ++i)
        if (i == resolved.size() || resolved[i] == '/') dirs.push_back(resolved.substr(0, i));
    for (const std::string& name : dirs) {
        struct stat st {};
        if (::lstat(name.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            return "'" + name + "' is not a directory";
        const bool ours = st.st_uid == owner, roots = st.st_uid == 0;
        if (!ours && !roots)
            return "'" + name + "' belongs to uid " + std::to_string(st.st_uid) +
                   " (neither the bus's owner, uid " + std::to_string(owner) + ", nor root)";
        const bool sticky_shared = allow_sticky && roots && (st.st_mode & S_ISVTX) != 0;
        const bool group_ok =
            ours && shared_group && st.st_gid == *shared_group && (st.st_mode & S_IWOTH) == 0;
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky_shared && !group_ok) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
            return "'" + name + "' is writable by other users (mode " + mode + ")";
        }
    }
    return {};
}

}  // namespace kbus
