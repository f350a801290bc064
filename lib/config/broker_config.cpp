#include "config/broker_config.hpp"

#include <limits>
#include <map>
#include <optional>

#include "kbus/error.hpp"

namespace kbus::config {
namespace {

// Broker keys that set a topic default, by the topic key they set.
const std::map<std::string, std::string>& topic_default_keys() {
    static const std::map<std::string, std::string> keys{
        {"log.retention.ms", "retention.ms"},
        {"log.retention.bytes", "retention.bytes"},
        {"log.segment.bytes", "segment.bytes"},
        {"log.roll.ms", "segment.ms"},
        {"compression.type", "compression.type"},
        {"log.message.timestamp.type", "message.timestamp.type"},
        {"message.max.bytes", "max.message.bytes"},
        {"log.flush.interval.messages", "flush.messages"},
        {"log.flush.interval.ms", "flush.ms"},
        {"log.index.interval.bytes", "index.interval.bytes"},
        {"log.cleanup.policy", "cleanup.policy"},
        {"log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio"},
        {"log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"},
        {"log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"},
        {"log.cleaner.delete.retention.ms", "delete.retention.ms"},
        {"kbus.ring.bytes", "ring.bytes"},
        {"kbus.consumer.hold.timeout.ms", "consumer.hold.timeout.ms"},
    };
    return keys;
}

// Kafka's properties format has no comments at the end of a line: a value with " #" in it was
// most likely meant to have one.
std::string comment_hint(const std::string& value) {
    return value.find(" #") == std::string::npos && value.find("\t#") == std::string::npos
               ? ""
               : "; comments go on a line of their own in a properties file";
}

std::int64_t parse_long(const Property& p, std::int64_t min, std::int64_t max) {
    try {
        std::size_t used = 0;
        const long long v = std::stoll(p.value, &used);
        if (used != p.value.size() || v < min || v > max) throw std::out_of_range("");
        return v;
    } catch (const std::logic_error&) {
        throw Error(ErrorCode::invalid_argument,
                    p.origin + ": invalid value '" + p.value + "' for " + p.key + " (expected " +
                        std::to_string(min) + ".." + std::to_string(max) + ")" +
                        comment_hint(p.value));
    }
}

// Kafka's type is a double; kbus takes whole bytes per second.
std::int64_t parse_rate(const Property& p) {
    try {
        std::size_t used = 0;
        const double v = std::stod(p.value, &used);
        if (used != p.value.size() || !(v >= 1)) throw std::out_of_range("");
        return v >= 9.2e18 ? std::numeric_limits<std::int64_t>::max() : std::int64_t(v);
    } catch (const std::logic_error&) {
        throw Error(ErrorCode::invalid_argument,
                    p.origin + ": invalid value '" + p.value + "' for " + p.key +
                        " (expected bytes per second, at least 1)" + comment_hint(p.value));
    }
}

bool parse_bool(const Property& p) {
    if (p.value == "true") return true;
    if (p.value == "false") return false;
    throw Error(ErrorCode::invalid_argument, p.origin + ": invalid value '" + p.value + "' for " +
                                                 p.key + " (expected true or false)" +
                                                 comment_hint(p.value));
}

}  // namespace

ListenerAddress parse_listener(const std::string& key, const std::string& value) {
    auto bad = [&](const std::string& why) {
        return Error(ErrorCode::invalid_argument,
                     key + ": '" + value + "' " + why + " (expected PLAINTEXT://host:port)");
    };
    const std::string scheme = "PLAINTEXT://";
    if (value.find(',') != std::string::npos) throw bad("names more than one listener");
    if (value.rfind(scheme, 0) != 0)
        throw bad(value.find("://") == std::string::npos
                      ? "has no security protocol"
                      : "is not PLAINTEXT (TLS and SASL are not served)");
    const std::string address = value.substr(scheme.size());
    if (!address.empty() && address.front() == '[') throw bad("is IPv6 (not served)");
    const std::size_t colon = address.rfind(':');
    if (colon == std::string::npos) throw bad("has no port");
    ListenerAddress a;
    a.host = address.substr(0, colon);
    const Property port{key, address.substr(colon + 1), key};
    try {
        a.port = std::uint16_t(parse_long(port, 0, 65535));
    } catch (const Error&) {
        throw bad("has a bad port");
    }
    return a;
}

namespace {

// Kafka's precedence among retention and roll keys (ms over minutes over hours, whatever the
// order) needs every one of them seen before any applies.
struct TimeKeys {
    std::optional<std::int64_t> retention_ms, retention_minutes, retention_hours, roll_hours;
    bool roll_ms_given = false;
};

constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max() / 3'600'000;

// Limits, the metrics endpoint, the Kafka listener and timeouts; false for an unknown key.
bool apply_limit_or_listener(BrokerConfig& c, const Property& p) {
    if (p.key == "kbus.max.topics") {
        c.max_topics = parse_long(p, 1, 1'000'000);
    } else if (p.key == "kbus.max.partitions") {
        c.max_partitions = parse_long(p, 1, 10'000'000);
    } else if (p.key == "kbus.max.shared.memory.bytes") {
        c.max_shared_memory_bytes = parse_long(p, -1, std::numeric_limits<std::int64_t>::max());
    } else if (p.key == "kbus.metrics.port") {
        c.metrics_port = parse_long(p, -1, 65535);
    } else if (p.key == "kbus.metrics.address") {
        c.metrics_address = p.value;
    } else if (p.key == "listeners") {
        if (p.value.empty())
            c.kafka_listener.reset();
        else
            c.kafka_listener = parse_listener(p.origin + ": listeners", p.value);
    } else if (p.key == "advertised.listeners") {
        if (p.value.empty())
            c.kafka_advertised.reset();
        else
            c.kafka_advertised = parse_listener(p.origin + ": advertised.listeners", p.value);
    } else if (p.key == "socket.request.max.bytes") {
        c.socket_request_max_bytes = std::int32_t(parse_long(p, 1024, 0x7fffffff));
    } else if (p.key == "kbus.claim.timeout.ms") {
        c.claim_timeout_ms = parse_long(p, 1, 3'600'000);
    } else if (p.key == "log.retention.check.interval.ms") {
        c.retention_check_interval_ms = parse_long(p, 1, big);
    } else if (p.key == "log.cleaner.enable") {
        c.cleaner.enable = parse_bool(p);
    } else if (p.key == "log.cleaner.backoff.ms") {
        c.cleaner.backoff_ms = parse_long(p, 1, big);
    } else if (p.key == "log.cleaner.dedupe.buffer.size") {
        c.cleaner.dedupe_buffer_bytes = parse_long(p, 1 << 20, std::int64_t(1) << 40);
    } else if (p.key == "log.cleaner.io.max.bytes.per.second") {
        c.cleaner.io_max_bytes_per_second = parse_rate(p);
    } else {
        return false;
    }
    return true;
}

// A key that is not a topic default; false for an unknown key.
bool apply_own_key(BrokerConfig& c, const Property& p, TimeKeys& t) {
    if (p.key == "log.retention.minutes") {
        t.retention_minutes = parse_long(p, -1, big);
    } else if (p.key == "log.retention.hours") {
        t.retention_hours = parse_long(p, -1, big);
    } else if (p.key == "log.roll.hours") {
        t.roll_hours = parse_long(p, 1, big);
    } else if (p.key == "log.dirs" || p.key == "log.dir") {
        if (p.value.empty() || p.value.find(',') != std::string::npos)
            throw Error(ErrorCode::invalid_argument,
                        p.origin + ": " + p.key + " must name exactly one directory");
        c.data_dir = p.value;
    } else if (p.key == "kbus.run.dir") {
        c.run_dir = p.value;
    } else if (p.key == "kbus.group") {
        // Empty means no group (owner only), so that --override kbus.group= undoes the file's.
        if (p.value.empty())
            c.group.reset();
        else
            c.group = p.value;
    } else if (p.key == "kbus.bus") {
        c.bus = p.value;
    } else if (p.key == "num.partitions") {
        c.num_partitions = std::int32_t(parse_long(p, 1, 10000));
    } else if (p.key == "auto.create.topics.enable") {
        c.auto_create_topics = parse_bool(p);
    } else if (p.key == "kbus.spill.enable") {
        c.spill_enable = parse_bool(p);
    } else {
        return apply_limit_or_listener(c, p);
    }
    return true;
}

}  // namespace

BrokerConfig make_broker_config(const std::vector<Property>& properties) {
    BrokerConfig c;
    TimeKeys t;
    for (const Property& p : properties) {
        if (auto it = topic_default_keys().find(p.key); it != topic_default_keys().end()) {
            try {
                apply_topic_setting(c.topic_defaults, it->second, p.value);
            } catch (const Error& e) {
                throw Error(e.code(),
                            p.origin + ": " + p.key + ": " + e.what() + comment_hint(p.value));
            }
            if (p.key == "log.retention.ms") t.retention_ms = c.topic_defaults.retention_ms;
            if (p.key == "log.roll.ms") t.roll_ms_given = true;
        } else if (!apply_own_key(c, p, t)) {
            throw Error(ErrorCode::invalid_argument,
                        p.origin + ": unknown config key '" + p.key + "'");
        }
    }
    auto scaled = [](std::int64_t v, std::int64_t unit) { return v < 0 ? -1 : v * unit; };
    if (t.retention_ms)
        c.topic_defaults.retention_ms = *t.retention_ms;
    else if (t.retention_minutes)
        c.topic_defaults.retention_ms = scaled(*t.retention_minutes, 60'000);
    else if (t.retention_hours)
        c.topic_defaults.retention_ms = scaled(*t.retention_hours, 3'600'000);
    if (!t.roll_ms_given && t.roll_hours) c.topic_defaults.segment_ms = *t.roll_hours * 3'600'000;
    // The defaults must themselves make a valid topic.
    (void)make_topic_config(c.topic_defaults, {});
    return c;
}

}  // namespace kbus::config
