// kbus_compare: kbus beside the IPC systems its users would otherwise pick, measured in one run
// on the same two pinned cores and the same payloads. Round-trip latency from a histogram of
// every sample after a warm-up, and one-way stream throughput.
//   kbus_compare [--quick] [--json FILE] [--plot DIR] [--payloads 8,64,...] [--kbusd PATH]
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

#include "boost_mq_peer.hpp"
#include "daemon_fixture.hpp"
#include "iceoryx_peer.hpp"
#include "kbus_peer.hpp"
#include "raw_peer.hpp"
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
    std::vector<std::string> systems;  // empty: all
};

RunCounts latency_counts(std::size_t payload, bool quick) {
    const std::uint64_t n = payload <= 4096 ? 100000 : payload <= 65536 ? 20000 : 2000;
    const std::uint64_t measured = quick ? n / (payload <= 4096 ? 5 : 10) : n;
    return {std::max<std::uint64_t>(measured / 10, 50), measured};
}

RunCounts stream_counts(std::size_t payload, bool quick) {
    const std::uint64_t n = payload <= 4096 ? 2000000 : payload <= 65536 ? 50000 : 3000;
    const std::uint64_t measured = quick ? n / 4 : n;
    return {measured / 10, measured};
}

std::pair<int, int> choose_cpus() {
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus >= 2) return {0, 1};
    std::printf(
        "note: only %ld core online: the two processes of each run share it, unpinned; "
        "latencies include the scheduler's switches\n",
        cpus);
    return {-1, -1};
}

// The peers that can run here, in table order; each skipped one is announced with its reason.
std::vector<std::unique_ptr<Peer>> make_peers(const std::string& dir,
                                              const std::optional<DaemonFixture>& daemon,
                                              const std::string& daemon_error,
                                              const std::vector<std::string>& only) {
    std::vector<std::unique_ptr<Peer>> all;
    std::vector<std::pair<std::string, std::string>> skipped;
    all.push_back(std::make_unique<RawCacheLinePeer>());
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
    if (daemon) {
        const auto bus = daemon->options();
        all.push_back(
            std::make_unique<KbusPeer>("kbus busy-poll", bus, kbus::WaitMode::busy_poll, 0us));
        all.push_back(
            std::make_unique<KbusPeer>("kbus blocking", bus, kbus::WaitMode::blocking, 50us));
        all.push_back(std::make_unique<KbusPeer>("kbus futex", bus, kbus::WaitMode::blocking, 0us));
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

std::vector<Row> measure(std::vector<std::unique_ptr<Peer>>& peers, const Settings& s) {
    const auto cpus = choose_cpus();
    const auto deadline = s.quick ? 30s : 120s;
    std::vector<Row> rows;
    for (const std::size_t payload : s.payloads) {
        for (auto& peer : peers) {
            Row row{peer->name(), payload, {}, {}, {}};
            const bool one_line = dynamic_cast<RawCacheLinePeer*>(peer.get()) != nullptr;
            if (!one_line || payload <= 64) {
                const RunResult r = run_pair(*peer, payload, true, latency_counts(payload, s.quick),
                                             cpus, deadline);
                if (r.ok)
                    row.latency = r.round_trip_ns;
                else
                    row.errors.push_back("latency: " + r.error);
            }
            if (peer->measures_throughput()) {
                const RunResult r = run_pair(*peer, payload, false, stream_counts(payload, s.quick),
                                             cpus, deadline);
                if (r.ok)
                    row.msgs_per_s = double(r.messages) / r.seconds;
                else
                    row.errors.push_back("throughput: " + r.error);
            }
            print_row(row);
            rows.push_back(std::move(row));
        }
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
    app.add_option("--systems", s.systems, "only the systems whose name contains one of these")
        ->delimiter(',');
    CLI11_PARSE(app, argc, argv);

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
        auto peers = make_peers(dir, daemon, daemon_error, s.systems);
        print_header(s.quick);
        const std::vector<Row> rows = measure(peers, s);
        print_checks(rows);
        if (!s.json.empty() && !write_json(rows, s.json)) status = 1;
        if (!s.plot.empty() && !write_plots(rows, s.plot)) status = 1;
    }
    std::filesystem::remove_all(dir);
    return status;
}
