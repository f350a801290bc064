// kbus_bench_kafka: a librdkafka program against kbusd's Kafka listener, beside kbus's own
// shared-memory path in the same run. For 100 B records:
//   produce:  librdkafka, batching on (linger.ms=5), acks=1, until every delivery report is in;
//             the shared-memory Producer::send, record by record
//   consume:  librdkafka (assigned, from the beginning) and the shared-memory Consumer, reading
//             back what was produced
//   latency:  one record every 200 us for a few seconds, producer and consumer threads pinned to
//             different cores, end-to-end (send call to delivery in the consumer), every sample
//             in a histogram: p50/p99/p99.9/max. librdkafka with linger.ms=0 here. Beside them,
//             the raw peer: the record handed through four threads, a futex wake-up each
//             (raw_wakeup_chain.hpp), as many as the Kafka path takes, with nothing else.
// Each run makes new topics; runs alternate Kafka and shared memory; medians are reported.
// --compression CODEC: librdkafka's producers compress (gzip, snappy, lz4, zstd); kbusd inflates
// each batch onto the ring.
//   kbus_bench_kafka [--records N] [--runs R] [--latency-seconds S] [--compression CODEC]
//                    [--json FILE]
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kafka_test_support.hpp"
#include "latency_histogram.hpp"
#include "raw_wakeup_chain.hpp"

using namespace std::chrono_literals;
using kbus::bench::LatencyHistogram;

namespace {

constexpr std::size_t record_bytes = 100;

std::uint64_t now_ns() {
    return std::uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count());
}

struct Options {
    std::uint64_t records = 2'000'000;
    int runs = 3;
    double latency_seconds = 3;
    std::string compression = "none";
    std::string json;
};

struct Figures {
    double produce_per_s = 0, consume_per_s = 0;
    LatencyHistogram latency;
};

using kbus::test::kafka_client;
using kbus::test::KafkaHandle;

// Producer settings for throughput: batches of up to 1 MB or 5 ms, a deep local queue.
const std::map<std::string, std::string> batching = {{"acks", "1"},
                                                     {"linger.ms", "5"},
                                                     {"batch.size", "1000000"},
                                                     {"batch.num.messages", "100000"},
                                                     {"queue.buffering.max.messages", "2000000"},
                                                     {"queue.buffering.max.kbytes", "2097151"}};
const std::map<std::string, std::string> fetching = {
    {"group.id", "kbus-bench"},
    {"enable.auto.commit", "false"},
    {"fetch.max.bytes", "52428800"},
    {"max.partition.fetch.bytes", "16777216"},
    {"fetch.wait.max.ms", "100"},
    // librdkafka 2.0 stops fetching for a second once its local queue passes these.
    {"queued.min.messages", "10000000"},
    {"queued.max.messages.kbytes", "2097151"}};

void kafka_send(rd_kafka_t* p, rd_kafka_topic_t* t, const char* payload) {
    while (rd_kafka_produce(t, 0, 0, const_cast<char*>(payload), record_bytes, nullptr, 0,
                            nullptr) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            std::fprintf(stderr, "kbus_bench_kafka: produce: %s\n",
                         rd_kafka_err2str(rd_kafka_last_error()));
            std::exit(1);
        }
        rd_kafka_poll(p, 1);
    }
}

void kafka_assign(rd_kafka_t* c, const std::string& topic) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

std::atomic<std::uint64_t> delivered{0};
void count_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) {
        std::fprintf(stderr, "kbus_bench_kafka: delivery: %s\n", rd_kafka_err2str(m->err));
        std::exit(1);
    }
    delivered.fetch_add(1, std::memory_order_relaxed);
}

double kafka_produce(const std::string& broker, const std::string& topic, std::uint64_t n,
                     const std::string& codec) {
    auto settings = batching;
    settings["compression.codec"] = codec;
    KafkaHandle p = kafka_client(RD_KAFKA_PRODUCER, broker, settings, count_delivery);
    rd_kafka_topic_t* t = rd_kafka_topic_new(p.get(), topic.c_str(), nullptr);
    static const std::string payload(record_bytes, 'k');
    delivered = 0;
    const std::uint64_t start = now_ns();
    for (std::uint64_t i = 0; i < n; ++i) {
        kafka_send(p.get(), t, payload.data());
        if ((i & 1023) == 0) rd_kafka_poll(p.get(), 0);
    }
    rd_kafka_flush(p.get(), 120'000);
    const double seconds = double(now_ns() - start) / 1e9;
    if (delivered.load() != n) {
        std::fprintf(stderr, "kbus_bench_kafka: %llu of %llu delivered\n",
                     (unsigned long long)delivered.load(), (unsigned long long)n);
        std::exit(1);
    }
    rd_kafka_topic_destroy(t);
    return double(n) / seconds;
}

double kafka_consume(const std::string& broker, const std::string& topic, std::uint64_t n) {
    KafkaHandle c = kafka_client(RD_KAFKA_CONSUMER, broker, fetching);
    kafka_assign(c.get(), topic);
    std::uint64_t got = 0, start = 0;
    while (got < n) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 1000);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (got++ == 0) start = now_ns();  // from the first record: not the connection
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            std::fprintf(stderr, "kbus_bench_kafka: consume: %s\n", rd_kafka_err2str(m->err));
            std::exit(1);
        }
        rd_kafka_message_destroy(m);
    }
    const double seconds = double(now_ns() - start) / 1e9;
    rd_kafka_consumer_close(c.get());
    return double(n - 1) / seconds;
}

