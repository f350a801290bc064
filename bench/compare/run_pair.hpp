// Runs one measurement as two forked processes pinned to different cores, with a barrier in
// shared memory so that neither starts before the other has opened its side, and the result
// handed back in that same memory. A run that hangs is killed at its deadline and reported.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "../latency_histogram.hpp"
#include "peer.hpp"

namespace kbus::compare {

struct RunResult {
    bool ok = false;
    std::string error;
    LatencyHistogram round_trip_ns;  // latency runs
    double seconds = 0;              // throughput runs: time for `messages` after the warm-up
    std::uint64_t messages = 0;
};

struct RunCounts {
    std::uint64_t warmup = 0;
    std::uint64_t measured = 0;
};

namespace detail {

// Lives in an anonymous shared mapping, set up before the fork.
struct SharedRun {
    std::atomic<int> arrived{0};
    std::atomic<int> failed{0};
    LatencyHistogram histogram;
    double seconds = 0;
    char error[512] = {};
};

inline bool pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

// Both sides arrive; a side that failed releases the other, which then gives up too.
inline void arrive_and_wait(SharedRun& s) {
    s.arrived.fetch_add(1, std::memory_order_acq_rel);  // acq_rel: pairs with the other side's
    while (s.arrived.load(std::memory_order_acquire) < 2) {
        if (s.failed.load(std::memory_order_acquire) != 0)
            throw std::runtime_error("the other side failed");
        std::this_thread::yield();
    }
}

inline void fail(SharedRun& s, const char* what) {
    if (s.failed.exchange(1, std::memory_order_acq_rel) == 0)
        std::snprintf(s.error, sizeof s.error, "%s", what);
}

using Clock = std::chrono::steady_clock;

// Set by kbus_compare's SIGINT/SIGTERM/SIGHUP handler: the run under way is cut short (its two
// processes killed) and no other starts, so that kbus_compare stops what it started (kbusd, an
// aeronmd, its scratch files) on its normal way out.
inline volatile std::sig_atomic_t interrupted = 0;

inline std::uint64_t ns_between(Clock::time_point a, Clock::time_point b) {
    return std::uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

inline void run_side(Peer& peer, RunSpec spec, const RunCounts& n, SharedRun& s) {
    auto ep = peer.open(spec);
    arrive_and_wait(s);
    const std::uint64_t total = n.warmup + n.measured;
    switch (spec.role) {
        case Role::pinger:
            for (std::uint64_t i = 0; i < total; ++i) {
                const auto t0 = Clock::now();
                ep->send();
                ep->receive();
                const auto t1 = Clock::now();
                if (i >= n.warmup) s.histogram.record(ns_between(t0, t1));
            }
            break;
        case Role::echoer:
            for (std::uint64_t i = 0; i < total; ++i) {
                ep->receive();
                ep->send();
            }
            break;
        case Role::sender:
            for (std::uint64_t i = 0; i < total; ++i)
                ep->send();
            ep->flush();
            break;
        case Role::receiver: {
            for (std::uint64_t i = 0; i < n.warmup; ++i)
                ep->receive();
            const auto t0 = Clock::now();
            for (std::uint64_t i = 0; i < n.measured; ++i)
                ep->receive();
            s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            break;
        }
    }
}

[[noreturn]] inline void child(Peer& peer, RunSpec spec, const RunCounts& n, SharedRun& s,
                               int cpu) {
    int code = 0;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP})
        std::signal(sig, SIG_DFL);  // a run's process just dies: the parent cleans up
    try {
        if (cpu >= 0) pin_to(cpu);
        run_side(peer, spec, n, s);
    } catch (const std::exception& e) {
        fail(s, e.what());
        code = 1;
    }
    std::fflush(nullptr);
    std::_Exit(code);
}

}  // namespace detail

// `latency`: pinger (measured, first core) and echoer; else receiver (measured) and sender.
// `cpus`: the two cores, or -1 each to leave the processes unpinned.
inline RunResult run_pair(Peer& peer, std::size_t payload, bool latency, const RunCounts& n,
                          std::pair<int, int> cpus, std::chrono::seconds deadline) {
    RunResult result;
    void* mem = ::mmap(nullptr, sizeof(detail::SharedRun), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        result.error = std::string("mmap: ") + std::strerror(errno);
        return result;
    }
    auto* shared = new (mem) detail::SharedRun{};
    const RunSpec measured{payload, latency ? Role::pinger : Role::receiver};
    const RunSpec other{payload, latency ? Role::echoer : Role::sender};
    try {
        peer.prepare(measured);
    } catch (const std::exception& e) {
        result.error = e.what();
        peer.finish();
        ::munmap(mem, sizeof(detail::SharedRun));
        return result;
    }
    std::fflush(nullptr);
    const pid_t a = ::fork();
    if (a == 0) detail::child(peer, measured, n, *shared, cpus.first);
    const pid_t b = ::fork();
    if (b == 0) detail::child(peer, other, n, *shared, cpus.second);

    // Each child is waited for by its own pid: the daemon and RouDi are children too.
    const auto until = detail::Clock::now() + deadline;
    pid_t running[2] = {a, b};
    bool timed_out = false;
    while (running[0] > 0 || running[1] > 0) {
        for (pid_t& pid : running) {
            int status = 0;
            if (pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) continue;
            pid = 0;
            if (WIFSIGNALED(status))
                detail::fail(*shared,
                             ("killed by signal " + std::to_string(WTERMSIG(status))).c_str());
        }
        // One side gave up (or time is up): the other may wait for a message forever.
        const bool failed =
            shared->failed.load(std::memory_order_acquire) != 0 || detail::interrupted != 0;
        timed_out = detail::Clock::now() > until;
        if ((failed || timed_out) && (running[0] > 0 || running[1] > 0)) {
            for (pid_t& pid : running)
                if (pid > 0) {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, nullptr, 0);
                    pid = 0;
                }
            break;
        }
        timed_out = false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (detail::interrupted != 0)
        result.error = "interrupted";
    else if (timed_out)
        result.error = "timed out after " + std::to_string(deadline.count()) + " s";
    else if (shared->failed.load(std::memory_order_acquire) != 0)
        result.error = shared->error;
    else {
        result.ok = true;
        result.round_trip_ns = shared->histogram;
        result.seconds = shared->seconds;
        result.messages = n.measured;
    }
    peer.finish();
    shared->~SharedRun();
    ::munmap(mem, sizeof(detail::SharedRun));
    return result;
}

}  // namespace kbus::compare
