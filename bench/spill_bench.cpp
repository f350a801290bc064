// The durable log's numbers, each against a baseline measured in the same run:
//   disk_sequential_write  1 MiB writes then fdatasync, like `dd bs=1M conv=fdatasync`, and
//                          without the sync (the page cache's own write bandwidth)
//   spill_to_disk          1 KiB records sent, spilled, drained and synced by kbusd's shutdown
//   produce/spill:{0,1}    producer throughput with the spill discarding or writing the log
//   replay_from_disk       a consumer reading a partition lapped out of its ring (page cache),
//                          check_crcs:1 checking every batch's CRC-32C (the default), :0 not
//   crc32c                 the checksum alone over 256 KiB (a spill batch) in L2: chains:1 the
//                          plain one-chain loop, chains:3 the three interleaved chains
//   fresh_memory_first_touch  the rate of never-touched pages: the page cache's own floor
// Repetitions are interleaved at random so the disk's drift hits every benchmark alike; the
// summary at the end divides medians. KBUS_BENCH_MB sets the bytes per iteration (default 1024).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/kbus.hpp"

namespace {

constexpr std::size_t record_value_bytes = 1024;
constexpr int client_cpu = 0;  // the benchmark's own thread
constexpr int daemon_cpu = 1;  // kbusd with all its threads

std::uint64_t bytes_per_iteration() {
    const char* mb = std::getenv("KBUS_BENCH_MB");
    return (mb != nullptr ? std::strtoull(mb, nullptr, 10) : 1024) << 20;
}

std::uint64_t records_per_iteration() {
    return bytes_per_iteration() / record_value_bytes;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Writes back every dirty page before a timed iteration starts. Repetitions are interleaved, so
// without it one line's writes would land on the unsynced gigabytes of the line before: the kernel
// then throttles the writer to the disk's rate, and the page-cache line measured the disk.
void settle_dirty_pages() {
    ::sync();
}

// A value whose bytes differ per record, so nothing along the way can shortcut zeros.
std::vector<std::byte> make_value() {
    std::vector<std::byte> v(record_value_bytes);
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = std::byte(i * 131 + 7);
    return v;
}

std::uint64_t sum_words(kbus::BytesView bytes) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, bytes.data() + i, sizeof w);
        sum += w;
    }
    return sum;
}

void send_records(kbus::Producer& producer, const std::string& topic, std::uint64_t count) {
    std::vector<std::byte> value = make_value();
    kbus::SendOptions options;
    options.partition = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::memcpy(value.data(), &i, sizeof i);
        (void)producer.send(topic, kbus::BytesView(),
                            kbus::BytesView(std::span<const std::byte>(value)), options);
    }
}

std::uint64_t log_file_bytes(const std::filesystem::path& dir) {
    std::uint64_t total = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".log") total += e.file_size();
    return total;
}

// range(0) = 1: then fdatasync, like dd conv=fdatasync (the disk's bandwidth); 0: buffered
// writes only (the page cache's bandwidth: the most a spill that does not sync can reach).
void disk_sequential_write(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const bool sync = state.range(0) != 0;
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("kbus-bench-dd-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string file = dir / "dd.out";
    const std::vector<std::byte> block = [] {
        std::vector<std::byte> b(1 << 20);
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = std::byte(i * 131 + 7);
        return b;
    }();
    const std::uint64_t total = bytes_per_iteration();
    for (auto _ : state) {
        settle_dirty_pages();
        const auto t0 = std::chrono::steady_clock::now();
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) throw std::runtime_error("cannot create " + file);
        for (std::uint64_t done = 0; done < total; done += block.size())
            if (::write(fd, block.data(), block.size()) != ssize_t(block.size()))
                throw std::runtime_error("write to " + file + " failed");
        if (sync) ::fdatasync(fd);
        state.SetIterationTime(seconds_since(t0));
        ::close(fd);
        ::unlink(file.c_str());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * total));
    std::filesystem::remove_all(dir);
}

