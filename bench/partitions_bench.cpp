// kbus_bench_partitions: what partitions cost (issue 19, item 5), each figure beside its baseline
// measured in the same run.
//
//   kbus_bench_partitions [--partitions N] [--large N] [--runs R] [--kbusd PATH]
//
// - Creating a topic of N (1000) partitions, R times, and one of --large (10000) once: the time
//   the request takes, and what each idle partition adds to kbusd's RSS and to /dev/shm.
// - A new process producing its first record to one partition of the N-partition topic, against
//   one producing to a 1-partition topic (a fresh process each time: it attaches what it uses).
// - A busy-polling consumer of the N partitions of which 10 hold records, against one of a topic
//   of those 10 alone: nanoseconds per record, draining 20,000 records per partition, with
//   Kafka's default max.poll.records (500) and with 1 (a poll per record, the streaming case),
//   in the consumer's steady state.
//
// kbusd (spill on, as shipped) runs on core 1, the clients on core 0.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/kbus.hpp"

namespace {

struct Options {
    int partitions = 1000;
    int large = 10000;
    int runs = 3;
    std::string kbusd = KBUSD_PATH;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--partitions" && i + 1 < argc)
            o.partitions = std::max(20, std::stoi(argv[++i]));
        else if (a == "--large" && i + 1 < argc)
            o.large = std::max(0, std::stoi(argv[++i]));
        else if (a == "--runs" && i + 1 < argc)
            o.runs = std::max(1, std::stoi(argv[++i]));
        else if (a == "--kbusd" && i + 1 < argc)
            o.kbusd = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: kbus_bench_partitions [--partitions N] [--large N] [--runs R] "
                         "[--kbusd PATH]\n");
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    return o;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double seconds_since(std::uint64_t start_ns) {
    return double(kbus::detail::monotonic_ns() - start_ns) / 1e9;
}

// kbusd's resident set, in bytes.
std::uint64_t rss_of(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

// The bus's shared memory actually allocated (blocks, not file sizes: rings are sparse).
std::uint64_t shm_bytes_of(const std::string& bus) {
    std::uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
        if (!e.path().filename().string().starts_with("kbus.0." + bus + ".")) continue;
        for (const auto& f : std::filesystem::recursive_directory_iterator(e.path())) {
            struct stat st {};
            if (::stat(f.path().c_str(), &st) == 0) total += std::uint64_t(st.st_blocks) * 512;
        }
    }
    return total;
}

kbus::ClientOptions patient(kbus::ClientOptions o) {
    o.request_timeout = std::chrono::minutes(5);
    return o;
}

struct CreateFigures {
    double seconds = 0;
    double rss_per_partition = 0;
    double shm_per_partition = 0;
};

CreateFigures create_topic(const DaemonFixture& d, kbus::Client& c, const std::string& name,
                           int partitions) {
    const std::uint64_t rss = rss_of(d.pid), shm = shm_bytes_of(d.bus);
    const std::uint64_t start = kbus::detail::monotonic_ns();
    c.create_topic(name, partitions);
    CreateFigures f;
    f.seconds = seconds_since(start);
    f.rss_per_partition = (double(rss_of(d.pid)) - double(rss)) / partitions;
    f.shm_per_partition = (double(shm_bytes_of(d.bus)) - double(shm)) / partitions;
    return f;
}

// A new process: a client, a producer and its first record to `partition` of `topic`. Returns
// the seconds that took, as the child measured them.
double first_send_in_new_process(const kbus::ClientOptions& options, const std::string& topic,
                                 int partition) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    const pid_t child = ::fork();
    if (child == 0) {
        kbus::bench::pin_this_thread(0);
        const std::uint64_t start = kbus::detail::monotonic_ns();
        kbus::Client c(options);
        kbus::Producer p(c);
        kbus::SendOptions at;
        at.partition = partition;
        (void)p.send(topic, kbus::BytesView(), std::string(64, 'v'), at);
        const double took = seconds_since(start);
        (void)!::write(fds[1], &took, sizeof took);
        ::_exit(0);
    }
    ::close(fds[1]);
    double took = -1;
    if (::read(fds[0], &took, sizeof took) != sizeof took) took = -1;
    ::close(fds[0]);
    ::waitpid(child, nullptr, 0);
    return took;
}

constexpr int active_partitions = 10;
constexpr int records_per_partition = 20000;

// Which partitions of a topic of `partitions` hold records: 10, spread over it.
int active_partition(int i, int partitions) {
    return i * (partitions / active_partitions);
}

