// kbus_compare: kbus beside the IPC systems its users would otherwise pick, measured in one run
// on the same two pinned cores and the same payloads. Round-trip latency from a histogram of
// every sample after a warm-up, and one-way stream throughput.
//   kbus_compare [--quick] [--json FILE] [--plot DIR] [--payloads 8,64,...] [--kbusd PATH]
//                [--aeron-dir DIR]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aeron_peer.hpp"
#include "boost_mq_peer.hpp"
#include "daemon_fixture.hpp"
#include "iceoryx_peer.hpp"
#include "kbus_peer.hpp"
#include "machine_jitter.hpp"
#include "raw_peer.hpp"
#include "raw_spsc_peer.hpp"
#include "report.hpp"
#include "run_pair.hpp"
#include "unix_socket_peer.hpp"
#include "zeromq_peer.hpp"

using namespace kbus::compare;
using namespace std::chrono_literals;

namespace {

struct Settings {
    bool quick = false;
    std::string json;
    std::string plot;
    std::vector<std::size_t> payloads{8, 64, 1024, 65536, 1048576};
    std::string kbusd = KBUSD_PATH;
    std::string aeron_dir;             // empty: KBUS_AERON_DIR, else Aeron is skipped
    std::vector<std::string> systems;  // empty: all
    int runs = 0;                      // 0: 1 with --quick, else 3
    double samples_scale = 1.0;        // scales every sample count (tests use a small one)
};

RunCounts scaled(std::uint64_t measured, double scale) {
    const auto n = std::max<std::uint64_t>(20, std::uint64_t(double(measured) * scale));
    return {std::max<std::uint64_t>(n / 10, 10), n};
}

RunCounts latency_counts(std::size_t payload, const Settings& s) {
    const std::uint64_t n = payload <= 4096 ? 100000 : payload <= 65536 ? 20000 : 2000;
    return scaled(s.quick ? n / (payload <= 4096 ? 5 : 10) : n, s.samples_scale);
}

RunCounts stream_counts(std::size_t payload, const Settings& s) {
    const std::uint64_t n = payload <= 4096 ? 2000000 : payload <= 65536 ? 50000 : 3000;
    return scaled(s.quick ? n / 4 : n, s.samples_scale);
}

// The first two cores this process may run on (as taskset or a cgroup allow).
std::pair<int, int> choose_cpus() {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
            if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    if (cpus.size() >= 2) return {cpus[0], cpus[1]};
    std::printf(
        "note: only %zu core available: the two processes of each run share it, unpinned; "
        "latencies include the scheduler's switches and are not comparable to a pinned run\n",
        cpus.size());
    return {-1, -1};
}

// The peers that can run here, in table order; each skipped one is announced with its reason.
std::vector<std::unique_ptr<Peer>> make_peers(const std::string& dir,
                                              const std::optional<DaemonFixture>& daemon,
                                              const std::string& daemon_error, const Settings& s) {
    const std::vector<std::string>& only = s.systems;
    std::vector<std::unique_ptr<Peer>> all;
    std::vector<std::pair<std::string, std::string>> skipped;
    all.push_back(std::make_unique<RawCacheLinePeer>());
    all.push_back(std::make_unique<RawSpscPeer>());
    all.push_back(std::make_unique<UnixSocketPeer>());
#ifdef KBUS_HAVE_ZMQ
    all.push_back(std::make_unique<ZeroMqPeer>(dir));
#else
    skipped.emplace_back("zeromq ipc",
                         "kbus_compare was built without libzmq (apt install "
                         "libzmq3-dev, then rebuild)");
#endif
    all.push_back(std::make_unique<BoostMessageQueuePeer>());
#ifdef KBUS_HAVE_ICEORYX
    all.push_back(std::make_unique<IceoryxPeer>(dir));
#else
    skipped.emplace_back("iceoryx",
                         "kbus_compare was built without iceoryx (apt install "
                         "libiceoryx-posh-dev iceoryx, then rebuild)");
#endif
    // Optional: Aeron is not in Debian. Both lines share one media driver.
    const auto aeron = std::make_shared<AeronDriver>(s.aeron_dir, dir);
    all.push_back(std::make_unique<AeronPeer>(aeron, false));
    all.push_back(std::make_unique<AeronPeer>(aeron, true));
    if (daemon) {
        const auto bus = daemon->options();
        all.push_back(
            std::make_unique<KbusPeer>("kbus busy-poll", bus, kbus::WaitMode::busy_poll, 0us));
        all.push_back(
            std::make_unique<KbusPeer>("kbus blocking", bus, kbus::WaitMode::blocking, 50us));
        all.push_back(std::make_unique<KbusPeer>("kbus futex", bus, kbus::WaitMode::blocking, 0us));
        // Streams only: the sender hands records over in runs of 64 (Producer::send_batch),
        // as Kafka's producer batches; the consumer is the same busy-poll one.
        all.push_back(std::make_unique<KbusPeer>("kbus send_batch 64", bus,
                                                 kbus::WaitMode::busy_poll, 0us, 64));
        // The same, each sender owning its partition: claims without a locked instruction.
        all.push_back(std::make_unique<KbusPeer>("kbus exclusive", bus, kbus::WaitMode::busy_poll,
                                                 0us, 1, true));
        all.push_back(std::make_unique<KbusPeer>("kbus exclusive send_batch 64", bus,
                                                 kbus::WaitMode::busy_poll, 0us, 64, true));
        // Streams only, record by record: the busy-poll consumer waits for 16 KiB a poll
        // (fetch.min.bytes), so it stops taking back the line its producer is writing.
        all.push_back(std::make_unique<KbusPeer>("kbus fetch.min.bytes 16384", bus,
                                                 kbus::WaitMode::busy_poll, 0us, 1, false, 16384));
        all.push_back(std::make_unique<KbusPeer>("kbus exclusive fetch.min.bytes 16384", bus,
                                                 kbus::WaitMode::busy_poll, 0us, 1, true, 16384));
    } else {
        skipped.emplace_back("kbus", daemon_error);
    }
    std::erase_if(all, [&](const auto& p) {
        return !only.empty() && std::none_of(only.begin(), only.end(), [&](const auto& w) {
            return p->name().find(w) != std::string::npos;
        });
    });
    std::vector<std::unique_ptr<Peer>> usable;
    for (auto& p : all) {
        std::string why;
        try {
            why = p->unavailable_reason();
        } catch (const std::exception& e) {
            why = e.what();
        }
        if (why.empty())
            usable.push_back(std::move(p));
        else
            skipped.emplace_back(p->name(), why);
    }
    for (const auto& [name, why] : skipped)
        std::printf("skipped %s: %s\n", name.c_str(), why.c_str());
    return usable;
}

// Every run measures every system at every payload, in that order, so that drift on a shared
// machine hits all of them alike; the latency histograms of the runs are merged (every sample
// counts) and the throughput is the median of the runs.
std::vector<Row> measure(std::vector<std::unique_ptr<Peer>>& peers, const Settings& s) {
    const auto cpus = choose_cpus();
    const auto deadline = s.quick ? 30s : 120s;
    const int runs = s.runs > 0 ? s.runs : s.quick ? 1 : 3;
    print_machine_jitter(cpus, s.quick ? 200ms : 1000ms);
    std::vector<Row> rows;
    std::vector<std::vector<double>> rates;
    for (const std::size_t payload : s.payloads)
        for (auto& peer : peers) {
            rows.push_back(Row{peer->name(), payload, {}, {}, {}});
            rates.emplace_back();
        }
    for (int run = 0; run < runs; ++run) {
        if (runs > 1) std::printf("run %d of %d\n", run + 1, runs);
        std::size_t i = 0;
        for (const std::size_t payload : s.payloads)
            for (auto& peer : peers) {
                if (detail::interrupted != 0) return rows;
                Row& row = rows[i];
                Row this_run{row.system, payload, {}, {}, {}};
                const bool one_line = dynamic_cast<RawCacheLinePeer*>(peer.get()) != nullptr;
                if (peer->measures_latency() && (!one_line || payload <= 64)) {
                    const RunResult r =
                        run_pair(*peer, payload, true, latency_counts(payload, s), cpus, deadline);
                    if (r.ok) {
                        this_run.latency = r.round_trip_ns;
                        if (!row.latency) row.latency.emplace();
                        row.latency->merge(r.round_trip_ns);
                    } else {
                        this_run.errors.push_back("latency: " + r.error);
                    }
                }
                if (peer->measures_throughput()) {
                    const RunResult r =
                        run_pair(*peer, payload, false, stream_counts(payload, s), cpus, deadline);
                    if (r.ok) {
                        this_run.msgs_per_s = double(r.messages) / r.seconds;
                        rates[i].push_back(*this_run.msgs_per_s);
                    } else {
                        this_run.errors.push_back("throughput: " + r.error);
                    }
                }
                print_row(this_run);
                row.errors.insert(row.errors.end(), this_run.errors.begin(), this_run.errors.end());
                ++i;
            }
    }
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (!rates[i].empty()) {
            std::sort(rates[i].begin(), rates[i].end());
            rows[i].msgs_per_s = rates[i][rates[i].size() / 2];
        }
    if (runs > 1) {
        std::printf("\nall %d runs: latencies over every sample, throughput the median run\n",
                    runs);
        print_header(s.quick);
        for (const Row& r : rows)
            print_row(r, false);
    }
    return rows;
}

}  // namespace

