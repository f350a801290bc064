// The core bus's numbers, on Google Benchmark (its JSON reporter gives every counter):
//   send/N, claim_commit/N     one producer's cost per record of N value bytes (ring-only bus);
//                              send_exclusive, send_idempotent, send_transactional beside it
//   poll_empty, poll_records   a consumer's cost of a poll that finds nothing, and per record
//   round_trip/mode/payload    two processes on two cores ping-ponging over two topics: p50,
//                              p99, p99.9, p99.99 and max from a histogram of every sample
//   stream/P/C/spill/batch     P producer processes -> one partition -> C consumer processes
//   stream_blocking/P/C/...   the same with blocking consumers (spin 50 us, then sleep);
//   stream_yielding/P/C/...   with yielding ones (sched_yield between empty looks)
//   raw_stream/C/wait          the machine's peer for them: a raw one-writer ring read whole by
//                              C reader processes (raw_fan_out.hpp) that spin, yield, or yield
//                              or nap until 16 KiB are there; same records, same run
//                              (each reads everything, a byte of every value), 64 B records,
//                              spill to disk on or off, sent one by one or in runs of 64
// Run by hand: build/bench/kbus_bench_bus [--benchmark_filter=...] [--benchmark_format=json]
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "compare/kbus_peer.hpp"
#include "compare/run_pair.hpp"
#include "daemon_fixture.hpp"
#include "kbus/kbus.hpp"
#include "raw_fan_out.hpp"

using namespace std::chrono_literals;

namespace {

const std::vector<std::string> ring_only = {"--override", "kbus.spill.enable=false"};

// --- one process: the cost of each call -----------------------------------------------------

// A ring-only bus with one partition of the default 4 MiB ring; the daemon (pinned to core 1)
// keeps the ring moving, this thread runs on core 0.
struct SingleProcess {
    DaemonFixture daemon{"bench-bus", ring_only, 1};
    kbus::Client client{daemon.options()};
    explicit SingleProcess(std::size_t payload) {
        kbus::bench::pin_this_thread(0);
        client.create_topic("t", 1,
                            {{"ring.bytes", std::to_string(64 << 20)},
                             {"max.message.bytes", std::to_string(payload + 4096)}});
    }
};

// exclusive: the producer owns the partition (ProducerOptions::exclusive), claims with plain
// stores; beside `send`, what the claim's locked instruction costs a lone producer.
// idempotent: each record carries its producer stamp (ProducerOptions::enable_idempotence, 16
// bytes more); transactional: inside one transaction, the producer checks its fence after each
// claim.
void send_as(benchmark::State& state, const kbus::ProducerOptions& options) {
    const auto payload = std::size_t(state.range(0));
    SingleProcess bus(payload);
    kbus::Producer p(bus.client, options);
    const std::string value(payload, 'v');
    kbus::SendOptions o;
    o.partition = 0;
    const bool transactional = !options.transactional_id.empty();
    if (transactional) p.begin_transaction();  // its sends go inside one
    for (auto _ : state)
        benchmark::DoNotOptimize(p.send("t", nullptr, value, o));
    if (transactional) p.commit_transaction();
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * std::int64_t(payload));
}
void send(benchmark::State& state) {
    send_as(state, {});
}
void send_exclusive(benchmark::State& state) {
    send_as(state, {.exclusive = true});
}
void send_idempotent(benchmark::State& state) {
    send_as(state, {.enable_idempotence = true});
}
void send_transactional(benchmark::State& state) {
    send_as(state, {.transactional_id = "bench"});
}

// Runs of 64 records with one claim each (Producer::send_batch); counted per record.
void send_batch(benchmark::State& state) {
    const auto payload = std::size_t(state.range(0));
    SingleProcess bus(payload);
    kbus::Producer p(bus.client);
    const std::string value(payload, 'v');
    const std::vector<kbus::BatchRecord> run(64, kbus::BatchRecord{{}, value});
    kbus::SendOptions o;
    o.partition = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(p.send_batch("t", run, o));
    state.SetItemsProcessed(state.iterations() * std::int64_t(run.size()));
    state.SetBytesProcessed(state.iterations() * std::int64_t(run.size() * payload));
}

