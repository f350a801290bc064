// kbusd: owns a bus. Reads its flags and config file, sets the access policy, and runs the daemon
// (daemon.hpp) until SIGTERM or SIGINT, which stop it cleanly.
#include <sys/resource.h>

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/broker_config.hpp"
#include "config/properties.hpp"
#include "daemon.hpp"
#include "kbus/bus_location.hpp"
#include "kbus/version.hpp"
#include "security/access_policy.hpp"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop.store(true, std::memory_order_relaxed);  // the loops poll it at least every 20 ms
}

void log_line(const std::string& level, const std::string& message) {
    std::fprintf(stderr, "kbusd %s %s\n", level.c_str(), message.c_str());
}

constexpr const char* usage =
    "usage: kbusd [--bus NAME] [--run-dir DIR] [--data-dir DIR] [--config FILE] "
    "[--override key=value]...\n"
    "  --bus NAME            bus to serve (default: $KBUS_BUS, else kbus.bus, else 'default')\n"
    "  --run-dir DIR         socket and lock directory (default: $KBUS_RUN_DIR, else\n"
    "                        kbus.run.dir, else per user)\n"
    "  --data-dir DIR        topics and log segments (default: $KBUS_DATA_DIR, else log.dirs,\n"
    "                        else per user)\n"
    "  --config FILE         Kafka-style properties file (log.dirs, log.retention.hours, ...)\n"
    "  --override key=value  a property on top of the file (repeatable)\n"
    "  --version             kbusd's version\n";

struct Options {
    kbus::BusLocationOverrides location;
    std::optional<std::string> config_file;
    std::vector<kbus::config::Property> overrides;
};

// Parses the flags; exits for --help, --version and usage errors.
Options parse_flags(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "kbusd: %s needs a value (see --help)\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--bus")
            o.location.bus = value();
        else if (a == "--run-dir")
            o.location.run_dir = value();
        else if (a == "--data-dir")
            o.location.data_dir = value();
        else if (a == "--config")
            o.config_file = value();
        else if (a == "--override")
            o.overrides.push_back(kbus::config::parse_override(value()));
        else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (a == "--version") {
            std::printf("kbusd %s\n", KBUS_VERSION);
            std::exit(0);
        } else {
            std::fprintf(stderr, "kbusd: unknown argument '%s' (see --help)\n", a.c_str());
            std::exit(2);
        }
    }
    return o;
}

// Whether a --override named one of `keys`: such a value is a flag, not the file's.
bool overridden(const Options& o, std::initializer_list<std::string_view> keys) {
    for (const kbus::config::Property& p : o.overrides)
        for (const std::string_view k : keys)
            if (p.key == k) return true;
    return false;
}

// A flag (--bus, --run-dir, --data-dir, or --override of their keys) beats the environment
// (KBUS_BUS, KBUS_RUN_DIR, KBUS_DATA_DIR), which beats the config file, which beats the
// default. When the environment overrides the file, the log says so.
kbus::BusLocationOverrides merged_location(const Options& o,
                                           const kbus::config::BrokerConfig& broker) {
    kbus::BusLocationOverrides l = o.location;
    if (!l.bus && overridden(o, {"kbus.bus"})) l.bus = broker.bus;
    if (!l.run_dir && overridden(o, {"kbus.run.dir"})) l.run_dir = broker.run_dir;
    if (!l.data_dir && overridden(o, {"log.dirs", "log.dir"})) l.data_dir = broker.data_dir;
    auto merge = [](std::optional<std::string>& chosen, const std::optional<std::string>& file,
                    const char* env, const char* key) {
        if (chosen || !file) return;
        if (const char* e = std::getenv(env); e != nullptr && *e != '\0') {
            if (*file != e)
                log_line("INFO", std::string("$") + env + "=" + e + " is used; the config file's " +
                                     key + "=" + *file + " is not");
            return;
        }
        chosen = file;
    };
    merge(l.bus, broker.bus, "KBUS_BUS", "kbus.bus");
    merge(l.run_dir, broker.run_dir, "KBUS_RUN_DIR", "kbus.run.dir");
    merge(l.data_dir, broker.data_dir, "KBUS_DATA_DIR", "log.dirs");
    return l;
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGXFSZ, SIG_IGN);  // a file size limit fails the write (EFBIG); the spill retries
}

}  // namespace

// Each partition holds files open: take the whole of the hard limit the operator allows.
static void raise_file_limit() {
    rlimit fds{};
    if (::getrlimit(RLIMIT_NOFILE, &fds) != 0 || fds.rlim_cur >= fds.rlim_max) return;
    fds.rlim_cur = fds.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &fds);
}

int main(int argc, char** argv) {
    raise_file_limit();
    kbus::config::BrokerConfig broker;
    kbus::BusLocation location;
    try {
        const Options o = parse_flags(argc, argv);
        std::vector<kbus::config::Property> properties;
        if (o.config_file) properties = kbus::config::read_properties_file(*o.config_file);
        properties.insert(properties.end(), o.overrides.begin(), o.overrides.end());
        broker = kbus::config::make_broker_config(properties);
        location = kbus::resolve_bus_location(merged_location(o, broker));
        kbus::security::AccessPolicy access;
        if (broker.group) access.group = kbus::security::resolve_group(*broker.group);
        kbus::security::set_access_policy(access);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kbusd: %s\n", e.what());
        return 2;
    }
    install_signal_handlers();
    try {
        return kbusd::Daemon(std::move(location), std::move(broker), log_line).run(g_stop);
    } catch (const std::exception& e) {
        log_line("ERROR", e.what());
        return 1;
    }
}
