#include "security/access_policy.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "kbus/error.hpp"

namespace kbus::security {
namespace {
AccessPolicy g_policy;
}  // namespace

void AccessPolicy::apply_to_fd(int fd) const noexcept {
    (void)::fchmod(fd, file_mode());
    if (group) (void)::fchown(fd, uid_t(-1), *group);
}

void AccessPolicy::apply_to_path(const std::string& path, bool directory) const noexcept {
    (void)::chmod(path.c_str(), directory ? dir_mode() : file_mode());
    if (group) (void)::chown(path.c_str(), uid_t(-1), *group);
}

bool AccessPolicy::admits(uid_t peer_uid, const std::vector<gid_t>& peer_groups,
                          uid_t owner) const noexcept {
    if (peer_uid == owner || peer_uid == 0) return true;
    return group && std::find(peer_groups.begin(), peer_groups.end(), *group) != peer_groups.end();
}

void set_access_policy(const AccessPolicy& policy) {
    g_policy = policy;
}

const AccessPolicy& access_policy() noexcept {
    return g_policy;
}

gid_t resolve_group(const std::string& name) {
    const group* g = ::getgrnam(name.c_str());
    if (g == nullptr)
        throw Error(ErrorCode::invalid_argument, "kbus.group: no group named '" + name + "'");
    if (::geteuid() == 0 || ::getegid() == g->gr_gid) return g->gr_gid;
    std::vector<gid_t> mine(std::size_t(std::max(::getgroups(0, nullptr), 0)));
    const int n = ::getgroups(int(mine.size()), mine.data());
    if (std::find(mine.begin(), mine.begin() + std::max(n, 0), g->gr_gid) !=
        mine.begin() + std::max(n, 0))
        return g->gr_gid;
    throw Error(ErrorCode::invalid_argument, "kbus.group: this user is not a member of group '" +
                                                 name + "', so kbusd cannot give its files to it");
}

}  // namespace kbus::security
