// Who may touch what kbusd creates (DESIGN.md, "Security"): its owner only, or its owner and the
// members of one group named in the config (kbus.group). The boundary is the uid (or the group):
// whoever may map a ring may write into it. Every place that creates a file, a directory, a
// shared memory object or the socket asks this policy for its mode and group, and the daemon asks
// it whether a connecting peer may in.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace kbus::security {

struct AccessPolicy {
    std::optional<gid_t> group;  // kbus.group, resolved

    [[nodiscard]] mode_t file_mode() const noexcept { return group ? 0660 : 0600; }
    // setgid on directories: what is created inside them takes their group.
    [[nodiscard]] mode_t dir_mode() const noexcept { return group ? 02770 : 0700; }

    // Gives a just-created file or shared memory object its mode and group (whatever the umask).
    void apply_to_fd(int fd) const noexcept;
    // The same for a path: a directory (dir_mode) or the socket (file_mode).
    void apply_to_path(const std::string& path, bool directory) const noexcept;

    // A peer (SO_PEERCRED, SO_PEERGROUPS) may connect if it is the owner, root, or a member of
    // the policy's group.
    [[nodiscard]] bool admits(uid_t peer_uid, const std::vector<gid_t>& peer_groups,
                              uid_t owner) const noexcept;
};

// The daemon's policy, set once at start (before any thread or file), read everywhere after.
void set_access_policy(const AccessPolicy& policy);
[[nodiscard]] const AccessPolicy& access_policy() noexcept;

// kbus.group's gid. Throws Error(invalid_argument) naming the group if it does not exist or
// this process may not give its files to it (not root, and not a member).
[[nodiscard]] gid_t resolve_group(const std::string& name);

}  // namespace kbus::security
