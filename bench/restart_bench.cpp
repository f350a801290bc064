// kbus_bench_restart: how long producers pause while kbusd restarts, graceful (SIGTERM, what
// `systemctl restart` sends) against a crash (SIGKILL), in the same run (issue 17: a graceful
// restart under load pauses producers no longer than a SIGKILL restart does).
//
//   kbus_bench_restart [--restarts N] [--kbusd PATH]
//
// A producer process sends 64 B records as fast as the bus takes them (so its ring fills up to
// the spill within milliseconds of the daemon going away) and notes every gap of more than
// 1 ms between two acknowledged sends. The bench restarts kbusd N times each way, interleaved,
// and charges each restart with the longest gap that overlaps it: from the signal to the first
// acknowledged send after the new daemon answered. Reported per kind: median and max pause, the
// ratio of the medians, and what the producer got acknowledged in all. kbusd runs on core 1,
// the producer on core 0.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "daemon_fixture.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/kbus.hpp"

using namespace std::chrono_literals;

namespace {

struct Options {
    int restarts = 8;
    std::string kbusd = KBUSD_PATH;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--restarts" && i + 1 < argc)
            o.restarts = std::max(1, std::stoi(argv[++i]));
        else if (a == "--kbusd" && i + 1 < argc)
            o.kbusd = argv[++i];
        else {
            std::fprintf(stderr, "usage: kbus_bench_restart [--restarts N] [--kbusd PATH]\n");
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    return o;
}

// What the producer shares with the bench: the gaps it saw, and its counts. Shared anonymous
// memory, written by the producer only; read by the bench after the producer stopped, except
// `acked`, which the bench polls to see the producer going again.
struct Gap {
    std::uint64_t from_ns, to_ns;
};
struct ProducerReport {
    static constexpr std::size_t max_gaps = 4096;
    std::atomic<std::uint64_t> acked{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> stop{0};
    std::uint64_t gap_count = 0;
    Gap gaps[max_gaps];
};

std::uint64_t now_ns() {
    return kbus::detail::monotonic_ns();
}

[[noreturn]] void run_producer(const kbus::ClientOptions& options, ProducerReport& report) {
    kbus::bench::pin_this_thread(0);
    kbus::Client client(options);
    kbus::Producer producer(client);
    const std::string value(64, 'v');
    std::uint64_t last = now_ns();
    // Relaxed: a flag and counters read by the bench for progress; no data rides on them.
    while (report.stop.load(std::memory_order_relaxed) == 0) {
        try {
            (void)producer.send("load", kbus::BytesView(), value);
        } catch (const kbus::Error&) {
            report.errors.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        const std::uint64_t t = now_ns();
        if (t - last > 1'000'000 && report.gap_count < ProducerReport::max_gaps)
            report.gaps[report.gap_count++] = {last, t};
        last = t;
        report.acked.fetch_add(1, std::memory_order_relaxed);
    }
    ::_exit(0);
}

// The longest gap overlapping [from, to]: the producer's pause for that restart.
std::uint64_t pause_within(const ProducerReport& r, std::uint64_t from, std::uint64_t to) {
    std::uint64_t longest = 0;
    for (std::uint64_t i = 0; i < r.gap_count; ++i)
        if (r.gaps[i].to_ns >= from && r.gaps[i].from_ns <= to)
            longest = std::max(longest, r.gaps[i].to_ns - r.gaps[i].from_ns);
    return longest;
}

// Restarts the daemon with `signal`; returns when the producer has been acknowledged again.
void restart_once(DaemonFixture& d, int signal, const ProducerReport& report) {
    if (signal == SIGKILL)
        d.kill_hard();
    else
        (void)d.stop();
    d.restart();
    // Relaxed: progress polling only.
    const std::uint64_t before = report.acked.load(std::memory_order_relaxed);
    for (int i = 0; i < 10000 && report.acked.load(std::memory_order_relaxed) == before; ++i)
        std::this_thread::sleep_for(1ms);
}

double median_ms(std::vector<std::uint64_t> v) {
    std::sort(v.begin(), v.end());
    return double(v[v.size() / 2]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    auto* report =
        static_cast<ProducerReport*>(::mmap(nullptr, sizeof(ProducerReport), PROT_READ | PROT_WRITE,
                                            MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (report == MAP_FAILED) return 1;
    new (report) ProducerReport();
    DaemonFixture d("restart", {}, 1, o.kbusd);
    {
        kbus::Client c(d.options());
        c.create_topic("load", 1);
    }
    const pid_t producer = ::fork();
    if (producer == 0) run_producer(d.options(), *report);
    std::this_thread::sleep_for(500ms);  // the spill at full speed

    struct Window {
        int signal;
        std::uint64_t from, to;
    };
    std::vector<Window> windows;
    for (int i = 0; i < 2 * o.restarts; ++i) {
        const int signal = i % 2 == 0 ? SIGTERM : SIGKILL;
        const std::uint64_t from = now_ns();
        restart_once(d, signal, *report);
        windows.push_back({signal, from, now_ns()});
        std::this_thread::sleep_for(300ms);  // back at full speed before the next one
    }
    report->stop.store(1, std::memory_order_relaxed);
    ::waitpid(producer, nullptr, 0);

    std::vector<std::uint64_t> graceful, crash;
    for (const Window& w : windows)
        (w.signal == SIGTERM ? graceful : crash).push_back(pause_within(*report, w.from, w.to));
    std::printf("kbusd: %s, %d restarts each way, interleaved; 64 B records, spill on\n",
                o.kbusd.c_str(), o.restarts);
    std::printf("SIGTERM restart: producer pause median %7.1f ms  max %7.1f ms\n",
                median_ms(graceful),
                double(*std::max_element(graceful.begin(), graceful.end())) / 1e6);
    std::printf("SIGKILL restart: producer pause median %7.1f ms  max %7.1f ms\n", median_ms(crash),
                double(*std::max_element(crash.begin(), crash.end())) / 1e6);
    std::printf("graceful / crash (medians): %.2fx (target: at most 1x)\n",
                median_ms(graceful) / std::max(1e-6, median_ms(crash)));
    std::printf("producer: %llu records acknowledged, %llu send errors\n",
                static_cast<unsigned long long>(report->acked.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(report->errors.load(std::memory_order_relaxed)));
    return 0;
}
