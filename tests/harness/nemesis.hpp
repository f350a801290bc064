// The fault harness's nemesis (Jepsen's word): for a bounded time it injects a random, seeded mix
// of faults into a running bus, one at a time with short pauses between, and counts them by kind.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "harness/data_disk.hpp"
#include "harness/segment_flips.hpp"
#include "harness/worker_pool.hpp"

namespace kbus::harness {

enum class Fault {
    daemon_term,
    daemon_kill,
    worker_kill,
    worker_stop,
    claim_kill,
    disk_full,
    byte_flip
};
inline constexpr int fault_kinds = 7;

inline const char* fault_name(Fault f) {
    static const char* const names[fault_kinds] = {
        "kbusd SIGTERM+restart",     "kbusd SIGKILL+restart",    "worker SIGKILL+replace",
        "worker SIGSTOP/SIGCONT",    "producer killed in claim", "data disk full, then freed",
        "bytes flipped in old batch"};
    return names[int(f)];
}

// The group's committed offsets as read back from kbusd, partition by partition, over the run.
class CommitWatch {
  public:
    CommitWatch(std::string group, std::string topic)
        : group_(std::move(group)), topic_(std::move(topic)) {}
    void read(const DaemonFixture& d) {
        try {
            kbus::Client c(d.options());
            for (const auto& [partition, offset] : kbus::group::committed(c, group_, topic_))
                readbacks_[partition].push_back(offset);
        } catch (const kbus::Error&) {  // no commit yet (no group), or the daemon is away
        }
    }
    [[nodiscard]] const std::map<std::int32_t, std::vector<std::int64_t>>& readbacks() const {
        return readbacks_;
    }

  private:
    std::string group_, topic_;
    std::map<std::int32_t, std::vector<std::int64_t>> readbacks_;
};

// Waits until kbusd answers (a restart after a crash checks the log first); throws if it exits
// or takes longer than `patience`.
inline void wait_until_up(const DaemonFixture& d, std::chrono::seconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
        int status = 0;
        if (::waitpid(d.pid, &status, WNOHANG) == d.pid)
            throw std::runtime_error("kbusd exited at start (status " + std::to_string(status) +
                                     ")");
        try {
            kbus::Client c(d.options());
            return;
        } catch (const kbus::Error&) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("kbusd did not come back within " +
                                         std::to_string(patience.count()) + " s");
            std::this_thread::sleep_for(10ms);
        }
    }
}

class Nemesis {
  public:
    Nemesis(DaemonFixture& d, WorkerPool& pool, DataDisk& disk, SegmentFlipper& flipper,
            CommitWatch& commits, std::uint64_t seed)
        : d_(&d), pool_(&pool), disk_(&disk), flipper_(&flipper), commits_(&commits), rng_(seed) {}

    void run(std::chrono::seconds duration) {
        const auto end = std::chrono::steady_clock::now() + duration;
        while (std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng_() % 1200));
            pool_->check_alive();
            inject(Fault(rng_() % fault_kinds));
        }
    }
    [[nodiscard]] const std::map<std::string, int>& injected() const noexcept { return injected_; }
    [[nodiscard]] const std::vector<FlippedBatch>& flipped() const noexcept { return flipped_; }

  private:
    void inject(Fault f) {
        bool done = true;
        switch (f) {
            case Fault::daemon_term:
                restart_daemon(SIGTERM);
                break;
            case Fault::daemon_kill:
                restart_daemon(SIGKILL);
                break;
            case Fault::worker_kill:
                pool_->replace(pick_worker());
                break;
            case Fault::worker_stop:
                stop_worker(pick_worker());
                break;
            case Fault::claim_kill:
                done = kill_in_claim();
                break;
            case Fault::disk_full:
                done = fill_disk();
                break;
            case Fault::byte_flip:
                done = flip_bytes();
                break;
        }
        ++injected_[done ? fault_name(f) : std::string(fault_name(f)) + " (skipped)"];
    }
    Worker& pick_worker() { return pool_->workers()[rng_() % pool_->workers().size()]; }

    void restart_daemon(int signal) {
        (void)end_child(d_->pid, signal);
        std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 300));
        d_->pid = d_->start();
        wait_until_up(*d_, 60s);
        commits_->read(*d_);
    }
    void stop_worker(Worker& w) {
        ::kill(w.pid, SIGSTOP);
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng_() % 2400));
        ::kill(w.pid, SIGCONT);
    }
    bool kill_in_claim() {
        int ready[2];
        if (::pipe(ready) != 0) return false;
        std::string writer;
        const pid_t victim = pool_->launch_victim(ready[1], writer);
        pollfd p{ready[0], POLLIN, 0};
        const bool claimed = ::poll(&p, 1, 10000) == 1;
        ::kill(victim, SIGKILL);
        ::waitpid(victim, nullptr, 0);
        ::close(ready[0]);
        ::close(ready[1]);
        return claimed;
    }
    bool fill_disk() {
        if (!disk_->mounted() || !disk_->fill()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng_() % 1800));
        disk_->free_space();
        return true;
    }
    bool flip_bytes() {
        const auto flipped = flipper_->flip(rng_);
        if (flipped) flipped_.push_back(*flipped);
        return flipped.has_value();
    }

    DaemonFixture* d_;
    WorkerPool* pool_;
    DataDisk* disk_;
    SegmentFlipper* flipper_;
    CommitWatch* commits_;
    std::mt19937_64 rng_;
    std::map<std::string, int> injected_;
    std::vector<FlippedBatch> flipped_;
};

}  // namespace kbus::harness