// The rate at which this machine hands out memory no one has touched yet: 1 GiB of fresh
// anonymous pages, each written once. A spill fills new page-cache pages, each of which has to
// come from somewhere: where the host of a VM maps guest memory only on first use, that dominates
// the spill (perf: the copy into the page cache) and the producers waiting on it.
void fresh_memory_first_touch(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const std::uint64_t total = bytes_per_iteration();
    const auto page = std::uint64_t(::sysconf(_SC_PAGESIZE));
    for (auto _ : state) {
        void* mem =
            ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) throw std::runtime_error("mmap of fresh memory failed");
        auto* bytes = static_cast<volatile unsigned char*>(mem);
        const auto t0 = std::chrono::steady_clock::now();
        for (std::uint64_t at = 0; at < total; at += page)
            bytes[at] = 1;
        state.SetIterationTime(seconds_since(t0));
        ::munmap(mem, total);
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * total));
}

// From the first send until kbusd has exited after its shutdown drain and fsync: every byte is
// then on disk, as with dd's conv=fdatasync.
void spill_to_disk(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const std::uint64_t count = records_per_iteration();
    std::uint64_t on_disk = 0;
    for (auto _ : state) {
        DaemonFixture daemon("bench-spill", {}, daemon_cpu);
        {
            kbus::Client client(daemon.options());
            client.create_topic("spill", 1);
            kbus::Producer producer(client);
            settle_dirty_pages();
            const auto t0 = std::chrono::steady_clock::now();
            send_records(producer, "spill", count);
            daemon.stop();
            state.SetIterationTime(seconds_since(t0));
        }
        on_disk += log_file_bytes(daemon.data_dir());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * count * record_value_bytes));
    state.counters["log_bytes_per_record"] = double(on_disk) / double(state.iterations() * count);
}

// The producer's rate alone; spill:0 runs kbusd with kbus.spill.enable=false, the ring-only bus.
void produce(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    const bool spill = state.range(0) != 0;
    DaemonFixture daemon(
        "bench-produce",
        {"--override", spill ? "kbus.spill.enable=true" : "kbus.spill.enable=false"}, daemon_cpu);
    kbus::Client client(daemon.options());
    const std::uint64_t count = records_per_iteration();
    int round = 0;
    for (auto _ : state) {
        // A fresh topic per iteration, deleted after: the page cache never holds more than one.
        const std::string topic = "produce" + std::to_string(round++);
        client.create_topic(topic, 1);
        {
            kbus::Producer producer(client);
            settle_dirty_pages();
            const auto t0 = std::chrono::steady_clock::now();
            send_records(producer, topic, count);
            state.SetIterationTime(seconds_since(t0));
        }
        client.delete_topic(topic);
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * count * record_value_bytes));
    state.SetItemsProcessed(std::int64_t(state.iterations() * count));
}

