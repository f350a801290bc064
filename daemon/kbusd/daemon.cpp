#include "daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "bus/cleaner_worker.hpp"
#include "bus/spill_worker.hpp"
#include "cli/bus_stats_view.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/trusted_path.hpp"
#include "log/file.hpp"
#include "security/access_policy.hpp"
#include "stats_snapshot.hpp"

namespace kbusd {

using kbus::Error;
namespace control = kbus::control;

namespace {

// Like Kafka's .kafka_cleanShutdown: without it, the last run died and every batch is checked
// against its CRC before the log is trusted.
std::string clean_marker_of(const std::string& data_dir) {
    return data_dir + "/.kbus_clean_shutdown";
}

}  // namespace

Daemon::Daemon(kbus::BusLocation location, kbus::config::BrokerConfig broker,
               kbus::logging::LogSink sink)
    : loc_(std::move(location)), broker_(std::move(broker)), sink_(std::move(sink)) {}

int Daemon::run(const std::atomic<bool>& stop) {
    if (!take_bus()) return 2;
    open_shared_memory();
    const std::string clean_marker = clean_marker_of(loc_.data_dir);
    const bool clean = std::filesystem::exists(clean_marker);
    std::filesystem::remove(clean_marker);
    build_parts(!clean);
    if (!server_->listen()) return abandon(1);
    sink_("INFO", "serving bus '" + loc_.bus + "' on " + loc_.socket_path());
    if (!start_metrics() || !start_kafka_listener()) return abandon(2);
    kbus::bus::SpillWorker spill(*bus_, control_->doorbell, broker_.retention_check_interval_ms,
                                 sink_);
    if (kafka_) spill.on_flushed([this] { kafka_->wake(); });
    std::thread spill_thread([&] { spill.run(stop); });
    kbus::bus::CleanerWorker cleaner(*bus_, broker_.cleaner, sink_);
    std::thread cleaner_thread([&] { cleaner.run(stop); });
    // With the spill running (a marker may wait for room), before any request is served (a
    // marker names a slot, which no new producer may take meanwhile).
    recover_transactions();
    server_->serve(stop);
    // Ended by their producers: noted before the shared memory they are noted in may go.
    transactions_->settle_decided(std::numeric_limits<std::int64_t>::max());
    cleaner_thread.join();  // a pass under way stops between batches, its staging removed
    spill_thread.join();    // first: its on_flushed wakes the listener through a descriptor
    if (kafka_) kafka_->stop();
    metrics_.stop();
    if (!shutdown()) {
        sink_("ERROR",
              "stopped without writing every committed record to disk (it stays in "
              "shared memory for the next start)");
        return 1;
    }
    kbus::log::write_file_durably(clean_marker, "");
    sink_("INFO", "stopped");
    return 0;
}

// A directory of the bus's (created if missing, with the policy's mode), checked as ssh checks
// ~/.ssh before it is used (trusted_path.hpp).
// Checked before anything is made (nothing is created inside another user's directory) and
// again after (what was made, and any symlink on the way, is checked where it stands).
bool Daemon::prepare_directory(const std::string& dir, const char* what) {
    const kbus::security::AccessPolicy& access = kbus::security::access_policy();
    auto trusted = [&] {
        const std::string why = kbus::untrusted_path_reason(dir, ::geteuid(), access.group);
        if (!why.empty())
            sink_("ERROR", std::string("refusing the ") + what + " " + dir + ": " + why +
                               " (another user could replace what kbusd keeps there)");
        return why.empty();
    };
    if (!trusted()) return false;
    std::error_code ec;
    const bool created = std::filesystem::create_directories(dir, ec);
    if (ec) {
        sink_("ERROR", std::string("cannot create the ") + what + " " + dir + ": " + ec.message());
        return false;
    }
    if (created) access.apply_to_path(dir, true);
    if (!trusted()) return false;
    access.apply_to_path(dir, true);
    return true;
}

bool Daemon::take_bus() {
    if (!prepare_directory(loc_.run_dir, "run directory") ||
        !prepare_directory(loc_.data_dir, "data directory"))
        return false;
    lock_fd_ = ::open(loc_.lock_path().c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) {
        sink_("ERROR", "cannot open " + loc_.lock_path() + ": " + std::strerror(errno));
        return false;
    }
    // A client looking for a starting daemon takes a shared lock for a moment (Client's
    // daemon_starting): that is not another kbusd, so a refusal is retried for a while. A real
    // kbusd holds the lock for its whole life and is still there when the retries run out.
    int error = 0;
    for (int attempt = 0; attempt < 100; ++attempt) {
        error = ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
        if (error != EWOULDBLOCK && error != EINTR) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (error != 0) {
        sink_("ERROR", error == EWOULDBLOCK
                           ? "bus '" + loc_.bus + "' is already served by another kbusd (lock " +
                                 loc_.lock_path() + " is held)"
                           : "cannot lock " + loc_.lock_path() + ": " + std::strerror(error));
        return false;
    }
    return true;
}

void Daemon::open_shared_memory() {
    std::error_code ec;
    const std::string parent =
        std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : loc_.run_dir;
    shm_ = std::make_unique<kbus::bus::SharedMemoryDirectory>(
        kbus::bus::SharedMemoryDirectory::open_or_create(parent, loc_.shm_dir_prefix(),
                                                         kbus::security::access_policy(), sink_));
    sink_("INFO",
          std::string(shm_->created() ? "created" : "adopted") + " shared memory " + shm_->path());
    open_control_segment();
}

void Daemon::open_control_segment() {
    const std::string path = shm_->file(kbus::bus::SharedMemoryDirectory::control_name);
    std::uint64_t epoch = 1;
    try {
        kbus::SharedMapping old = kbus::SharedMapping::open(path, ::geteuid());
        const auto* c = static_cast<const control::ControlSegment*>(old.data());
        if (old.size() >= sizeof(control::ControlSegment) &&
            c->info.magic == control::control_magic &&
            c->info.layout_version == control::control_layout_version) {
            // Relaxed: the previous daemon is gone; nobody else writes the epoch.
            epoch = c->info.daemon_epoch.load(std::memory_order_relaxed) + 1;
            control_mapping_ = std::move(old);
        }
    } catch (const Error&) {  // none left: create one
    }
    const kbus::security::AccessPolicy& access = kbus::security::access_policy();
    if (!control_mapping_.mapped()) {
        control_mapping_ =
            kbus::SharedMapping::create(path, sizeof(control::ControlSegment), access.file_mode(),
                                        access.group ? int(*access.group) : -1);
        auto* c = static_cast<control::ControlSegment*>(control_mapping_.data());
        c->info.magic = control::control_magic;
        c->info.layout_version = control::control_layout_version;
    }
    control_ = static_cast<control::ControlSegment*>(control_mapping_.data());
    control_->info.daemon_pid.store(std::uint64_t(::getpid()), std::memory_order_relaxed);
    // Release: a client that sees the new epoch sees the segment as this daemon set it up.
    control_->info.daemon_epoch.store(epoch, std::memory_order_release);
}

void Daemon::build_parts(bool verify) {
    const kbus::security::AccessPolicy& access = kbus::security::access_policy();
    bus_ = std::make_unique<kbus::bus::Bus>(
        loc_.data_dir, broker_,
        kbus::bus::RingStore(shm_->path(), access.file_mode(),
                             access.group ? int(*access.group) : -1),
        sink_);
    bus_->use_fences(control_);
    bus_->restore(verify);
    groups_ = std::make_unique<kbus::groups::GroupService>(loc_.data_dir, *bus_, sink_);
    bus_->on_topic_deleted([this](const std::string& topic) { groups_->topic_deleted(topic); });
    DaemonIdentity identity{loc_.bus,
                            [this] {
                                // Relaxed: only this daemon writes it, once, at start.
                                return control_->info.daemon_epoch.load(std::memory_order_relaxed);
                            },
                            shm_->path()};
    handlers_ = std::make_unique<ControlHandlers>(*bus_, *groups_, identity, [this] {
        return stats_snapshot(*bus_, *groups_, server_->connections());
    });
    handlers_->on_wake_spill([this] { control_->doorbell.ring(); });
    producer_ids_ = std::make_unique<kbus::bus::ProducerIdRegistry>(loc_.data_dir, control_, sink_);
    handlers_->serve_producer_ids(*producer_ids_);
    transactions_ = std::make_unique<kbus::bus::TransactionCoordinator>(
        *bus_, *producer_ids_, groups_.get(), loc_.data_dir, sink_,
        [this] { control_->doorbell.ring(); });
    handlers_->serve_transactions(*transactions_);
    server_ = std::make_unique<ControlServer>(
        loc_.socket_path(),
        ControlServerHandlers{[this](kbus::protocol::RequestType t, std::string_view payload,
                                     std::uint32_t c) { return handlers_->answer(t, payload, c); },
                              [this](std::uint32_t c) { handlers_->connection_closed(c); },
                              [this] {
                                  return std::min(
                                      groups_->tick(),
                                      transactions_->expire(kbus::detail::wall_clock_ms()));
                              }},
        sink_);
    handlers_->on_peer_pid([this](std::uint32_t c) { return server_->peer_pid(c); });
}

void Daemon::recover_transactions() {
    try {
        transactions_->recover();
    } catch (const Error& e) {
        sink_("ERROR", std::string("transactions left by the last run not ended: ") + e.what());
    }
}

int Daemon::abandon(int code) {
    if (shm_->created() && bus_->names().empty() && shm_->lock_out_clients()) shm_->remove_all();
    return code;
}

bool Daemon::start_metrics() {
    if (broker_.metrics_port < 0) return true;
    try {
        const std::uint16_t port =
            metrics_.start(broker_.metrics_address, std::uint16_t(broker_.metrics_port), [this] {
                return kbus::cli::stats_prometheus(
                    stats_snapshot(*bus_, *groups_, server_->connections()));
            });
        sink_("INFO", "metrics on http://" + broker_.metrics_address + ":" + std::to_string(port) +
                          "/metrics");
        return true;
    } catch (const Error& e) {
        sink_("ERROR", e.what());
        return false;
    }
}

// listeners=PLAINTEXT://host:port: Kafka clients on a TCP port (off unless configured).
bool Daemon::start_kafka_listener() {
    if (!broker_.kafka_listener) return true;
    KafkaListenerOptions o;
    o.bind_host = broker_.kafka_listener->host;
    o.port = broker_.kafka_listener->port;
    if (broker_.kafka_advertised) {
        o.advertised_host = broker_.kafka_advertised->host;
        o.advertised_port = broker_.kafka_advertised->port;
    }
    o.max_request_bytes = broker_.socket_request_max_bytes;
    o.cluster_id = "kbus-" + loc_.bus;
    kafka_backend_ = std::make_unique<KafkaBusBackend>(
        *bus_, *groups_, control_->doorbell, *producer_ids_, *transactions_,
        broker_.auto_create_topics, broker_.num_partitions);
    kafka_ = std::make_unique<KafkaListener>(*kafka_backend_, o, sink_);
    try {
        const std::uint16_t port = kafka_->start();
        const std::string host = o.bind_host.empty() ? "0.0.0.0" : o.bind_host;
        sink_("INFO", "Kafka listener on " + host + ":" + std::to_string(port));
        if (host.rfind("127.", 0) != 0 && host != "localhost")
            sink_("WARN",
                  "the Kafka listener is reachable from other hosts, and Kafka clients "
                  "are not authenticated: anyone who reaches " +
                      host + ":" + std::to_string(port) + " can read and write every topic");
        return true;
    } catch (const Error& e) {
        sink_("ERROR", e.what());
        kafka_.reset();
        return false;
    }
}

// A clean stop loses nothing a crash would not: every committed record reaches the log and is
// synced, and the rings stay in shared memory for the next daemon unless no process maps them any
// more (then claims still uncommitted are dead producers', aborted now, and the directory goes).
bool Daemon::shutdown() {
    server_->close();    // no client reaches this daemon any more
    groups_->persist();  // what members committed in the slots
    bool flushed = true;
    for (const auto& p : bus_->partitions())
        flushed = kbus::bus::SpillWorker::drain(*p, sink_) && flushed;
    if (!shm_->lock_out_clients()) {
        sink_("INFO", "kept the rings in shared memory " + shm_->path() +
                          ": client processes still map them (the next start adopts them)");
        return flushed;
    }
    bool emptied = flushed;
    for (const auto& p : bus_->partitions())
        emptied = kbus::bus::SpillWorker::drain_abandoned(*p, sink_) && emptied;
    if (!emptied) {
        shm_->release_clients();
        return false;
    }
    shm_->remove_all();
    return flushed;
}

}  // namespace kbusd
