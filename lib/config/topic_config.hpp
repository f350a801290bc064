// Per-topic configuration: Kafka's names and defaults (retention.ms, retention.bytes,
// segment.bytes, segment.ms, compression.type, message.timestamp.type, max.message.bytes,
// flush.messages, flush.ms, index.interval.bytes, and compaction's cleanup.policy,
// min.cleanable.dirty.ratio, min.compaction.lag.ms, max.compaction.lag.ms and
// delete.retention.ms) plus kbus's ring.bytes and
// consumer.hold.timeout.ms. One place validates every value, for create, alter and the broker's
// defaults alike, and names the key in every error.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kbus::config {

// Kafka's codec ids, as stored in bits 0-2 of a RecordBatch's attributes.
enum class Compression : std::uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

[[nodiscard]] const char* to_string(Compression c) noexcept;

inline constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

struct TopicConfig {
    std::int64_t retention_ms = 604'800'000;  // 7 days; -1 = unlimited
    std::int64_t retention_bytes = -1;        // per partition; -1 = unlimited
    std::int64_t segment_bytes = 1LL << 30;
    std::int64_t segment_ms = 604'800'000;
    Compression compression = Compression::none;
    bool log_append_time = false;  // message.timestamp.type=LogAppendTime
    std::uint32_t max_message_bytes = 1'048'588;
    bool max_message_bytes_given = false;  // else clamped to ring.bytes / 2
    std::uint64_t ring_bytes = 1ULL << 22;
    std::uint32_t consumer_hold_timeout_ms = 1000;
    std::int64_t flush_messages = never;  // Kafka's default: leave syncing to the page cache
    std::int64_t flush_ms = never;
    std::int32_t index_interval_bytes = 4096;
    // cleanup.policy: delete (retention.ms / retention.bytes delete old segments), compact (the
    // cleaner keeps each key's newest record), or both.
    bool cleanup_delete = true;
    bool cleanup_compact = false;
    double min_cleanable_dirty_ratio = 0.5;
    std::int64_t min_compaction_lag_ms = 0;
    std::int64_t max_compaction_lag_ms = never;
    std::int64_t delete_retention_ms = 86'400'000;  // how long tombstones outlive a clean
};

// A setting's value as kbus stores and shows it: cleanup.policy's list in one spelling
// ("compact, delete" and "delete,compact" are "compact,delete"), every other value as given.
// Call after the value was checked (apply_topic_setting).
[[nodiscard]] std::string canonical_value(const std::string& key, const std::string& value);

// "delete", "compact" or "compact,delete", as Kafka spells cleanup.policy.
[[nodiscard]] std::string cleanup_policy_name(const TopicConfig& config);

using Settings = std::vector<std::pair<std::string, std::string>>;

// Applies one `key=value`; throws Error(invalid_argument) naming the key on an unknown key or a
// bad value.
void apply_topic_setting(TopicConfig& config, const std::string& key, const std::string& value);

// defaults + settings, then the checks that span keys (max.message.bytes against ring.bytes).
[[nodiscard]] TopicConfig make_topic_config(const TopicConfig& defaults, const Settings& settings);

// Keys that cannot change after creation (the ring's shape is fixed while producers map it).
[[nodiscard]] bool is_fixed_at_creation(const std::string& key) noexcept;

// Every key with its effective value, as `kbus topic describe` shows and the daemon persists.
[[nodiscard]] std::map<std::string, std::string> to_settings(const TopicConfig& config);

}  // namespace kbus::config
