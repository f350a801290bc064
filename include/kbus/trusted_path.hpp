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
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace kbus {

namespace detail {

/// Why a directory on a bus's path (already lstat'ed as `st`) is not trusted for `owner`; empty
/// when it is.
[[nodiscard]] inline std::string untrusted_directory(const std::string& name, const struct stat& st,
                                                     uid_t owner, std::optional<gid_t> shared_group,
                                                     bool allow_sticky) {
    if (!S_ISDIR(st.st_mode)) return "'" + name + "' is not a directory";
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
    return {};
}

/// "/", "/a", "/a/b", ... of an absolute path.
[[nodiscard]] inline std::vector<std::string> path_prefixes(const std::string& path) {
    std::vector<std::string> prefixes{"/"};
    for (std::size_t i = 1; i <= path.size(); ++i)
        if ((i == path.size() || path[i] == '/') && path[i - 1] != '/')
            prefixes.push_back(path.substr(0, i));
    return prefixes;
}

/// The path as written, before symlinks are resolved: a symlink on it is only as trustworthy as
/// its owner and the directory it sits in (whoever may write there may point it elsewhere at any
/// time), so each existing component is checked where it stands.
[[nodiscard]] inline std::string untrusted_spelling(const std::string& path, uid_t owner,
                                                    std::optional<gid_t> shared_group,
                                                    bool allow_sticky) {
    std::string absolute = path;
    if (absolute.empty() || absolute[0] != '/') {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd) == nullptr) return "cannot read the working directory";
        absolute = std::string(cwd) + "/" + absolute;
    }
    for (const std::string& name : path_prefixes(absolute)) {
        struct stat st {};
        if (::lstat(name.c_str(), &st) != 0) break;  // not made yet: nothing below it exists
        if (S_ISLNK(st.st_mode)) {
            if (st.st_uid != owner && st.st_uid != 0)
                return "'" + name + "' is a symlink of uid " + std::to_string(st.st_uid) +
                       " (neither the bus's owner, uid " + std::to_string(owner) + ", nor root)";
            continue;  // where it leads is checked by the resolved path
        }
        if (std::string why = untrusted_directory(name, st, owner, shared_group, allow_sticky);
            !why.empty())
            return why;
    }
    return {};
}

}  // namespace detail

/// Empty when `path` (or, if it does not exist yet, its deepest existing ancestor) is trusted for
/// `owner`, both as written and with its symlinks resolved; else why not, naming the directory.
/// `shared_group`: directories of the bus's own (owned by `owner`) may also be writable by that
/// group. `allow_sticky`: false refuses paths through sticky world-writable directories too
/// (where a name can be taken first by anyone).
[[nodiscard]] inline std::string untrusted_path_reason(const std::string& path, uid_t owner,
                                                       std::optional<gid_t> shared_group = {},
                                                       bool allow_sticky = true) {
    if (std::string why = detail::untrusted_spelling(path, owner, shared_group, allow_sticky);
        !why.empty())
        return why;
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
    for (const std::string& name : detail::path_prefixes(real)) {
        struct stat st {};
        if (::lstat(name.c_str(), &st) != 0) return "'" + name + "' is not a directory";
        if (std::string why =
                detail::untrusted_directory(name, st, owner, shared_group, allow_sticky);
            !why.empty())
            return why;
    }
    return {};
}

}  // namespace kbus