double shm_produce(kbus::Client& client, const std::string& topic, std::uint64_t n) {
    kbus::Producer p(client);
    static const std::string payload(record_bytes, 's');
    kbus::SendOptions to;
    to.partition = 0;
    const std::uint64_t start = now_ns();
    for (std::uint64_t i = 0; i < n; ++i)
        (void)p.send(topic, kbus::BytesView(), payload, to);
    return double(n) / (double(now_ns() - start) / 1e9);
}

double shm_consume(kbus::Client& client, const std::string& topic, std::uint64_t n) {
    kbus::Consumer c(client, {.wait = kbus::WaitMode::blocking, .max_poll_records = 4096});
    c.assign(topic, 0, kbus::OffsetSpec::beginning());
    std::uint64_t got = 0, start = 0;
    while (got < n) {
        const auto& batch = c.poll(100ms);
        if (!batch.empty() && got == 0) start = now_ns();
        got += batch.size();
    }
    return double(n - 1) / (double(now_ns() - start) / 1e9);
}

// One record every `gap`, its send time in its first 8 bytes and whether it counts in byte 8;
// the consumer thread records arrival - send for each that counts. Warm-up: records that do not
// count flow until the consumer has received one (a Kafka consumer's first fetch can come a
// few hundred ms after it is assigned: records sent before it would measure its start-up), then
// a tenth of the run more.
template <class Send, class Receive>
LatencyHistogram paced_latency(double seconds, Send send, Receive receive) {
    const std::uint64_t gap_ns = 200'000;
    const auto count = std::uint64_t(seconds * 1e9 / double(gap_ns));
    const std::uint64_t warmup = count / 10;
    LatencyHistogram h;
    std::atomic<bool> ready{false}, flowing{false};
    const std::uint64_t give_up = now_ns() + std::uint64_t((seconds + 30) * 1e9);
    std::thread consumer([&] {
        kbus::bench::pin_this_thread(1);
        ready = true;
        // Every record that counts, but never past a deadline (a lost one must not hang the run).
        for (std::uint64_t got = 0; got < count && now_ns() < give_up;) {
            receive([&](const char* payload) {
                flowing.store(true, std::memory_order_relaxed);
                if (payload[8] == 0) return;
                std::uint64_t sent = 0;
                std::memcpy(&sent, payload, 8);
                h.record(now_ns() - sent);
                ++got;
            });
        }
    });
    kbus::bench::pin_this_thread(0);
    while (!ready)
        std::this_thread::yield();
    char payload[record_bytes] = {};
    // Paced by sleeping, not spinning: on two cores a spinning sender would starve the clients'
    // own threads and the daemon's, and measure the scheduler instead.
    auto next = std::chrono::steady_clock::now();
    const auto send_one = [&](bool counts) {
        std::this_thread::sleep_until(next);
        const std::uint64_t t = now_ns();
        std::memcpy(payload, &t, 8);
        payload[8] = counts ? 1 : 0;
        send(payload);
        next += std::chrono::nanoseconds(gap_ns);
    };
    while (!flowing.load(std::memory_order_relaxed) && now_ns() < give_up)
        send_one(false);
    for (std::uint64_t i = 0; i < warmup; ++i)
        send_one(false);
    for (std::uint64_t i = 0; i < count; ++i)
        send_one(true);
    consumer.join();
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int cpu = 0; cpu < 64; ++cpu)
        CPU_SET(cpu, &all);
    (void)::sched_setaffinity(0, sizeof all, &all);
    return h;
}

