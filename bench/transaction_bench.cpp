// Transactions on shared memory (issue 20's numbers), on Google Benchmark:
//   commit/spill          a transaction of 100 records of 64 B over 4 partitions: the time of
//                         commit_transaction() alone (p50, p99 from every sample) and of the
//                         whole transaction, with the spill to disk on (1) or off (0)
//   transform/txn         a consume-transform-produce loop, 64 B records from one topic to
//                         another, a transaction committed every 1000 records (txn 1) or none
//                         (txn 0): records per second, to compare in one run
// Run by hand: build/bench/kbus_bench_txn [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/kbus.hpp"

using namespace std::chrono_literals;

namespace {

std::vector<std::string> daemon_args(bool spill) {
    if (spill) return {};
    return {"--override", "kbus.spill.enable=false"};
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, std::size_t(p * double(v.size())))];
}

void commit(benchmark::State& state) {
    const bool spill = state.range(0) != 0;
    DaemonFixture daemon{"bench-txn", daemon_args(spill), 1};
    kbus::bench::pin_this_thread(0);
    kbus::Client client{daemon.options()};
    client.create_topic("t", 4, {{"ring.bytes", std::to_string(16 << 20)}});
    kbus::Producer p(client, {.transactional_id = "bench-commit"});
    const std::string value(64, 'v');
    std::vector<double> commit_us, whole_us;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        p.begin_transaction();
        for (int i = 0; i < 100; ++i) {
            kbus::SendOptions o;
            o.partition = i % 4;
            benchmark::DoNotOptimize(p.send("t", nullptr, value, o));
        }
        const auto before_commit = std::chrono::steady_clock::now();
        p.commit_transaction();
        const auto end = std::chrono::steady_clock::now();
        commit_us.push_back(std::chrono::duration<double, std::micro>(end - before_commit).count());
        whole_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    state.counters["commit_p50_us"] = percentile(commit_us, 0.5);
    state.counters["commit_p99_us"] = percentile(commit_us, 0.99);
    state.counters["txn_p50_us"] = percentile(whole_us, 0.5);
    state.SetItemsProcessed(state.iterations() * 100);
}

// Reads 1000 records of `in` and sends each on to `out`, inside a transaction or not.
void transform(benchmark::State& state) {
    const bool transactional = state.range(0) != 0;
    DaemonFixture daemon{"bench-ctp", daemon_args(false), 1};
    kbus::bench::pin_this_thread(0);
    kbus::Client client{daemon.options()};
    const std::map<std::string, std::string> big{{"ring.bytes", std::to_string(256 << 20)}};
    client.create_topic("in", 1, big);
    client.create_topic("out", 1, big);
    constexpr int per_round = 1000;
    const auto rounds = std::int64_t(state.max_iterations);
    {
        kbus::Producer feed(client);
        const std::string value(64, 'i');
        for (std::int64_t i = 0; i < (rounds + 1) * per_round; ++i)  // a round may take 99 more
            (void)feed.send("in", nullptr, value);
    }
    kbus::Consumer con(client, {.wait = kbus::WaitMode::busy_poll, .max_poll_records = 100});
    con.assign("in", 0, kbus::OffsetSpec::beginning());
    kbus::ProducerOptions options;
    if (transactional) options.transactional_id = "bench-ctp";
    kbus::Producer out(client, options);
    std::string transformed;
    std::int64_t total = 0;
    for (auto _ : state) {
        if (transactional) out.begin_transaction();
        for (int taken = 0; taken < per_round;)
            for (const auto& m : con.poll(1ms)) {  // at most 100: a round ends within one
                transformed.assign(m.value().str());
                transformed[0] = 'o';
                (void)out.send("out", nullptr, transformed);
                ++taken;
                ++total;
            }
        if (transactional) out.commit_transaction();
    }
    state.SetItemsProcessed(total);
}

}  // namespace

BENCHMARK(commit)->Arg(0)->Arg(1)->Iterations(20000)->Unit(benchmark::kMicrosecond);
BENCHMARK(transform)->Arg(0)->Arg(1)->Iterations(300)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