void claim_commit(benchmark::State& state) {
    const auto payload = std::size_t(state.range(0));
    SingleProcess bus(payload);
    kbus::Producer p(bus.client);
    kbus::SendOptions o;
    o.partition = 0;
    for (auto _ : state) {
        auto c = p.claim("t", nullptr, std::int32_t(payload), o);
        c.value()[0] = std::byte{1};  // the producer builds its message in place
        benchmark::DoNotOptimize(p.commit(c));
    }
    state.SetItemsProcessed(state.iterations());
}

void poll_empty(benchmark::State& state) {
    SingleProcess bus(64);
    kbus::Consumer con(bus.client, {.wait = kbus::WaitMode::busy_poll});
    con.assign("t", 0, kbus::OffsetSpec::end());
    for (auto _ : state)
        benchmark::DoNotOptimize(con.poll(0ns).size());
}

void poll_records(benchmark::State& state) {
    SingleProcess bus(64);
    constexpr int records = 15000;  // 1.7 MB of frames: within the ring's recent half
    {
        kbus::Producer p(bus.client);
        const std::string value(64, 'v');
        for (int i = 0; i < records; ++i)
            (void)p.send("t", nullptr, value);
    }
    kbus::Consumer con(bus.client, {.wait = kbus::WaitMode::busy_poll, .max_poll_records = 4096});
    std::uint64_t sum = 0;
    for (auto _ : state) {
        state.PauseTiming();
        con.assign("t", 0, kbus::OffsetSpec::at(0));
        state.ResumeTiming();
        for (int seen = 0; seen < records;)
            for (const kbus::Message& m : con.poll(1s)) {
                sum += m.value().size();
                ++seen;
            }
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * records);
}

// --- two processes: round trips --------------------------------------------------------------

void round_trip(benchmark::State& state) {
    const bool busy = state.range(0) == 0;
    const auto payload = std::size_t(state.range(1));
    DaemonFixture daemon("bench-rtt", ring_only);
    kbus::compare::KbusPeer peer("kbus", daemon.options(),
                                 busy ? kbus::WaitMode::busy_poll : kbus::WaitMode::blocking,
                                 busy ? 0us : 50us);
    const std::uint64_t n = payload <= 4096 ? 50000 : payload <= 65536 ? 10000 : 2000;
    for (auto _ : state) {
        const auto r = kbus::compare::run_pair(peer, payload, true, {n / 10, n}, {0, 1}, 120s);
        if (!r.ok) {
            state.SkipWithError(r.error.c_str());
            break;
        }
        const auto& h = r.round_trip_ns;
        state.SetIterationTime(double(h.percentile(50)) * 1e-9);  // the reported time is p50
        state.counters["p50_ns"] = double(h.percentile(50));
        state.counters["p99_ns"] = double(h.percentile(99));
        state.counters["p99.9_ns"] = double(h.percentile(99.9));
        state.counters["p99.99_ns"] = double(h.percentile(99.99));
        state.counters["max_ns"] = double(h.max());
        state.counters["samples"] = double(h.count());
    }
}

// --- many processes: throughput on one partition ---------------------------------------------

struct StreamShared {
    std::atomic<int> ready{0};
    std::atomic<int> go{0};
    std::atomic<int> failed{0};
};

// 1 -> 1 runs pinned (consumer on core 0, producer on core 1); more processes than cores are
// left to the scheduler.
[[noreturn]] void stream_producer(const DaemonFixture& d, StreamShared& s, std::int64_t records,
                                  int cpu, std::size_t batch) {
    int code = 0;
    try {
        if (cpu >= 0) kbus::bench::pin_this_thread(cpu);
        kbus::Client c(d.options());
        kbus::Producer p(c);
        const std::string value(64, 'v');
        kbus::SendOptions o;
        o.partition = 0;
        (void)p.partition_count("s");
        s.ready.fetch_add(1, std::memory_order_acq_rel);
        while (s.go.load(std::memory_order_acquire) == 0) {
        }
        const std::vector<kbus::BatchRecord> run(batch, kbus::BatchRecord{{}, value});
        for (std::int64_t i = 0; i < records;) {
            if (batch == 1) {
                (void)p.send("s", nullptr, value, o);
                ++i;
                continue;
            }
            const auto n = std::min<std::int64_t>(std::int64_t(batch), records - i);
            (void)p.send_batch("s", std::span(run).first(std::size_t(n)), o);
            i += n;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "producer: %s\n", e.what());
        s.failed.store(1);
        code = 1;
    }
    std::_Exit(code);
}