LatencyHistogram kafka_latency(const std::string& broker, const std::string& topic,
                               double seconds) {
    std::map<std::string, std::string> eager = batching;
    eager["linger.ms"] = "0";
    KafkaHandle p = kafka_client(RD_KAFKA_PRODUCER, broker, eager);
    rd_kafka_topic_t* t = rd_kafka_topic_new(p.get(), topic.c_str(), nullptr);
    std::map<std::string, std::string> prompt = fetching;
    prompt["fetch.wait.max.ms"] = "100";
    prompt["fetch.error.backoff.ms"] = "1";
    KafkaHandle c = kafka_client(RD_KAFKA_CONSUMER, broker, prompt);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    // A fresh topic: from its beginning, so no record is missed while the consumer starts.
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    LatencyHistogram h = paced_latency(
        seconds,
        [&](const char* payload) {
            while (rd_kafka_produce(t, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload),
                                    record_bytes, nullptr, 0, nullptr) != 0)
                rd_kafka_poll(p.get(), 1);
            rd_kafka_poll(p.get(), 0);
        },
        [&](auto on_record) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 100);
            if (!m) return;
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len == record_bytes)
                on_record(static_cast<const char*>(m->payload));
            rd_kafka_message_destroy(m);
        });
    rd_kafka_flush(p.get(), 10'000);
    rd_kafka_topic_destroy(t);
    rd_kafka_consumer_close(c.get());
    return h;
}

LatencyHistogram shm_latency(kbus::Client& client, const std::string& topic, double seconds) {
    kbus::Producer p(client);
    kbus::Consumer c(client, {.wait = kbus::WaitMode::blocking});
    c.assign(topic, 0, kbus::OffsetSpec::beginning());
    kbus::SendOptions to;
    to.partition = 0;
    return paced_latency(
        seconds,
        [&](const char* payload) {
            (void)p.send(topic, kbus::BytesView(), kbus::BytesView(payload, record_bytes), to);
        },
        [&](auto on_record) {
            for (const auto& m : c.poll(100ms))
                on_record(reinterpret_cast<const char*>(m.value().data()));
        });
}

