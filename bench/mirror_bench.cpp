// kbus_bench_mirror: `kbus mirror` (its own process, as users run it) against librdkafka's mock
// cluster in this process, beside `kbus produce`'s own rate measured in the same run.
//   out:     N records already on a local topic (written by `kbus produce`, whose rate is the
//            baseline), then the mirror started: records/s until Kafka holds all N
//   in:      N records already in a Kafka topic, then the mirror started: records/s until the
//            bus holds all N
//   keep-up: a local producer paced at R records/s of 1 KiB for S seconds with the out mirror
//            running; the lag (records on the bus not yet in Kafka) sampled every second must
//            not grow
// Rates count from the first record the mirror delivers (its start-up, a group join and topic
// creation, is reported apart). Each run makes new topics and a new mock cluster; medians of
// the runs are reported. The machine has two cores shared by kbusd, the mirror, the mock
// cluster and the producer, so nothing is pinned.
//   kbus_bench_mirror [--records N] [--runs R] [--keepup-seconds S] [--keepup-rate R]
//                     [--json FILE]
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "kafka_test_support.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::int64_t records = 200'000;
    int runs = 3;
    int keepup_seconds = 10;
    std::int64_t keepup_rate = 100'000;
    std::string json;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--records" && has_value)
            o.records = std::stoll(argv[++i]);
        else if (a == "--runs" && has_value)
            o.runs = std::stoi(argv[++i]);
        else if (a == "--keepup-seconds" && has_value)
            o.keepup_seconds = std::stoi(argv[++i]);
        else if (a == "--keepup-rate" && has_value)
            o.keepup_rate = std::stoll(argv[++i]);
        else if (a == "--json" && has_value)
            o.json = argv[++i];
        else {
            const bool asked = a == "--help" || a == "-h";
            std::fprintf(asked ? stdout : stderr,
                         "usage: kbus_bench_mirror [--records N] [--runs R] [--keepup-seconds S] "
                         "[--keepup-rate R] [--json FILE]\n");
            std::exit(asked ? 0 : 2);
        }
    }
    return o;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Thrown, so that the mirror processes and mock clusters of the run are stopped on the way out.
[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what);
}