void wait_until_spilled(kbus::Client& client, const std::string& topic) {
    for (;;) {
        const kbus::TopicDescription d = client.describe_topic(topic);
        if (d.partitions.at(0).spill_offset >= d.partitions.at(0).high_watermark) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// A 1 MiB ring holds the last thousand records; everything before comes from the segments.
// range(0): whether the consumer checks every batch's CRC (ConsumerOptions::check_crcs).
void replay_from_disk(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    DaemonFixture daemon("bench-replay", {}, daemon_cpu);
    kbus::Client client(daemon.options());
    client.create_topic("replay", 1, {{"ring.bytes", std::to_string(1 << 20)}});
    const std::uint64_t count = records_per_iteration();
    {
        kbus::Producer producer(client);
        send_records(producer, "replay", count);
    }
    wait_until_spilled(client, "replay");
    std::uint64_t checksum = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        kbus::ConsumerOptions options;
        options.wait = kbus::WaitMode::busy_poll;
        options.check_crcs = state.range(0) != 0;
        kbus::Consumer consumer(client, options);
        consumer.assign("replay", 0, kbus::OffsetSpec::beginning());
        std::uint64_t seen = 0;
        while (seen < count) {
            for (const kbus::Message& m : consumer.poll(std::chrono::seconds(5))) {
                if (m.value().size() != record_value_bytes || m.offset() != std::int64_t(seen))
                    throw std::runtime_error("replay read a wrong record at " +
                                             std::to_string(seen));
                checksum += sum_words(m.value());  // the replay reads every byte
                ++seen;
            }
        }
        state.SetIterationTime(seconds_since(t0));
    }
    benchmark::DoNotOptimize(checksum);
    state.SetBytesProcessed(std::int64_t(state.iterations() * count * record_value_bytes));
    state.SetItemsProcessed(std::int64_t(state.iterations() * count));
}

// The checksum alone, over a spill batch's 256 KiB (hot in L2, as a batch a consumer just read).
void crc32c(benchmark::State& state) {
    kbus::bench::pin_this_thread(client_cpu);
    std::vector<unsigned char> batch(256 * 1024);
    for (std::size_t i = 0; i < batch.size(); ++i)
        batch[i] = static_cast<unsigned char>(i * 131 + 7);
    std::uint32_t crc = 0;
    for (auto _ : state) {
#if defined(__x86_64__)
        if (state.range(0) == 1) {
            crc = ~kbus::detail::crc32c_impl::hardware_one_chain(~crc, batch.data(), batch.size());
            continue;
        }
#endif
        crc = kbus::detail::crc32c(batch.data(), batch.size(), crc);
    }
    benchmark::DoNotOptimize(crc);
    state.SetBytesProcessed(std::int64_t(state.iterations() * batch.size()));
}

// Prints the ratios from the medians once every benchmark has run.
class RatioReporter : public kbus::bench::MedianReporter {
  public:
    void Finalize() override {
        MedianReporter::Finalize();
        std::printf("\nMedians (bytes/s of 1 KiB record values):\n");
        ratio("spill / disk sequential write", "spill_to_disk/",
              "disk_sequential_write/fdatasync:1", 0.90);
        ratio("producer, spill on / spill off", "produce/spill:1", "produce/spill:0", 0.0);
        ratio("producer spill on / page cache", "produce/spill:1",
              "disk_sequential_write/fdatasync:0", 0.70);
        const double fresh = rate("fresh_memory_first_touch/");
        if (fresh > 0)
            std::printf("  %-34s %8.2f GB/s   (how dear a never-used page is here)\n",
                        "fresh memory, first touch", fresh / 1e9);
        const double replay = rate("replay_from_disk/check_crcs:1");
        if (replay > 0)
            std::printf("  %-34s %8.2f GB/s   (target >= 1 GB/s)\n", "replay from disk",
                        replay / 1e9);
        ratio("replay, CRCs checked / unchecked", "replay_from_disk/check_crcs:1",
              "replay_from_disk/check_crcs:0", 0.95);
        ratio("CRC-32C, three chains / one", "crc32c/chains:3", "crc32c/chains:1", 0.0);
    }

  private:
    [[nodiscard]] double rate(const std::string& name) const {
        return median(name, "bytes_per_second");
    }
    void ratio(const char* what, const std::string& a, const std::string& b, double target) const {
        if (rate(a) <= 0 || rate(b) <= 0) return;
        std::printf("  %-34s %8.1f%%  (%.2f / %.2f GB/s", what, 100.0 * rate(a) / rate(b),
                    rate(a) / 1e9, rate(b) / 1e9);
        if (target > 0)
            std::printf(", target >= %.0f%%)\n", target * 100);
        else
            std::printf(")\n");
    }
};

}  // namespace

BENCHMARK(disk_sequential_write)
    ->ArgName("fdatasync")
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK(fresh_memory_first_touch)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
BENCHMARK(spill_to_disk)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
BENCHMARK(produce)
    ->ArgName("spill")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK(replay_from_disk)
    ->ArgName("check_crcs")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK(crc32c)->ArgName("chains")->Arg(1)->Arg(3)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
    RatioReporter reporter;
    return kbus::bench::run_benchmarks(argc, argv, reporter);
}
