#include "config/topic_config.hpp"

#include <charconv>

#include "kbus/error.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::config {
namespace {

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& why) {
    throw Error(ErrorCode::invalid_argument,
                "invalid value '" + value + "' for " + key + ": " + why);
}

std::int64_t parse_int(const std::string& key, const std::string& value, std::int64_t min,
                       std::int64_t max) {
    std::int64_t v = 0;
    const char* end = value.data() + value.size();
    const auto [p, ec] = std::from_chars(value.data(), end, v);
    if (ec != std::errc() || p != end || value.empty()) bad(key, value, "not an integer");
    if (v < min || v > max)
        bad(key, value, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return v;
}

Compression parse_compression(const std::string& key, const std::string& value) {
    if (value == "none" || value == "uncompressed" || value == "producer")
        return Compression::none;  // producers write uncompressed rings: "producer" means none
    if (value == "gzip") return Compression::gzip;
    if (value == "snappy") return Compression::snappy;
    if (value == "lz4") return Compression::lz4;
    if (value == "zstd") return Compression::zstd;
    bad(key, value, "expected none, gzip, snappy, lz4 or zstd");
}

// A comma-separated list of delete and compact, in any order (Kafka's list type).
void parse_cleanup_policy(TopicConfig& c, const std::string& key, const std::string& value) {
    bool del = false, compact = false;
    std::size_t from = 0;
    for (;;) {
        const std::size_t comma = value.find(',', from);
        std::string item = value.substr(from, comma == std::string::npos ? comma : comma - from);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (item == "delete")
            del = true;
        else if (item == "compact")
            compact = true;
        else
            bad(key, value, "expected delete, compact or compact,delete");
        if (comma == std::string::npos) break;
        from = comma + 1;
    }
    c.cleanup_delete = del;
    c.cleanup_compact = compact;
}

double parse_ratio(const std::string& key, const std::string& value) {
    double v = 0;
    const char* end = value.data() + value.size();
    const auto [p, ec] = std::from_chars(value.data(), end, v);
    if (ec != std::errc() || p != end || value.empty()) bad(key, value, "not a number");
    if (!(v >= 0 && v <= 1)) bad(key, value, "must be between 0 and 1");
    return v;
}

std::string format_ratio(double v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

}  // namespace

std::string canonical_value(const std::string& key, const std::string& value) {
    if (key != "cleanup.policy") return value;
    TopicConfig c;
    parse_cleanup_policy(c, key, value);
    return cleanup_policy_name(c);
}

std::string cleanup_policy_name(const TopicConfig& c) {
    if (c.cleanup_compact && c.cleanup_delete) return "compact,delete";
    return c.cleanup_compact ? "compact" : "delete";
}

const char* to_string(Compression c) noexcept {
    switch (c) {
        case Compression::none:
            return "none";
        case Compression::gzip:
            return "gzip";
        case Compression::snappy:
            return "snappy";
        case Compression::lz4:
            return "lz4";
        case Compression::zstd:
            return "zstd";
    }
    return "none";
}

void apply_topic_setting(TopicConfig& c, const std::string& key, const std::string& value) {
    constexpr std::int64_t i64max = std::numeric_limits<std::int64_t>::max();
    if (key == "retention.ms")
        c.retention_ms = parse_int(key, value, -1, i64max);
    else if (key == "retention.bytes")
        c.retention_bytes = parse_int(key, value, -1, i64max);
    else if (key == "segment.bytes")
        c.segment_bytes = parse_int(key, value, 14, std::numeric_limits<std::int32_t>::max());
    else if (key == "segment.ms")
        c.segment_ms = parse_int(key, value, 1, i64max);
    else if (key == "compression.type")
        c.compression = parse_compression(key, value);
    else if (key == "message.timestamp.type") {
        if (value != "CreateTime" && value != "LogAppendTime")
            bad(key, value, "expected CreateTime or LogAppendTime");
        c.log_append_time = value == "LogAppendTime";
    } else if (key == "max.message.bytes") {
        c.max_message_bytes =
            std::uint32_t(parse_int(key, value, std::int64_t(ring::min_frame_bytes), 1LL << 31));
        c.max_message_bytes_given = true;
    } else if (key == "ring.bytes") {
        const auto v = std::uint64_t(parse_int(key, value, std::int64_t(ring::min_ring_bytes),
                                               std::int64_t(ring::max_ring_bytes)));
        if (!ring::is_power_of_two(v)) bad(key, value, "must be a power of two");
        c.ring_bytes = v;
    } else if (key == "consumer.hold.timeout.ms")
        c.consumer_hold_timeout_ms = std::uint32_t(parse_int(key, value, 1, 3'600'000));
    else if (key == "flush.messages")
        c.flush_messages = parse_int(key, value, 1, i64max);
    else if (key == "flush.ms")
        c.flush_ms = parse_int(key, value, 0, i64max);
    else if (key == "cleanup.policy")
        parse_cleanup_policy(c, key, value);
    else if (key == "min.cleanable.dirty.ratio")
        c.min_cleanable_dirty_ratio = parse_ratio(key, value);
    else if (key == "min.compaction.lag.ms")
        c.min_compaction_lag_ms = parse_int(key, value, 0, i64max);
    else if (key == "max.compaction.lag.ms")
        c.max_compaction_lag_ms = parse_int(key, value, 1, i64max);
    else if (key == "delete.retention.ms")
        c.delete_retention_ms = parse_int(key, value, 0, i64max);
    else if (key == "index.interval.bytes")
        c.index_interval_bytes =
            std::int32_t(parse_int(key, value, 0, std::numeric_limits<std::int32_t>::max()));
    else
        throw Error(ErrorCode::invalid_argument, "unknown topic config '" + key + "'");
}

TopicConfig make_topic_config(const TopicConfig& defaults, const Settings& settings) {
    TopicConfig c = defaults;
    for (const auto& [k, v] : settings)
        apply_topic_setting(c, k, v);
    const std::uint64_t half = c.ring_bytes / 2;
    if (!c.max_message_bytes_given && c.max_message_bytes > half)
        c.max_message_bytes = std::uint32_t(half);
    if (c.max_message_bytes > half)
        throw Error(ErrorCode::invalid_argument,
                    "max.message.bytes " + std::to_string(c.max_message_bytes) +
                        " exceeds half of ring.bytes (" + std::to_string(half) + ")");
    return c;
}

bool is_fixed_at_creation(const std::string& key) noexcept {
    return key == "ring.bytes" || key == "max.message.bytes" || key == "message.timestamp.type";
}

std::map<std::string, std::string> to_settings(const TopicConfig& c) {
    return {
        {"retention.ms", std::to_string(c.retention_ms)},
        {"retention.bytes", std::to_string(c.retention_bytes)},
        {"segment.bytes", std::to_string(c.segment_bytes)},
        {"segment.ms", std::to_string(c.segment_ms)},
        {"compression.type", to_string(c.compression)},
        {"message.timestamp.type", c.log_append_time ? "LogAppendTime" : "CreateTime"},
        {"max.message.bytes", std::to_string(c.max_message_bytes)},
        {"ring.bytes", std::to_string(c.ring_bytes)},
        {"consumer.hold.timeout.ms", std::to_string(c.consumer_hold_timeout_ms)},
        {"flush.messages", std::to_string(c.flush_messages)},
        {"flush.ms", std::to_string(c.flush_ms)},
        {"index.interval.bytes", std::to_string(c.index_interval_bytes)},
        {"cleanup.policy", cleanup_policy_name(c)},
        {"min.cleanable.dirty.ratio", format_ratio(c.min_cleanable_dirty_ratio)},
        {"min.compaction.lag.ms", std::to_string(c.min_compaction_lag_ms)},
        {"max.compaction.lag.ms", std::to_string(c.max_compaction_lag_ms)},
        {"delete.retention.ms", std::to_string(c.delete_retention_ms)},
    };
}

}  // namespace kbus::config