// fetch_min_bytes: ConsumerOptions::fetch_min_bytes (the end of the stream waits 1 ms at most).
[[noreturn]] void stream_consumer(const DaemonFixture& d, StreamShared& s, std::int64_t total,
                                  int cpu, kbus::WaitMode wait, std::size_t fetch_min_bytes) {
    int code = 0;
    try {
        if (cpu >= 0) kbus::bench::pin_this_thread(cpu);
        kbus::Client c(d.options());
        kbus::Consumer con(c, {.wait = wait,
                               .max_poll_records = 4096,
                               .fetch_min_bytes = fetch_min_bytes,
                               .fetch_max_wait = 1ms});
        con.assign("s", 0, kbus::OffsetSpec::end());
        s.ready.fetch_add(1, std::memory_order_acq_rel);
        std::uint64_t sum = 0;
        for (std::int64_t seen = 0; seen < total && s.failed.load() == 0;)
            for (const kbus::Message& m : con.poll(100ms)) {
                sum += std::to_integer<unsigned>(m.value().data()[0]);  // a reader reads its data
                ++seen;
            }
        benchmark::DoNotOptimize(sum);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        s.failed.store(1);
        code = 1;
    }
    std::_Exit(code);
}

// The shared word of a forked run, mapped before the forks so every process has it.
StreamShared* map_stream_shared() {
    return new (::mmap(nullptr, sizeof(StreamShared), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0)) StreamShared{};
}

struct ForkedRun {
    double seconds = 0;   ///< from `go` until every timed process exited
    bool failed = false;  ///< some process exited non-zero
};