// The mock cluster, with a probe client that asks it for high watermarks.
struct Cluster {
    kbus::test::MockKafka mock;
    kbus::test::KafkaHandle probe =
        kbus::test::kafka_client(RD_KAFKA_CONSUMER, mock.bootstrap, {{"group.id", "bench-probe"}});
    // Records in a topic (the sum of its partitions' high watermarks); 0 while it is missing.
    std::int64_t count(const std::string& topic, int partitions) const {
        std::int64_t n = 0;
        for (int p = 0; p < partitions; ++p) {
            std::int64_t low = 0, high = 0;
            if (rd_kafka_query_watermark_offsets(probe.get(), topic.c_str(), p, &low, &high,
                                                 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return n;
            n += high;
        }
        return n;
    }
};

std::int64_t local_count(kbus::Client& c, const std::string& topic) {
    try {
        std::int64_t n = 0;
        for (const auto& p : c.describe_topic(topic).partitions)
            n += p.high_watermark;
        return n;
    } catch (const kbus::Error&) {
        return 0;  // not created yet
    }
}

// `kbus mirror` (group `name`) between the bench's bus and the cluster, stopped cleanly.
struct Mirror : kbus::test::MirrorProcess {
    Mirror(const DaemonFixture& d, const std::string& name, const std::string& rules,
           const Cluster& k)
        : MirrorProcess(d,
                        "bootstrap.servers=" + k.mock.bootstrap + "\n" + rules + "group.id=" + name,
                        name) {}
    ~Mirror() { (void)stop(); }
};

std::string records_file(const DaemonFixture& d, std::int64_t n, std::size_t value_bytes) {
    const std::string path = d.dir + "/records-" + std::to_string(value_bytes) + ".txt";
    std::ofstream out(path);
    const std::string value(value_bytes, 'v');
    for (std::int64_t i = 0; i < n; ++i)
        out << 'k' << i << '\t' << value << '\n';
    return path;
}

// `kbus produce` reading a file of N records: the CLI's own rate, process start included.
double kbus_produce(const DaemonFixture& d, const std::string& topic, const std::string& file,
                    std::int64_t n) {
    const auto t0 = Clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in = ::open(file.c_str(), O_RDONLY);
        ::dup2(in, 0);
        const int log =
            ::open((d.dir + "/produce.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(log, 2);
        const std::string run = d.dir + "/run";
        ::execl(KBUS_CLI_PATH, KBUS_CLI_PATH, "--bus", d.bus.c_str(), "--run-dir", run.c_str(),
                "produce", topic.c_str(), "-K", "\t", nullptr);
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("kbus produce failed");
    return double(n) / seconds_since(t0);
}

struct Transfer {
    double startup_s = 0;      // mirror start to its first record delivered
    double records_per_s = 0;  // first record to the last
};

// Waits until count() reaches n, timing the start-up and the transfer.
template <typename Count>
Transfer time_transfer(std::int64_t n, Count count) {
    const auto start = Clock::now();
    Clock::time_point first{};
    std::int64_t at_first = 0;
    for (;;) {
        const std::int64_t now = count();
        if (now > 0 && first == Clock::time_point{}) {
            first = Clock::now();
            at_first = now;
        }
        if (now >= n) break;
        if (seconds_since(start) > 120)
            fail("the mirror did not finish within 2 minutes (" + std::to_string(now) + " of " +
                 std::to_string(n) + ")");
        std::this_thread::sleep_for(5ms);
    }
    Transfer t;
    t.startup_s = std::chrono::duration<double>(first - start).count();
    t.records_per_s = double(n - at_first) / std::max(seconds_since(first), 1e-6);
    return t;
}

Transfer mirror_out(const DaemonFixture& d, const std::string& topic, std::int64_t n) {
    Cluster k;
    k.mock.create_topic(topic, 2);
    Mirror m(d, "out-" + topic, "out.topics=" + topic + "\n", k);
    return time_transfer(n, [&] { return k.count(topic, 2); });
}

// The mock keeps at most 5 MiB per partition (it drops the oldest batches beyond): the in
// direction spreads its records over 16 partitions and takes no more than 4 MiB a partition.
constexpr int in_partitions = 16;
std::int64_t in_records(std::int64_t wanted, std::size_t value_bytes) {
    const std::int64_t per_partition = (4 << 20) / std::int64_t(value_bytes + 40);
    return std::min(wanted, per_partition * in_partitions);
}

Transfer mirror_in(const DaemonFixture& d, kbus::Client& c, const std::string& topic,
                   std::int64_t n, std::size_t value_bytes) {
    Cluster k;
    k.mock.create_topic(topic, in_partitions);
    {
        kbus::test::KafkaHandle p =
            kbus::test::kafka_client(RD_KAFKA_PRODUCER, k.mock.bootstrap,
                                     {{"linger.ms", "5"},
                                      {"queue.buffering.max.messages", "1000000"},
                                      {"batch.size", "1000000"}});
        const std::string value(value_bytes, 'v');
        for (std::int64_t i = 0; i < n; ++i) {
            const std::string key = "k" + std::to_string(i);
            while (
                rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_PARTITION(std::int32_t(i % in_partitions)),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p.get(), 10);
        }
        if (rd_kafka_flush(p.get(), 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            fail("filling the mock cluster did not finish");
    }
    Mirror m(d, "in-" + topic, "in.topics=" + topic + "\nin.topic.prefix=from.\n", k);
    return time_transfer(n, [&] { return local_count(c, "from." + topic); });
}

struct KeepUp {
    std::vector<std::int64_t> lag;  // each second of the paced stream
    double produced_per_s = 0, mirrored_per_s = 0;
    double drain_s = 0;  // from the producer's stop to Kafka holding everything
};

// A paced local producer (records sent in 1 ms steps) with the out mirror running.
KeepUp keep_up(const DaemonFixture& d, kbus::Client& c, const std::string& topic, std::int64_t rate,
               int seconds) {
    Cluster k;
    c.create_topic(topic, 2);
    k.mock.create_topic(topic, 2);
    Mirror m(d, "keepup-" + topic, "out.topics=" + topic + "\n", k);
    // The mirror joins its group and creates the Kafka topic before the stream starts.
    {
        kbus::Producer p(c);
        (void)p.send(topic, "warm-up", "x");
        const auto t0 = Clock::now();
        while (k.count(topic, 2) < 1) {
            if (seconds_since(t0) > 60) fail("the mirror did not start within a minute");
            std::this_thread::sleep_for(10ms);
        }
    }
    std::atomic<std::int64_t> sent{1};
    std::atomic<bool> done{false};
    double stream_s = 0;  // the producer's own time, written before done
    std::thread producer([&] {
        kbus::Producer p(c);
        const std::string value(1024, 'v');
        const auto start = Clock::now();
        std::int64_t i = 0;
        const std::int64_t total = rate * seconds;
        while (i < total) {
            const std::int64_t due =
                std::min(total, std::int64_t(seconds_since(start) * double(rate)));
            for (; i < due; ++i) {
                const std::string key = "k" + std::to_string(i);
                (void)p.send(topic, key, value);
            }
            sent.store(1 + i, std::memory_order_relaxed);
            std::this_thread::sleep_for(1ms);
        }
        stream_s = seconds_since(start);
        done.store(true);
    });
    KeepUp r;
    const auto start = Clock::now();
    auto next_sample = start + 1s;
    std::int64_t in_kafka = 0;
    for (;;) {
        std::this_thread::sleep_for(5ms);
        if (!done.load()) {
            if (Clock::now() < next_sample) continue;
            const std::int64_t mirrored = k.count(topic, 2);  // first: the probe takes a while
            r.lag.push_back(sent.load() - mirrored);
            next_sample += 1s;
            continue;
        }
        if ((in_kafka = k.count(topic, 2)) >= sent.load()) break;
        if (seconds_since(start) > stream_s + 120) fail("the mirror did not drain in 2 minutes");
    }
    producer.join();
    const double total_s = seconds_since(start);
    r.produced_per_s = double(sent.load()) / stream_s;
    r.mirrored_per_s = double(in_kafka) / total_s;
    r.drain_s = std::max(0.0, total_s - stream_s);
    return r;
}

}  // namespace

int run(const Options& o);

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kbus_bench_mirror: %s\n", e.what());
        return 1;
    }
}

int run(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    DaemonFixture d("mirror-bench");
    kbus::Client client(d.options());
    struct Row {
        std::vector<double> produce, out, in, out_startup, in_startup;
    };
    std::map<std::size_t, Row> rows;
    for (int r = 0; r < o.runs; ++r) {
        for (const std::size_t bytes : {std::size_t(100), std::size_t(1024)}) {
            const std::string file = records_file(d, o.records, bytes);
            const std::string topic = "b" + std::to_string(bytes) + "-" + std::to_string(r);
            client.create_topic(topic, 2);
            Row& row = rows[bytes];
            row.produce.push_back(kbus_produce(d, topic, file, o.records));
            const Transfer out = mirror_out(d, topic, o.records);
            const Transfer in = mirror_in(d, client, topic, in_records(o.records, bytes), bytes);
            row.out.push_back(out.records_per_s);
            row.in.push_back(in.records_per_s);
            row.out_startup.push_back(out.startup_s);
            row.in_startup.push_back(in.startup_s);
            std::printf(
                "run %d %4zu B  kbus produce %8.0f/s  out %8.0f/s (start-up %.2f s)  in "
                "%8.0f/s (start-up %.2f s)\n",
                r, bytes, row.produce.back(), out.records_per_s, out.startup_s, in.records_per_s,
                in.startup_s);
            std::fflush(stdout);
            client.delete_topic(topic);
            client.delete_topic("from." + topic);
        }
    }
    std::printf(
        "\nout: %lld records per run over 2 partitions; in: %lld (100 B) and %lld (1 KiB) "
        "over %d partitions (the mock keeps 5 MiB a partition); medians of %d runs\n",
        (long long)o.records, (long long)in_records(o.records, 100),
        (long long)in_records(o.records, 1024), in_partitions, o.runs);
    std::printf("%-8s %14s %14s %8s %14s %8s\n", "record", "kbus produce/s", "out/s", "ratio",
                "in/s", "ratio");
    for (auto& [bytes, row] : rows) {
        const double p = median(row.produce), out = median(row.out), in = median(row.in);
        std::printf("%6zu B %14.0f %14.0f %7.2fx %14.0f %7.2fx\n", bytes, p, out, out / p, in,
                    in / p);
    }

    const KeepUp k = keep_up(d, client, "keepup", o.keepup_rate, o.keepup_seconds);
    std::printf(
        "\nkeep-up: 1 KiB records paced at %lld/s for %d s: produced %.0f/s, mirrored "
        "%.0f/s, drained %.2f s after the producer stopped\nlag each second:",
        (long long)o.keepup_rate, o.keepup_seconds, k.produced_per_s, k.mirrored_per_s, k.drain_s);
    for (const std::int64_t l : k.lag)
        std::printf(" %lld", (long long)l);
    // Not growing: the second half's largest lag is no more than the first half's (plus a
    // second's worth of slack, 1% of the rate), and the backlog drains within a second.
    const std::size_t half = k.lag.size() / 2;
    const std::int64_t first_max = *std::max_element(k.lag.begin(), k.lag.begin() + half);
    const std::int64_t second_max = *std::max_element(k.lag.begin() + half, k.lag.end());
    const bool kept_up = second_max <= first_max + o.keepup_rate / 100 && k.drain_s < 1.0;
    std::printf("\ntarget: keeps up with %lld records/s of 1 KiB without growing lag: %s\n",
                (long long)o.keepup_rate, kept_up ? "met" : "MISSED");

    if (!o.json.empty()) {
        std::ofstream out(o.json);
        out << "{\"records\":" << o.records << ",\"runs\":" << o.runs << ",\"transfers\":[";
        bool first = true;
        for (auto& [bytes, row] : rows) {
            out << (first ? "" : ",") << "{\"payload_bytes\":" << bytes
                << ",\"kbus_produce_per_s\":" << median(row.produce)
                << ",\"out_per_s\":" << median(row.out) << ",\"in_per_s\":" << median(row.in)
                << ",\"out_startup_s\":" << median(row.out_startup)
                << ",\"in_startup_s\":" << median(row.in_startup) << "}";
            first = false;
        }
        out << "],\"keep_up\":{\"rate\":" << o.keepup_rate << ",\"seconds\":" << o.keepup_seconds
            << ",\"produced_per_s\":" << k.produced_per_s
            << ",\"mirrored_per_s\":" << k.mirrored_per_s << ",\"drain_s\":" << k.drain_s
            << ",\"kept_up\":" << (kept_up ? "true" : "false") << ",\"lag\":[";
        for (std::size_t i = 0; i < k.lag.size(); ++i)
            out << (i ? "," : "") << k.lag[i];
        out << "]}}\n";
    }
    return 0;
}