void fill(kbus::Client& c, const std::string& topic, int partitions) {
    kbus::Producer p(c);
    const std::string value(64, 'v');
    kbus::SendOptions at;
    for (int r = 0; r < records_per_partition; ++r)
        for (int i = 0; i < active_partitions; ++i) {
            at.partition = active_partition(i, partitions);
            (void)p.send(topic, kbus::BytesView(), value, at);
        }
}

// Nanoseconds per record for a busy-polling consumer of every partition of `topic` draining
// what fill() put there, in its steady state: after a first drain (a consumer's start: attaching,
// first touches of every ring's pages, a first pass over every partition), it seeks the active
// partitions back to their start and drains them again, three times, timed.
double drain_ns_per_record(const kbus::ClientOptions& options, const std::string& topic,
                           int partitions, std::size_t max_poll_records) {
    kbus::Client c(options);
    kbus::ConsumerOptions co;
    co.wait = kbus::WaitMode::busy_poll;
    co.max_poll_records = max_poll_records;
    kbus::Consumer consumer(c, co);
    consumer.subscribe(topic, kbus::OffsetSpec::beginning());
    const std::uint64_t want = std::uint64_t(active_partitions) * records_per_partition;
    const auto drain = [&] {
        for (std::uint64_t got = 0; got < want;)
            got += consumer.poll(std::chrono::seconds(5)).size();
    };
    drain();
    std::uint64_t took_ns = 0;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < active_partitions; ++i)
            consumer.seek(topic, active_partition(i, partitions), kbus::OffsetSpec::beginning());
        const std::uint64_t start = kbus::detail::monotonic_ns();
        drain();
        took_ns += kbus::detail::monotonic_ns() - start;
    }
    return double(took_ns) / double(3 * want);
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    DaemonFixture d("partitions", {"--override", "kbus.max.partitions=1000000"}, 1, o.kbusd);
    const kbus::ClientOptions options = patient(d.options());
    kbus::bench::pin_this_thread(0);
    kbus::Client c(options);

    std::vector<double> create_s, rss, shm;
    for (int r = 0; r < o.runs; ++r) {
        const CreateFigures f = create_topic(d, c, "wide" + std::to_string(r), o.partitions);
        create_s.push_back(f.seconds);
        rss.push_back(f.rss_per_partition);
        shm.push_back(f.shm_per_partition);
    }
    std::printf("kbusd: %s (spill on), on core 1; clients on core 0; medians of %d runs\n",
                o.kbusd.c_str(), o.runs);
    std::printf(
        "create a topic of %5d partitions: %7.3f s (target: at most 1 s); per idle "
        "partition: kbusd RSS %5.1f KiB (target: at most 64), /dev/shm %5.1f KiB\n",
        o.partitions, median(create_s), median(rss) / 1024, median(shm) / 1024);
    if (o.large > 0) {
        const CreateFigures f = create_topic(d, c, "large", o.large);
        std::printf(
            "create a topic of %5d partitions: %7.3f s (target: at most 10 s); per idle "
            "partition: kbusd RSS %5.1f KiB, /dev/shm %5.1f KiB\n",
            o.large, f.seconds, f.rss_per_partition / 1024, f.shm_per_partition / 1024);
    }

    std::vector<double> wide_start, one_start;
    for (int r = 0; r < o.runs; ++r) {
        c.create_topic("one" + std::to_string(r), 1);
        one_start.push_back(first_send_in_new_process(options, "one" + std::to_string(r), 0));
        wide_start.push_back(first_send_in_new_process(options, "wide0", 7 + r));
    }
    std::printf(
        "a new process's first record: to 1 partition of %d %7.2f ms (target: at most "
        "20 ms), of a 1-partition topic %7.2f ms\n",
        o.partitions, median(wide_start) * 1e3, median(one_start) * 1e3);

    c.create_topic("narrow", active_partitions);
    fill(c, "wide1", o.partitions);
    fill(c, "narrow", active_partitions);
    for (const std::size_t max_poll : {std::size_t(500), std::size_t(1)}) {
        std::vector<double> wide, narrow;
        for (int r = 0; r < o.runs; ++r) {
            wide.push_back(drain_ns_per_record(options, "wide1", o.partitions, max_poll));
            narrow.push_back(drain_ns_per_record(options, "narrow", active_partitions, max_poll));
        }
        std::printf(
            "consumer, max.poll.records %3zu: of %d partitions (10 active) %6.1f ns a "
            "record, of those 10 alone %6.1f ns: %.2fx (target: 1x)\n",
            max_poll, o.partitions, median(wide), median(narrow),
            median(wide) / std::max(1e-9, median(narrow)));
    }
    return 0;
}
