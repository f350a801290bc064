// The fault harness's nemesis (Jepsen's word): for a bounded time it injects a random, seeded mix
// of faults into a running bus, one at a time with short pauses between, and counts them by kind.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
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

    // Faults overlap: a stopped worker stays stopped, and a full disk stays full, for a while
    // after they are injected, while the next faults come (a daemon restart among them).
    void run(std::chrono::seconds duration) {
        const auto end = std::chrono::steady_clock::now() + duration;
        while (std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng_() % 1200));
            settle(std::chrono::steady_clock::now());
            pool_->check_alive();
            inject(Fault(rng_() % fault_kinds));
        }
        settle(std::chrono::steady_clock::time_point::max());
    }
    [[nodiscard]] const std::map<std::string, int>& injected() const noexcept { return injected_; }
    [[nodiscard]] const std::vector<FlippedBatch>& flipped() const noexcept { return flipped_; }
    // What went wrong with the bus itself: a daemon that hung in its stop or would not start.
    [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

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
                kill_worker(pick_worker());
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

    // Stops kbusd with `signal` (a stop that takes over a minute is a hang: it is noted, and
    // SIGKILL ends it), then starts it again. A start that fails on a full disk is noted and
    // retried with the disk freed.
    void restart_daemon(int signal) {
        ::kill(d_->pid, signal);
        if (!exited_within(d_->pid, 60s)) {
            problems_.push_back(std::string("kbusd still running 60 s after ") + strsignal(signal));
            ::kill(d_->pid, SIGKILL);
            ::waitpid(d_->pid, nullptr, 0);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 300));
        d_->pid = d_->start();
        try {
            wait_until_up(*d_, 60s);
        } catch (const std::exception& e) {
            if (disk_free_at_ == never) throw;
            problems_.push_back(std::string("on a full disk: ") + e.what());
            free_disk();
            d_->pid = d_->start();
            wait_until_up(*d_, 60s);
        }
        commits_->read(*d_);
    }
    static bool exited_within(pid_t pid, std::chrono::seconds patience) {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        while (::waitpid(pid, nullptr, WNOHANG) != pid) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(5ms);
        }
        return true;
    }
    void kill_worker(Worker& w) {
        stopped_.erase(w.pid);
        pool_->replace(w);
    }
    void stop_worker(Worker& w) {
        if (stopped_.count(w.pid)) return;
        ::kill(w.pid, SIGSTOP);
        stopped_[w.pid] = later(100, 3000);
    }
    // Resumes the stopped workers and frees the disk if their time has come.
    void settle(std::chrono::steady_clock::time_point now) {
        for (auto it = stopped_.begin(); it != stopped_.end();) {
            if (it->second > now) {
                ++it;
                continue;
            }
            ::kill(it->first, SIGCONT);
            it = stopped_.erase(it);
        }
        if (disk_free_at_ != never && disk_free_at_ <= now) free_disk();
    }
    std::chrono::steady_clock::time_point later(int min_ms, int max_ms) {
        return std::chrono::steady_clock::now() +
               std::chrono::milliseconds(min_ms + int(rng_() % std::uint64_t(max_ms - min_ms)));
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
        if (!disk_->mounted() || disk_free_at_ != never || !disk_->fill()) return false;
        disk_free_at_ = later(200, 3000);
        return true;
    }
    void free_disk() {
        disk_->free_space();
        disk_free_at_ = never;
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
    std::vector<std::string> problems_;
    static constexpr auto never = std::chrono::steady_clock::time_point::max();
    std::map<pid_t, std::chrono::steady_clock::time_point> stopped_;  // -> when to resume
    std::chrono::steady_clock::time_point disk_free_at_ = never;
};

}  // namespace kbus::harness
