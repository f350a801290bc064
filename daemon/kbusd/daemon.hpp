// kbusd's start-up, wiring and shutdown: the bus (topics, rings, logs), the group service, the
// control socket, the spill thread, and the optional Kafka listener and metrics endpoint. Each
// part is a class of its own; this one only puts them together and takes them apart in order.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "bus/bus.hpp"
#include "bus/producer_ids.hpp"
#include "bus/shm_directory.hpp"
#include "bus/transaction_coordinator.hpp"
#include "config/broker_config.hpp"
#include "control_handlers.hpp"
#include "control_server.hpp"
#include "groups/group_service.hpp"
#include "kafka_bus_backend.hpp"
#include "kafka_listener.hpp"
#include "kbus/bus_location.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/shared_memory.hpp"
#include "logging/log_sink.hpp"
#include "metrics_server.hpp"

namespace kbusd {

class Daemon {
  public:
    Daemon(kbus::BusLocation location, kbus::config::BrokerConfig broker,
           kbus::logging::LogSink sink);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Serves until `stop` is set, then stops cleanly. Returns the process's exit status.
    int run(const std::atomic<bool>& stop);

  private:
    // The run and data dirs, and the lock that makes this the bus's only daemon.
    [[nodiscard]] bool take_bus();
    [[nodiscard]] bool prepare_directory(const std::string& dir, const char* what);
    // The shared-memory directory (an earlier run's, adopted, else a new one) and the control
    // segment in it: a stopped or killed daemon's is reused, so that clients mapping it keep
    // working.
    void open_shared_memory();
    void open_control_segment();
    void build_parts(bool verify);
    // What the last run's transactions left: decided ones finished, open ones aborted.
    void recover_transactions();
    [[nodiscard]] bool start_metrics();
    [[nodiscard]] bool start_kafka_listener();
    // A start that fails after creating its shared-memory directory removes it when the bus has
    // no topics (with topics, their rings may hold records not yet spilled, and the next start
    // needs them).
    int abandon(int code);
    // Everything committed to a ring goes to disk and is synced; the rings go only when nobody
    // maps them and nothing is left in them. False if a disk failed (no clean-shutdown mark).
    [[nodiscard]] bool shutdown();

    kbus::BusLocation loc_;
    kbus::config::BrokerConfig broker_;
    kbus::logging::LogSink sink_;
    int lock_fd_ = -1;
    std::unique_ptr<kbus::bus::SharedMemoryDirectory> shm_;
    kbus::SharedMapping control_mapping_;
    kbus::control::ControlSegment* control_ = nullptr;
    std::unique_ptr<kbus::bus::Bus> bus_;
    std::unique_ptr<kbus::groups::GroupService> groups_;
    std::unique_ptr<kbus::bus::ProducerIdRegistry> producer_ids_;
    std::unique_ptr<kbus::bus::TransactionCoordinator> transactions_;
    std::unique_ptr<ControlHandlers> handlers_;
    std::unique_ptr<ControlServer> server_;
    std::unique_ptr<KafkaBusBackend> kafka_backend_;
    std::unique_ptr<KafkaListener> kafka_;
    MetricsServer metrics_;
};

}  // namespace kbusd
