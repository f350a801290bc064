// kbus_bench_control: the control socket's round trip while the spill writes at full speed,
// against the same round trip on an idle bus (issue 21: disk I/O must not run under the lock
// every control request takes). A client asks for a topic's description and a group heartbeat in
// turn, one request at a time, and records every round trip; meanwhile, in the busy phase, a
// producer process streams 1 KiB records as fast as the spill takes them to disk.
//
//   kbus_bench_control [--runs N] [--samples N] [--kbusd PATH]
//
// kbusd is pinned to core 1, the producer and the measuring client to core 0. Reported: each
// phase's p50/p99/p99.9/max over every run's samples, the producer's rate, and the ratio of the
// busy p99 to the idle one (the target: at most 2).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/group_requests.hpp"
#include "kbus/kbus.hpp"
#include "latency_histogram.hpp"

using namespace std::chrono_literals;

namespace {

struct Options {
    int runs = 3;
    int samples = 20000;
    std::string kbusd = KBUSD_PATH;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--runs" && i + 1 < argc)
            o.runs = std::stoi(argv[++i]);
        else if (a == "--samples" && i + 1 < argc)
            o.samples = std::stoi(argv[++i]);
        else if (a == "--kbusd" && i + 1 < argc)
            o.kbusd = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: kbus_bench_control [--runs N] [--samples N] [--kbusd PATH]\n");
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    return o;
}

// Streams 1 KiB records until killed; writes how many it sent to `count_fd` when asked (SIGTERM).
volatile sig_atomic_t g_stop_producer = 0;
pid_t start_producer(const kbus::ClientOptions& options, int count_fd) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    kbus::bench::pin_this_thread(0);
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop_producer = 1; };
    ::sigaction(SIGTERM, &sa, nullptr);
    kbus::Client client(options);
    kbus::Producer producer(client);
    const std::string value(1024, 'v');
    std::uint64_t sent = 0;
    while (!g_stop_producer) {
        (void)producer.send("load", kbus::BytesView(), value);
        ++sent;
    }
    (void)!::write(count_fd, &sent, sizeof sent);
    ::_exit(0);
}

// One round trip: a topic's description, then a heartbeat of a group member (refused: the member
// is not in the group; the answer is what counts).
void measure(kbus::Client& client, int samples, kbus::bench::LatencyHistogram& h) {
    for (int i = 0; i < samples; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (i % 2 == 0) {
            // describe_topic: public since the first releases, so this bench also builds
            // against an older client to measure the kbusd of before (--kbusd).
            (void)client.describe_topic("probe");
        } else {
            try {
                kbus::group::heartbeat(client, "bench", 1, "nobody");
            } catch (const kbus::Error&) {
            }
        }
        h.record(std::uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - start)
                                   .count()));
        std::this_thread::sleep_for(50us);
    }
}

void print(const char* phase, const kbus::bench::LatencyHistogram& h) {
    std::printf("%-6s p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %9.1f us  (%llu samples)\n",
                phase, double(h.percentile(50)) / 1e3, double(h.percentile(99)) / 1e3,
                double(h.percentile(99.9)) / 1e3, double(h.max()) / 1e3,
                static_cast<unsigned long long>(h.count()));
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    kbus::bench::pin_this_thread(0);
    kbus::bench::LatencyHistogram idle, busy;
    std::vector<double> rates;
    for (int run = 0; run < o.runs; ++run) {
        DaemonFixture d("control", {}, 1, o.kbusd);
        kbus::Client client(d.options());
        client.create_topic("probe", 1);
        client.create_topic("load", 1, {{"ring.bytes", "4194304"}});
        measure(client, o.samples / 10, idle);  // warm-up, not kept
        idle.reset();
        measure(client, o.samples, idle);
        int counts[2];
        if (::pipe(counts) != 0) return 1;
        pid_t producer = start_producer(d.options(), counts[1]);
        std::this_thread::sleep_for(300ms);  // the spill at full speed
        const auto start = std::chrono::steady_clock::now();
        measure(client, o.samples, busy);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() + 0.3;
        ::kill(producer, SIGTERM);
        std::uint64_t sent = 0;
        (void)!::read(counts[0], &sent, sizeof sent);
        ::waitpid(producer, nullptr, 0);
        ::close(counts[0]);
        ::close(counts[1]);
        rates.push_back(double(sent) / seconds);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("kbusd: %s, %d runs of %d samples each phase\n", o.kbusd.c_str(), o.runs,
                o.samples);
    print("idle", idle);
    print("busy", busy);
    std::printf("producer meanwhile: %.0f k records/s of 1 KiB (%.2f GB/s, median of runs)\n",
                rates[rates.size() / 2] / 1e3, rates[rates.size() / 2] * 1024 / 1e9);
    std::printf(
        "busy p99 / idle p99: %.2fx (target: at most 2x)\n",
        double(busy.percentile(99)) / double(std::max<std::uint64_t>(1, idle.percentile(99))));
    return 0;
}