// Waits until the forked processes are ready, lets them go, and times them: the `timed` ones
// (those that end the stream) first, then reaps the `untimed`. Unmaps `s`.
ForkedRun time_forked_run(StreamShared* s, const std::vector<pid_t>& timed,
                          const std::vector<pid_t>& untimed) {
    const int all = int(timed.size() + untimed.size());
    while (s->ready.load() < all && s->failed.load() == 0)
        std::this_thread::sleep_for(1ms);
    const auto t0 = std::chrono::steady_clock::now();
    s->go.store(1, std::memory_order_release);
    int status = 0, bad = 0;
    for (pid_t pid : timed) {
        ::waitpid(pid, &status, 0);
        bad |= status;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (pid_t pid : untimed) {
        ::waitpid(pid, &status, 0);
        bad |= status;
    }
    ::munmap(s, sizeof(StreamShared));
    return {seconds, bad != 0};
}

std::int64_t stream_records() {
    const char* n = std::getenv("KBUS_BENCH_RECORDS");
    return n != nullptr ? std::strtoll(n, nullptr, 10) : 10'000'000;
}

void stream_with(benchmark::State& state, kbus::WaitMode wait, std::size_t fetch_min_bytes = 1) {
    const int producers = int(state.range(0)), consumers = int(state.range(1));
    const bool spill = state.range(2) != 0;
    const auto batch = std::size_t(state.range(3));
    DaemonFixture daemon("bench-stream", spill ? std::vector<std::string>{} : ring_only);
    {
        kbus::Client c(daemon.options());
        c.create_topic("s", 1);  // the default ring: 4 MiB
    }
    const std::int64_t total = stream_records();
    const std::int64_t each = total / producers;
    const bool pinned = producers == 1 && consumers == 1;
    for (auto _ : state) {
        StreamShared* s = map_stream_shared();
        std::vector<pid_t> consumer_pids, producer_pids;
        for (int i = 0; i < consumers; ++i)
            if (const pid_t pid = ::fork(); pid == 0)
                stream_consumer(daemon, *s, each * producers, pinned ? 0 : -1, wait,
                                fetch_min_bytes);
            else
                consumer_pids.push_back(pid);
        for (int i = 0; i < producers; ++i)
            if (const pid_t pid = ::fork(); pid == 0)
                stream_producer(daemon, *s, each, pinned ? 1 : -1, batch);
            else
                producer_pids.push_back(pid);
        const ForkedRun run = time_forked_run(s, consumer_pids, producer_pids);
        state.SetIterationTime(run.seconds);
        if (run.failed) {
            state.SkipWithError("a producer or consumer failed (see stderr)");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations() * each * producers);
}

// The raw peer of the streams above: the same forks, pinning and record count, through
// RawFanOutRing (no daemon). wait 0: readers spin; 1: they yield their core when nothing is
// there; 2: they yield until 16 KiB are there (the fetch.min.bytes of stream_fetch); 3: they nap
// 20 us at a time until 16 KiB are there (a timer's sleep, as stream_blocking_fetch's consumers).
void raw_stream(benchmark::State& state) {
    const int readers = int(state.range(0));
    const std::int64_t mode = state.range(1);
    const kbus::bench::RawWait wait{
        mode != 0, mode >= 2 ? 16384u : 1u,
        mode == 3 ? std::chrono::nanoseconds(20'000) : std::chrono::nanoseconds(0)};
    const std::int64_t total = stream_records();
    const bool pinned = readers == 1;
    constexpr std::size_t payload = 64;
    for (auto _ : state) {
        kbus::bench::RawFanOutRing ring(std::size_t(4) << 20, readers);  // kbus's default ring
        StreamShared* s = map_stream_shared();
        std::vector<pid_t> pids;
        for (int i = 0; i <= readers; ++i) {
            const pid_t pid = ::fork();
            if (pid != 0) {
                pids.push_back(pid);
                continue;
            }
            const bool writer = i == readers;
            if (pinned) kbus::bench::pin_this_thread(writer ? 1 : 0);
            s->ready.fetch_add(1, std::memory_order_acq_rel);
            while (s->go.load(std::memory_order_acquire) == 0) {
            }
            if (writer)
                ring.produce(total, payload);
            else
                benchmark::DoNotOptimize(ring.consume(i, total, payload, wait));
            std::_Exit(0);
        }
        const ForkedRun run = time_forked_run(s, pids, {});  // the writer ends before the readers
        state.SetIterationTime(run.seconds);
        if (run.failed) {
            state.SkipWithError("a raw reader or writer failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations() * total);
}

// Consumers that busy-poll (each takes a core while it waits), and consumers that block (spin
// 50 us, then sleep until a commit wakes them), which share two cores with the producer.
void stream(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::busy_poll);
}
void stream_blocking(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::blocking);
}
// Consumers that wait for 16 KiB a poll (fetch.min.bytes): read in runs, leave the producer's
// lines (and, blocking, the cores) alone in between.
void stream_fetch(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::busy_poll, 16384);
}
void stream_blocking_fetch(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::blocking, 16384);
}
// Consumers that give the core away between empty looks (WaitMode::yielding): the mode for more
// busy consumers than cores, beside raw_stream's yielding readers.
void stream_yielding(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::yielding);
}
void stream_yielding_fetch(benchmark::State& state) {
    stream_with(state, kbus::WaitMode::yielding, 16384);
}

class BusReporter : public kbus::bench::MedianReporter {
  public:
    void Finalize() override {
        MedianReporter::Finalize();
        std::printf("\nMedians:\n");
        for (const char* b : {"round_trip/mode:0/payload:64", "round_trip/mode:0/payload:1048576",
                              "round_trip/mode:1/payload:64"})
            if (const double p = median(b, "p50_ns"); p > 0)
                std::printf("  %-44s p50 %7.0f  p99 %7.0f  p99.9 %8.0f  max %9.0f ns\n", b, p,
                            median(b, "p99_ns"), median(b, "p99.9_ns"), median(b, "max_ns"));
        const double one =
            median("stream/producers:1/consumers:1/spill:0/batch:1", "items_per_second");
        for (const char* spill : {"0", "1"})
            for (const char* shape :
                 {"producers:1/consumers:1", "producers:4/consumers:1", "producers:1/consumers:4"})
                for (const char* batch : {"1", "64"}) {
                    const std::string b =
                        std::string("stream/") + shape + "/spill:" + spill + "/batch:" + batch;
                    if (const double r = median(b, "items_per_second"); r > 0)
                        std::printf("  %-50s %6.2f M rec/s  (%.2fx of 1->1 ring-only)\n", b.c_str(),
                                    r / 1e6, one > 0 ? r / one : 0.0);
                }
        // Blocking consumers against the blocking 1 -> 1 of the same run; with fetch.min.bytes,
        // against the 1 -> 1 of the same wait mode at its defaults.
        const double blocking_one =
            median("stream_blocking/producers:1/consumers:1/spill:0/batch:1", "items_per_second");
        for (const char* family : {"stream_blocking/", "stream_fetch/", "stream_blocking_fetch/",
                                   "stream_yielding/", "stream_yielding_fetch/"})
            for (const char* shape : {"producers:1/consumers:1", "producers:1/consumers:4"}) {
                const std::string b = std::string(family) + shape + "/spill:0/batch:1";
                const std::string f = family;
                const double base =
                    f == "stream_blocking/" || f == "stream_blocking_fetch/" ? blocking_one : one;
                if (const double r = median(b, "items_per_second"); r > 0)
                    std::printf("  %-50s %6.2f M rec/s  (%.2fx of the 1->1 at defaults)\n",
                                b.c_str(), r / 1e6, base > 0 ? r / base : 0.0);
            }
        // The raw peer: each fan-out against the raw 1 -> 1 of the same run, as kbus's are.
        const double raw_one = median("raw_stream/readers:1/wait:0", "items_per_second");
        for (const char* b : {"raw_stream/readers:1/wait:0", "raw_stream/readers:4/wait:0",
                              "raw_stream/readers:4/wait:1", "raw_stream/readers:4/wait:2",
                              "raw_stream/readers:4/wait:3"})
            if (const double r = median(b, "items_per_second"); r > 0)
                std::printf("  %-50s %6.2f M rec/s  (%.2fx of the raw 1->1)\n", b, r / 1e6,
                            raw_one > 0 ? r / raw_one : 0.0);
    }
};

}  // namespace

BENCHMARK(send)->Arg(8)->Arg(64)->Arg(80)->Arg(1024);
BENCHMARK(send_exclusive)->Arg(64);
BENCHMARK(send_idempotent)->Arg(64);
BENCHMARK(send_transactional)->Arg(64);
BENCHMARK(send_batch)->Arg(8)->Arg(64)->Arg(1024);
BENCHMARK(claim_commit)->Arg(64)->Arg(1024)->Arg(65536);
BENCHMARK(poll_empty);
BENCHMARK(poll_records)->Unit(benchmark::kMillisecond);
BENCHMARK(round_trip)
    ->ArgNames({"mode", "payload"})
    ->ArgsProduct({{0, 1}, {8, 64, 1024, 65536, 1048576}})
    ->UseManualTime()
    ->Unit(benchmark::kNanosecond)
    ->Iterations(1);
// Streams: one iteration each, timed by the run itself (manual time).
void stream_run(benchmark::internal::Benchmark* b) {
    b->ArgNames({"producers", "consumers", "spill", "batch"})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
}
// 1 -> 1 and 1 -> 4 (each consumer reads everything), ring only, record by record.
void fan_out(benchmark::internal::Benchmark* b) {
    stream_run(b->Args({1, 1, 0, 1})->Args({1, 4, 0, 1}));
}

BENCHMARK(stream)
    ->Args({1, 1, 0, 1})
    ->Args({4, 1, 0, 1})
    ->Args({1, 4, 0, 1})
    ->Args({1, 1, 0, 64})
    ->Args({4, 1, 0, 64})
    ->Args({1, 1, 1, 1})
    ->Args({4, 1, 1, 1})
    ->Args({1, 4, 1, 1})
    ->Args({1, 1, 1, 64})
    ->Apply(stream_run);
BENCHMARK(stream_blocking)->Apply(fan_out);
BENCHMARK(stream_fetch)->Apply(fan_out);
BENCHMARK(stream_blocking_fetch)->Apply(fan_out);
BENCHMARK(stream_yielding)->Apply(fan_out);
BENCHMARK(stream_yielding_fetch)->Apply(fan_out);
BENCHMARK(raw_stream)
    ->ArgNames({"readers", "wait"})
    ->Args({1, 0})
    ->Args({4, 0})
    ->Args({4, 1})
    ->Args({4, 2})
    ->Args({4, 3})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

int main(int argc, char** argv) {
    BusReporter reporter;
    return kbus::bench::run_benchmarks(argc, argv, reporter);
}