// Four wake-ups and nothing else: what the machine's scheduler alone does to the tail. No spin
// before sleeping (librdkafka's threads wait on condition variables, kbusd's on epoll): four
// threads spinning 50 us a record would take a core from the others at this pace.
LatencyHistogram raw_latency(double seconds) {
    kbus::bench::RawWakeupChain chain(4, std::chrono::nanoseconds(0));
    return paced_latency(
        seconds, [&](const char* payload) { chain.put(payload); },
        [&](auto on_record) {
            char record[kbus::bench::RawMailbox::record_bytes];
            if (chain.take(record, 100ms)) on_record(record);
        });
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "kbus_bench_kafka: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return std::string(argv[++i]);
        };
        if (a == "--records")
            o.records = std::stoull(value());
        else if (a == "--runs")
            o.runs = std::stoi(value());
        else if (a == "--latency-seconds")
            o.latency_seconds = std::stod(value());
        else if (a == "--compression")
            o.compression = value();
        else if (a == "--json")
            o.json = value();
        else {
            std::fprintf(stderr,
                         "usage: kbus_bench_kafka [--records N] [--runs R] "
                         "[--latency-seconds S] [--compression CODEC] [--json FILE]\n");
            std::exit(a == "--help" ? 0 : 2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    DaemonFixture d("kafka-bench", {"--override", "listeners=PLAINTEXT://127.0.0.1:0"});
    const std::string broker = d.kafka_broker();
    if (broker.empty()) {
        std::fprintf(stderr, "kbus_bench_kafka: kbusd did not start its Kafka listener\n");
        return 1;
    }
    kbus::Client client(d.options());
    std::map<std::string, std::vector<Figures>> runs;
    // With a codec, the same producer against librdkafka's own mock broker (in this process, it
    // stores batches as they come): what the client's compression alone allows, run beside ours.
    std::vector<double> mock_produce;
    for (int r = 0; r < o.runs; ++r) {
        if (o.compression != "none") {
            const kbus::test::MockKafka mock;
            mock.create_topic("mock-" + std::to_string(r), 1);
            mock_produce.push_back(kafka_produce(mock.bootstrap, "mock-" + std::to_string(r),
                                                 o.records, o.compression));
            std::printf("run %d mock  produce %6.2f M/s (librdkafka's mock broker)\n", r,
                        mock_produce.back() / 1e6);
        }
        for (const std::string system : {"kafka", "shm"}) {
            const std::string topic = system + "-" + std::to_string(r);
            client.create_topic(topic, 1, {{"ring.bytes", std::to_string(64 << 20)}});
            client.create_topic(topic + "-latency", 1);
            Figures f;
            if (system == "kafka") {
                f.produce_per_s = kafka_produce(broker, topic, o.records, o.compression);
                f.consume_per_s = kafka_consume(broker, topic, o.records);
                f.latency = kafka_latency(broker, topic + "-latency", o.latency_seconds);
            } else {
                f.produce_per_s = shm_produce(client, topic, o.records);
                f.consume_per_s = shm_consume(client, topic, o.records);
                f.latency = shm_latency(client, topic + "-latency", o.latency_seconds);
            }
            std::printf("run %d %-5s produce %6.2f M/s  consume %6.2f M/s  latency p50 %8.1f us\n",
                        r, system.c_str(), f.produce_per_s / 1e6, f.consume_per_s / 1e6,
                        double(f.latency.percentile(50)) / 1e3);
            std::fflush(stdout);
            runs[system].push_back(f);
            client.delete_topic(topic);
            client.delete_topic(topic + "-latency");
        }
        Figures raw;  // latency only: no topic, no daemon
        raw.latency = raw_latency(o.latency_seconds);
        std::printf("run %d raw   four futex wake-ups          latency p50 %8.1f us\n", r,
                    double(raw.latency.percentile(50)) / 1e3);
        runs["raw"].push_back(raw);
    }
    std::printf("\n100 B records, %llu per run, medians of %d runs, Kafka produce compression %s\n",
                (unsigned long long)o.records, o.runs, o.compression.c_str());
    std::printf("%-22s %12s %12s %10s %10s %10s %10s\n", "path", "produce/s", "consume/s", "p50 us",
                "p99 us", "p99.9 us", "max us");
    std::map<std::string, std::map<std::string, double>> summary;
    for (const auto& [system, figures] : runs) {
        std::vector<double> produce, consume, p50, p99, p999, max;
        for (const Figures& f : figures) {
            produce.push_back(f.produce_per_s);
            consume.push_back(f.consume_per_s);
            p50.push_back(double(f.latency.percentile(50)) / 1e3);
            p99.push_back(double(f.latency.percentile(99)) / 1e3);
            p999.push_back(double(f.latency.percentile(99.9)) / 1e3);
            max.push_back(double(f.latency.max()) / 1e3);
        }
        auto& s = summary[system];
        s = {{"produce", median(produce)}, {"consume", median(consume)}, {"p50", median(p50)},
             {"p99", median(p99)},         {"p999", median(p999)},       {"max", median(max)}};
        const bool raw = system == "raw";  // latency only
        std::printf("%-22s %12s %12s %10.1f %10.1f %10.1f %10.1f\n",
                    system == "kafka" ? "Kafka protocol (rdkafka)"
                    : system == "shm" ? "shared memory (kbus)"
                                      : "raw: 4 futex wake-ups",
                    raw ? "-" : std::to_string(std::llround(s["produce"])).c_str(),
                    raw ? "-" : std::to_string(std::llround(s["consume"])).c_str(), s["p50"],
                    s["p99"], s["p999"], s["max"]);
    }
    if (!mock_produce.empty())
        std::printf("%-22s %12.0f   (librdkafka %s to its mock broker: the client's own bound)\n",
                    "librdkafka alone", median(mock_produce), o.compression.c_str());
    auto& k = summary["kafka"];
    auto& s = summary["shm"];
    std::printf("\nKafka / shared memory: produce %.2fx, consume %.2fx, p50 latency %.0fx\n",
                k["produce"] / s["produce"], k["consume"] / s["consume"], k["p50"] / s["p50"]);
    std::printf(
        "target: at least 1 000 000 records/s each way over Kafka: produce %s, consume %s\n",
        k["produce"] >= 1e6 ? "met" : "MISSED", k["consume"] >= 1e6 ? "met" : "MISSED");
    auto& raw = summary["raw"];
    std::printf("Kafka's tail against four raw wake-ups: p99 %.2fx, p99.9 %.2fx\n",
                k["p99"] / raw["p99"], k["p999"] / raw["p999"]);
    std::printf("target: p99 at most 1 ms: %s; p99.9 at most 2 ms: %s\n",
                k["p99"] <= 1000 ? "met" : "MISSED", k["p999"] <= 2000 ? "met" : "MISSED");
    if (!o.json.empty()) {
        std::ofstream out(o.json);
        out << "[";
        bool first = true;
        for (auto& [system, fig] : summary) {
            out << (first ? "" : ",") << "{\"system\":\"" << system << "\",\"payload_bytes\":100"
                << ",\"produce_per_s\":" << fig["produce"]
                << ",\"consume_per_s\":" << fig["consume"] << ",\"e2e_p50_us\":" << fig["p50"]
                << ",\"e2e_p99_us\":" << fig["p99"] << ",\"e2e_p999_us\":" << fig["p999"]
                << ",\"e2e_max_us\":" << fig["max"] << "}";
            first = false;
        }
        out << "]\n";
    }
    return 0;
}
