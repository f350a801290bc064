// The log cleaner's numbers (compacted topics), each beside a baseline measured in the same run:
//   page_cache_write          1 MiB buffered writes: the page cache's own write bandwidth
//   clean_pass                one cleaner pass over a log of 1 KiB records, 10% of them unique
//                             keys (the key map, then every segment rewritten), page cache warm
//   produce_beside_cleaner    1 KiB records sent to one topic while kbusd's cleaner compacts
//                             another (cleaning:1), against the same with nothing to clean (:0)
// Repetitions are interleaved at random; the summary divides medians. KBUS_BENCH_MB sets the
// bytes per iteration (default 512).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/kbus.hpp"
#include "log/batch_builder.hpp"
#include "log/log_cleaner.hpp"
#include "log/partition_log.hpp"

namespace {

namespace fs = std::filesystem;
constexpr std::size_t record_value_bytes = 1024;
constexpr int client_cpu = 0;
constexpr int daemon_cpu = 1;

std::uint64_t bytes_per_iteration() {
    const char* mb = std::getenv("KBUS_BENCH_MB");
    return (mb != nullptr ? std::strtoull(mb, nullptr, 10) : 512) << 20;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

fs::path scratch(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("kbus-bench-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string value_of(std::uint64_t i) {
    std::string v(record_value_bytes, '\0');
    for (std::size_t b = 0; b < v.size(); ++b)
        v[b] = char((i + b) * 131 + 7);
    return v;
}

void page_cache_write(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const fs::path dir = scratch("pagecache");
    const std::string file = dir / "out";
    const std::string block(1 << 20, 'x');
    const std::uint64_t total = bytes_per_iteration();
    for (auto _ : state) {
        ::sync();
        const auto t0 = std::chrono::steady_clock::now();
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        for (std::uint64_t done = 0; done < total; done += block.size())
            if (::write(fd, block.data(), block.size()) != ssize_t(block.size()))
                throw std::runtime_error("write failed");
        state.SetIterationTime(seconds_since(t0));
        ::close(fd);
        ::unlink(file.c_str());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * total));
    fs::remove_all(dir);
}

// A log of `total` bytes of 1 KiB records, in batches of 16 as the spill writes them, 10% of
// them unique keys (each key written ten times, spread over the whole log).
void fill_log(kbus::log::PartitionLog& log, std::uint64_t total) {
    const std::uint64_t count = total / record_value_bytes, keys = count / 10;
    kbus::log::BatchBuilder b;
    for (std::uint64_t o = 0; o < count;) {
        b.clear();
        for (int k = 0; k < 16 && o < count; ++k, ++o) {
            const std::string key = "key-" + std::to_string(o % keys), value = value_of(o);
            b.add(std::int64_t(o), 1000, kbus::BytesView(key), kbus::BytesView(value), {});
        }
        log.append(b.finish(kbus::config::Compression::none), 0);
    }
}

void clean_pass(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    kbus::config::TopicConfig config;
    config.cleanup_compact = true;
    config.segment_bytes = 64 << 20;
    const auto quiet = [](const std::string&, const std::string&) {};
    std::uint64_t cleaned = 0;
    for (auto _ : state) {
        const fs::path dir = scratch("clean") / "t-0";
        {
            kbus::log::PartitionLog log(dir, config, false, quiet);
            fill_log(log, bytes_per_iteration());
            const auto section = log.cleanable_section(0);
            if (!section) throw std::runtime_error("nothing to clean");
            kbus::log::IoThrottle unlimited(std::numeric_limits<std::int64_t>::max());
            kbus::log::LogCleaner cleaner(config, 0, unlimited, quiet);
            const auto t0 = std::chrono::steady_clock::now();
            const kbus::log::CleanerStats s = cleaner.clean(
                *section, [&](kbus::log::CleanedGroup& g) { return log.swap_in_cleaned(g); });
            state.SetIterationTime(seconds_since(t0));
            cleaned += section->total_bytes();
            state.counters["kept_fraction"] =
                double(s.records_kept) / double(s.records_kept + s.records_removed);
        }
        fs::remove_all(dir.parent_path());
    }
    state.SetBytesProcessed(std::int64_t(cleaned));
}

void send_records(kbus::Client& client, const std::string& topic, std::uint64_t count,
                  std::uint64_t keys) {
    kbus::Producer producer(client);
    kbus::SendOptions options;
    options.partition = 0;
    std::string value = value_of(0);
    for (std::uint64_t i = 0; i < count; ++i) {
        std::memcpy(value.data(), &i, sizeof i);
        const std::string key = "key-" + std::to_string(i % keys);
        (void)producer.send(topic, key, value, options);
    }
}

void produce_beside_cleaner(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const bool cleaning = state.range(0) != 0;
    DaemonFixture daemon("bench-cleaner", {"--override", "log.cleaner.backoff.ms=20"}, daemon_cpu);
    kbus::Client client(daemon.options());
    const std::uint64_t count = bytes_per_iteration() / record_value_bytes;
    int round = 0;
    for (auto _ : state) {
        // The state topic is filled with compaction held back (min.compaction.lag.ms), then let
        // go as the timed producer starts on its own topic.
        const std::string state_topic = "state" + std::to_string(round),
                          live = "live" + std::to_string(round++);
        client.create_topic(state_topic, 1,
                            {{"cleanup.policy", "compact"},
                             {"segment.bytes", std::to_string(64 << 20)},
                             {"min.compaction.lag.ms", "3600000"}});
        client.create_topic(live, 1);
        send_records(client, state_topic, count, count / 10);
        ::sync();
        if (cleaning) client.alter_topic(state_topic, {{"min.compaction.lag.ms", "0"}});
        const auto t0 = std::chrono::steady_clock::now();
        send_records(client, live, count, count);
        state.SetIterationTime(seconds_since(t0));
        client.delete_topic(state_topic);
        client.delete_topic(live);
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * count * record_value_bytes));
}

class RatioReporter : public kbus::bench::MedianReporter {
  public:
    void Finalize() override {
        MedianReporter::Finalize();
        const double page = rate("page_cache_write/"), clean = rate("clean_pass/");
        const double alone = rate("produce_beside_cleaner/cleaning:0"),
                     beside = rate("produce_beside_cleaner/cleaning:1");
        std::printf("\nmedians (%llu MB an iteration, 1 KiB records, 10%% unique keys):\n",
                    (unsigned long long)(bytes_per_iteration() >> 20));
        if (clean > 0)
            std::printf("  %-40s %8.0f MB/s  (target >= 200 MB/s)\n", "cleaner pass", clean / 1e6);
        if (clean > 0 && page > 0)
            std::printf("  %-40s %8.1f%%  (%.0f / %.0f MB/s)\n", "cleaner / page-cache writes",
                        100 * clean / page, clean / 1e6, page / 1e6);
        if (alone > 0 && beside > 0)
            std::printf("  %-40s %8.1f%%  (%.0f / %.0f MB/s, target >= 90%%)\n",
                        "producer beside the cleaner / alone", 100 * beside / alone, beside / 1e6,
                        alone / 1e6);
    }

  private:
    [[nodiscard]] double rate(const std::string& name) const {
        return median(name, "bytes_per_second");
    }
};

}  // namespace

BENCHMARK(page_cache_write)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
BENCHMARK(clean_pass)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
BENCHMARK(produce_beside_cleaner)
    ->ArgName("cleaning")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);

int main(int argc, char** argv) {
    RatioReporter reporter;
    return kbus::bench::run_benchmarks(argc, argv, reporter);
}
