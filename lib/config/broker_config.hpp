// kbusd's own configuration: a Kafka-style properties file (--config) with --override on top.
// Kafka's broker names where Kafka has them (log.dirs, num.partitions, log.retention.hours|ms,
// log.segment.bytes, ...); kbus's own keys start with "kbus.". Unknown keys and bad values are
// refused with the key and where it came from named.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/properties.hpp"
#include "config/topic_config.hpp"

namespace kbus::config {

// A Kafka listener address: listeners=PLAINTEXT://host:port (host empty: every interface).
struct ListenerAddress {
    std::string host;
    std::uint16_t port = 9092;
};

// Parses one PLAINTEXT://host:port (IPv4 or a name; one listener). Throws Error(invalid_argument)
// naming `key`.
[[nodiscard]] ListenerAddress parse_listener(const std::string& key, const std::string& value);

// The log cleaner (compacted topics): Kafka's log.cleaner.* keys.
struct CleanerConfig {
    bool enable = true;                // log.cleaner.enable
    std::int64_t backoff_ms = 15'000;  // log.cleaner.backoff.ms: the pause when nothing is dirty
    std::int64_t io_max_bytes_per_second = std::numeric_limits<std::int64_t>::max();
    std::int64_t dedupe_buffer_bytes = 128LL << 20;  // log.cleaner.dedupe.buffer.size: the key map
};

struct BrokerConfig {
    std::optional<std::string> bus;       // kbus.bus
    std::optional<std::string> data_dir;  // log.dirs (one directory) or log.dir
    std::optional<std::string> run_dir;   // kbus.run.dir
    std::optional<std::string> group;     // kbus.group: shares the bus with this group
    TopicConfig topic_defaults;           // log.retention.*, log.segment.bytes, ...
    std::int32_t num_partitions = 1;      // for topics created on first use
    bool auto_create_topics = false;      // auto.create.topics.enable
    std::int64_t retention_check_interval_ms = 300'000;
    CleanerConfig cleaner;
    bool spill_enable = true;  // kbus.spill.enable: false keeps records in the rings only
    // kbus.claim.timeout.ms: how long a claim may stay uncommitted before it is taken for a dead
    // producer's and aborted (invariant 7).
    std::int64_t claim_timeout_ms = 1000;
    // Limits on what clients may make the daemon create (a topic over one is refused).
    std::int64_t max_topics = 1000;             // kbus.max.topics
    std::int64_t max_partitions = 10000;        // kbus.max.partitions, all topics together
    std::int64_t max_shared_memory_bytes = -1;  // kbus.max.shared.memory.bytes, -1: the tmpfs
    // The Prometheus endpoint: off (-1), or a port (0: any free one, logged) on an address.
    std::int64_t metrics_port = -1;             // kbus.metrics.port
    std::string metrics_address = "127.0.0.1";  // kbus.metrics.address
    // The Kafka protocol listener: off unless `listeners` names one; `advertised.listeners` is
    // what Metadata tells clients to connect to (default: the listener's own address).
    std::optional<ListenerAddress> kafka_listener;              // listeners
    std::optional<ListenerAddress> kafka_advertised;            // advertised.listeners
    std::int32_t socket_request_max_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
};

// Applies properties in order (the last value of a key wins). Throws Error(invalid_argument)
// naming the key and its origin for an unknown key or a bad value.
[[nodiscard]] BrokerConfig make_broker_config(const std::vector<Property>& properties);

}  // namespace kbus::config