int main(int argc, char** argv) {
    Settings s;
    CLI::App app{"kbus_compare: kbus beside other local IPC systems, measured in one run"};
    app.add_flag("--quick", s.quick, "fewer samples: the whole run in under 2 minutes");
    app.add_option("--json", s.json, "write the results as a JSON list to FILE");
    app.add_option("--plot", s.plot, "write PNG charts (gnuplot) into DIR");
    app.add_option("--payloads", s.payloads, "payload sizes in bytes")->delimiter(',');
    app.add_option("--kbusd", s.kbusd, "the kbusd to start for the kbus runs");
    app.add_option("--aeron-dir", s.aeron_dir,
                   "an Aeron build or install (aeronmd, libaeron.so) to measure beside kbus "
                   "(default: $KBUS_AERON_DIR; skipped without)");
    app.add_option("--runs", s.runs,
                   "repeat the whole comparison N times (default 1 with --quick, else 3)");
    app.add_option("--samples-scale", s.samples_scale, "scale every sample count by this factor");
    app.add_option("--systems", s.systems, "only the systems whose name contains one of these")
        ->delimiter(',');
    CLI11_PARSE(app, argc, argv);

    // Stopped by a signal, kbus_compare ends the run under way and cleans up as at its end.
    for (const int sig : {SIGINT, SIGTERM, SIGHUP})
        std::signal(sig, [](int) { detail::interrupted = 1; });
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("kbus-compare-" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(dir);
    int status = 0;
    {
        std::optional<DaemonFixture> daemon;
        std::string daemon_error;
        try {
            daemon.emplace("compare",
                           std::vector<std::string>{"--override", "kbus.spill.enable=false"}, -1,
                           s.kbusd);
        } catch (const std::exception& e) {
            daemon_error = std::string("could not start kbusd (") + s.kbusd + "): " + e.what();
        }
        auto peers = make_peers(dir, daemon, daemon_error, s);
        print_header(s.quick);
        const std::vector<Row> rows = measure(peers, s);
        if (detail::interrupted != 0) {  // half a table: no targets, no files
            std::printf("interrupted: stopping what kbus_compare started\n");
            status = 130;
        } else {
            print_checks(rows);
            if (!s.json.empty() && !write_json(rows, s.json)) status = 1;
            if (!s.plot.empty() && !write_plots(rows, s.plot)) status = 1;
        }
    }
    std::filesystem::remove_all(dir);
    return status;
}
