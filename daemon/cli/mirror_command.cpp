#include "mirror_command.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "config/properties.hpp"
#include "kafka_side.hpp"
#include "kbus/bus_location.hpp"
#include "mirror/mirror_config.hpp"
#include "mirror_directions.hpp"
#include "mirror_reports.hpp"
#include "mirror_status.hpp"

namespace kbusd {
namespace {

using namespace std::chrono_literals;
using kbus::Error;
using kbus::ErrorCode;

void on_stop_signal(int) {
    mirror::g_stop.store(true, std::memory_order_relaxed);  // a flag
}

struct MirrorArgs {
    std::vector<kbus::config::Property> properties;
    bool status_only = false;
};

MirrorArgs parse_args(const std::vector<std::string>& args) {
    MirrorArgs m;
    bool config_given = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if ((a == "--config" || a == "--override") && i + 1 >= args.size())
            throw Error(ErrorCode::invalid_argument, a + " needs a value");
        if (a == "--config") {
            const auto file = kbus::config::read_properties_file(args[++i]);
            m.properties.insert(m.properties.end(), file.begin(), file.end());
            config_given = true;
        } else if (a == "--override") {
            m.properties.push_back(kbus::config::parse_override(args[++i]));
        } else if (a == "--status") {
            m.status_only = true;
        } else {
            throw Error(ErrorCode::invalid_argument,
                        "unknown flag '" + a + "' (see kbus mirror --help)");
        }
    }
    if (!config_given) throw Error(ErrorCode::invalid_argument, "kbus mirror needs --config FILE");
    return m;
}

// The running mirror's last report; a report it stopped writing is printed too, but said to be
// stale (on stderr, and exit status 1), so that nobody takes a dead mirror's figures for live.
int print_status(const std::string& run_dir, const std::string& group) {
    for (const auto& r : kbus::cli::mirror_reports(run_dir)) {
        if (r.group != group) continue;
        std::cout << r.text << std::flush;
        if (!r.stale()) return 0;
        std::fprintf(stderr,
                     "kbus: this report is stale (written %.0f s ago; a running mirror rewrites it "
                     "every second): the mirror for group %s is not running\n",
                     r.age_s, group.c_str());
        return 1;
    }
    throw Error(ErrorCode::not_connected, "no mirror status at " +
                                              kbus::cli::mirror_status_path(run_dir, group) +
                                              " (is the mirror running?)");
}

// Runs both directions until a signal (or a fatal Kafka error), writing the status file once a
// second meanwhile.
int run_mirror(const kbus::mirror::MirrorConfig& config, const kbus::ClientOptions& bus,
               const std::string& status_file) {
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    const std::string origin =
        config.mirror_id.value_or(std::string(host) + "/" + bus.bus.value_or("default"));
    mirror::DirectionStatus out_status("out", config.out_rules), in_status("in", config.in_rules);
    std::unique_ptr<mirror::Direction> out, in;
    if (!config.out_rules.empty()) out = mirror::make_out_mirror(config, bus, origin, out_status);
    if (!config.in_rules.empty()) in = mirror::make_in_mirror(config, bus, origin, in_status);
    mirror::log_line("INFO", "mirroring between the bus and " + config.bootstrap_servers +
                                 " (group " + config.group_id + ", origin " + origin + ")");
    std::thread out_thread, in_thread;
    if (out) out_thread = std::thread([&] { out->run(); });
    if (in) in_thread = std::thread([&] { in->run(); });
    auto last = std::chrono::steady_clock::now();
    while (!mirror::g_stop.load(std::memory_order_relaxed)) {  // a flag
        std::this_thread::sleep_for(200ms);
        const auto now = std::chrono::steady_clock::now();
        if (now - last < 1s) continue;
        mirror::write_status_file(status_file, config, out_status, in_status,
                                  std::chrono::duration<double>(now - last).count());
        last = now;
    }
    if (out_thread.joinable()) out_thread.join();
    if (in_thread.joinable()) in_thread.join();
    mirror::log_line("INFO", "stopped");
    return mirror::g_failed.load(std::memory_order_relaxed) ? 1 : 0;  // after the joins
}

}  // namespace

int mirror_command(const std::vector<std::string>& args, const kbus::ClientOptions& bus_given) {
    // First: a SIGTERM that comes while the mirror starts must still stop it cleanly.
    ::signal(SIGINT, on_stop_signal);
    ::signal(SIGTERM, on_stop_signal);
    const MirrorArgs m = parse_args(args);
    const kbus::mirror::MirrorConfig config = kbus::mirror::make_mirror_config(m.properties);
    kbus::ClientOptions bus = bus_given;
    if (config.bus) bus.bus = config.bus;
    if (config.run_dir) bus.run_dir = config.run_dir;
    bus.client_name = "kbus-mirror";
    const std::string run_dir =
        kbus::resolve_bus_location({bus.bus, bus.run_dir, std::nullopt}).run_dir;
    if (m.status_only) return print_status(run_dir, config.group_id);
    return run_mirror(config, bus, kbus::cli::mirror_status_path(run_dir, config.group_id));
}

}  // namespace kbusd
