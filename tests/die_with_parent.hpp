// For a child just forked to run a helper process (a kbusd, an aeronmd): it gets `signal` when
// the process that forked it dies, even by SIGKILL, so that a killed test or benchmark leaves
// nothing running. Call in the child, before exec; `parent` is the forking process's pid, read
// before the fork. (Linux sends the signal when the forking thread ends: fork from the thread
// that owns the child.)
#pragma once

#include <sys/prctl.h>
#include <unistd.h>

namespace kbus::testing {

inline void die_with_parent(int signal, pid_t parent) noexcept {
    ::prctl(PR_SET_PDEATHSIG, signal);
    if (::getppid() != parent) ::_exit(127);  // it died before the line above
}

}  // namespace kbus::testing
