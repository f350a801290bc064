// Consumer groups' numbers:
//   rebalance_after_death   3 member processes, one SIGKILLed: time until the group is Stable
//                           again with the 2 survivors holding every partition
//   consume/commit:{none,sync,async}   one group member reading 1M records from the ring,
//                           committing every 1000 records (or never: the baseline)
// The summary divides medians (KBUS_BENCH_RECORDS sets the record count).
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/group_requests.hpp"
#include "kbus/kbus.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int daemon_cpu = 1;
constexpr std::int64_t commit_every = 1000;

std::int64_t record_count() {
    const char* n = std::getenv("KBUS_BENCH_RECORDS");
    return n != nullptr ? std::strtoll(n, nullptr, 10) : 1'000'000;
}

bool stable_with(kbus::Client& c, const std::string& group, std::size_t members,
                 std::size_t partitions) {
    try {
        const auto d = kbus::group::describe(c, group);
        std::size_t owned = 0;
        for (const auto& m : d.members)
            owned += m.assignment.size();
        return d.state == "Stable" && d.members.size() == members && owned == partitions;
    } catch (const kbus::Error&) {
        return false;
    }
}

[[noreturn]] void member(const DaemonFixture& d, int cpu) {
    kbus::bench::pin_this_thread(cpu);
    kbus::Client c(d.options());
    kbus::ConsumerOptions o;
    o.group_id = "bench";
    kbus::Consumer con(c, o);
    con.subscribe("work");
    for (;;)
        (void)con.poll(50ms);
}

// Kafka's default session.timeout.ms here is 1 s and heartbeats go every 100 ms; the daemon
// sees a dead member's connection close at once.
void rebalance_after_death(benchmark::State& state) {
    DaemonFixture daemon("bench-rebalance", {}, daemon_cpu);
    kbus::Client c(daemon.options());
    c.create_topic("work", 6);
    int round = 0;
    for (auto _ : state) {
        std::vector<pid_t> pids;
        for (int i = 0; i < 3; ++i) {
            const pid_t pid = ::fork();
            if (pid == 0) member(daemon, i % 2);
            pids.push_back(pid);
        }
        while (!stable_with(c, "bench", 3, 6))
            std::this_thread::sleep_for(1ms);
        ::kill(pids[std::size_t(round++ % 3)], SIGKILL);
        const auto t0 = std::chrono::steady_clock::now();
        while (!stable_with(c, "bench", 2, 6))
            std::this_thread::sleep_for(200us);
        state.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        for (pid_t pid : pids) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        while (!stable_with(c, "bench", 0, 0) && kbus::group::describe(c, "bench").state != "Empty")
            std::this_thread::sleep_for(1ms);
    }
}

enum class CommitMode { none = 0, sync = 1, async = 2 };

void consume(benchmark::State& state) {
    kbus::bench::pin_this_thread(0);
    const auto mode = static_cast<CommitMode>(state.range(0));
    DaemonFixture daemon("bench-commit", {}, daemon_cpu);
    kbus::Client c(daemon.options());
    const std::int64_t n = record_count();
    // A ring whose recent half (the part readers may still attach to) holds every record: the
    // consumer reads shared memory only.
    c.create_topic("events", 1, {{"ring.bytes", std::to_string(1 << 29)}});
    {
        kbus::Producer p(c);
        const std::string value(100, 'v');
        for (std::int64_t i = 0; i < n; ++i)
            (void)p.send("events", nullptr, value);
    }
    kbus::ConsumerOptions o;
    o.group_id = "bench-" + std::to_string(state.range(0));
    o.enable_auto_commit = false;
    o.wait = kbus::WaitMode::busy_poll;
    kbus::Consumer con(c, o);
    con.subscribe("events");
    while (!con.in_group())
        (void)con.poll(10ms);
    std::uint64_t checksum = 0;
    for (auto _ : state) {
        con.seek("events", 0, kbus::OffsetSpec::beginning());
        const auto t0 = std::chrono::steady_clock::now();
        std::int64_t seen = 0, next_commit = commit_every;
        while (seen < n) {
            for (const kbus::Message& m : con.poll(1s)) {
                checksum += std::uint64_t(m.value().size());
                ++seen;
            }
            if (seen >= next_commit) {
                next_commit += commit_every;
                if (mode == CommitMode::sync) con.commit_sync();
                if (mode == CommitMode::async) con.commit_async();
            }
        }
        state.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    benchmark::DoNotOptimize(checksum);
    if (auto e = con.take_async_commit_error())
        state.SkipWithError(("async commit failed: " + std::string(e->what())).c_str());
    state.SetItemsProcessed(state.iterations() * n);
}

class RatioReporter : public kbus::bench::MedianReporter {
  public:
    void Finalize() override {
        MedianReporter::Finalize();
        std::printf("\nMedians:\n");
        if (const double t = median("rebalance_after_death/", "real_time"); t > 0)
            std::printf("  %-40s %8.1f ms  (target < 1000 ms)\n",
                        "rebalance after a member's death", t);
        const double base = median("consume/commit:0", "items_per_second");
        for (const auto& [name, args] : {std::pair{"commit_sync every 1000", "consume/commit:1"},
                                         std::pair{"commit_async every 1000", "consume/commit:2"}})
            if (const double r = median(args, "items_per_second"); base > 0 && r > 0)
                std::printf(
                    "  %-40s %8.1f%% of the no-commit throughput (%.1f vs %.1f M rec/s; "
                    "target >= 95%%)\n",
                    name, 100 * r / base, r / 1e6, base / 1e6);
    }
};

}  // namespace

BENCHMARK(rebalance_after_death)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
BENCHMARK(consume)
    ->ArgName("commit")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);

int main(int argc, char** argv) {
    RatioReporter reporter;
    return kbus::bench::run_benchmarks(argc, argv, reporter);
}
