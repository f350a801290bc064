// The Kafka APIs kbusd serves: API keys, the versions it advertises (Kafka 3.9's ranges; the
// fields of each are in the schema tables, api_schemas.hpp), Kafka's error codes, and the
// request header. Facts from ../shared/reference/kafka-protocol.md and Kafka's message JSON.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "kbus/detail/kafka_wire.hpp"

namespace kbus::kafka {

enum class ApiKey : std::int16_t {
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    offset_commit = 8,
    offset_fetch = 9,
    find_coordinator = 10,
    join_group = 11,
    heartbeat = 12,
    leave_group = 13,
    sync_group = 14,
    describe_groups = 15,
    list_groups = 16,
    api_versions = 18,
    create_topics = 19,
    delete_topics = 20,
    delete_records = 21,
    init_producer_id = 22,
    offset_for_leader_epoch = 23,
    add_partitions_to_txn = 24,
    add_offsets_to_txn = 25,
    end_txn = 26,
    txn_offset_commit = 28,
    describe_configs = 32,
    alter_configs = 33,
    describe_log_dirs = 35,
    create_partitions = 37,
    delete_groups = 42,
    incremental_alter_configs = 44,
    offset_delete = 47,
    describe_cluster = 60,
};

struct VersionRange {
    ApiKey key;
    std::int16_t min;
    std::int16_t max;
};

// What ApiVersions advertises: for each API served, the range Apache Kafka 3.9 serves. Produce
// v0-2 and Fetch v0-3 carry message sets of magic 0/1, converted to and from RecordBatch v2
// (legacy_message_set.hpp). Produce v0 in the list also tells librdkafka it may compress.
inline constexpr std::array<VersionRange, 31> supported_versions{{
    {ApiKey::produce, 0, 11},
    {ApiKey::fetch, 0, 17},
    {ApiKey::list_offsets, 0, 9},
    {ApiKey::metadata, 0, 12},
    {ApiKey::offset_commit, 0, 9},
    {ApiKey::offset_fetch, 0, 9},
    {ApiKey::find_coordinator, 0, 6},
    {ApiKey::join_group, 0, 9},
    {ApiKey::heartbeat, 0, 4},
    {ApiKey::leave_group, 0, 5},
    {ApiKey::sync_group, 0, 5},
    {ApiKey::describe_groups, 0, 5},
    {ApiKey::list_groups, 0, 5},
    {ApiKey::api_versions, 0, 4},
    {ApiKey::create_topics, 0, 7},
    {ApiKey::delete_topics, 0, 6},
    {ApiKey::delete_records, 0, 2},
    {ApiKey::init_producer_id, 0, 5},
    {ApiKey::offset_for_leader_epoch, 0, 4},
    {ApiKey::add_partitions_to_txn, 0, 3},
    {ApiKey::add_offsets_to_txn, 0, 3},
    {ApiKey::end_txn, 0, 3},
    {ApiKey::txn_offset_commit, 0, 3},
    {ApiKey::describe_configs, 0, 4},
    {ApiKey::alter_configs, 0, 2},
    {ApiKey::describe_log_dirs, 0, 4},
    {ApiKey::create_partitions, 0, 3},
    {ApiKey::delete_groups, 0, 2},
    {ApiKey::incremental_alter_configs, 0, 1},
    {ApiKey::offset_delete, 0, 0},
    {ApiKey::describe_cluster, 0, 1},
}};

[[nodiscard]] constexpr std::optional<VersionRange> version_range(std::int16_t key) noexcept {
    for (const VersionRange& r : supported_versions)
        if (std::int16_t(r.key) == key) return r;
    return std::nullopt;
}

[[nodiscard]] constexpr bool is_supported(std::int16_t key, std::int16_t version) noexcept {
    const auto r = version_range(key);
    return r && version >= r->min && version <= r->max;
}

// Kafka's error codes (org.apache.kafka.common.protocol.Errors), the ones kbusd answers with.
enum class KafkaError : std::int16_t {
    none = 0,
    offset_out_of_range = 1,
    corrupt_message = 2,
    unknown_topic_or_partition = 3,
    invalid_fetch_size = 4,
    not_leader_or_follower = 6,
    request_timed_out = 7,
    message_too_large = 10,
    offset_metadata_too_large = 12,
    coordinator_not_available = 15,
    not_coordinator = 16,
    invalid_topic = 17,
    record_list_too_large = 18,
    invalid_required_acks = 21,
    illegal_generation = 22,
    inconsistent_group_protocol = 23,
    invalid_group_id = 24,
    unknown_member_id = 25,
    invalid_session_timeout = 26,
    rebalance_in_progress = 27,
    invalid_commit_offset_size = 28,
    topic_authorization_failed = 29,
    unsupported_version = 35,
    topic_already_exists = 36,
    invalid_partitions = 37,
    invalid_replication_factor = 38,
    invalid_replica_assignment = 39,
    invalid_config = 40,
    invalid_request = 42,
    unsupported_for_message_format = 43,
    policy_violation = 44,
    out_of_order_sequence_number = 45,
    duplicate_sequence_number = 46,
    invalid_producer_epoch = 47,
    invalid_txn_state = 48,
    invalid_producer_id_mapping = 49,
    invalid_transaction_timeout = 50,
    concurrent_transactions = 51,
    transactional_id_authorization_failed = 53,
    kafka_storage_error = 56,
    unknown_producer_id = 59,
    non_empty_group = 68,
    group_id_not_found = 69,
    fenced_leader_epoch = 74,
    unknown_leader_epoch = 75,
    unsupported_compression_type = 76,
    member_id_required = 79,
    group_subscribed_to_topic = 86,
    invalid_record = 87,
    producer_fenced = 90,
    transactional_id_not_found = 105,
    unknown_topic_id = 100,
    unknown_server_error = -1,
};

// The Kafka error a kbus failure stands for.
[[nodiscard]] KafkaError kafka_error_of(ErrorCode code) noexcept;

// Request header v1. A flexible request's header (v2) adds tagged fields after the client id,
// which the listener skips once it knows the API and version are flexible.
struct RequestHeader {
    std::int16_t api_key = 0;
    std::int16_t api_version = 0;
    std::int32_t correlation_id = 0;
    std::optional<std::string> client_id;

    static RequestHeader read(WireReader& r) {
        RequestHeader h;
        h.api_key = r.i16();
        h.api_version = r.i16();
        h.correlation_id = r.i32();
        if (auto id = r.nullable_string()) h.client_id = std::string(*id);
        return h;
    }
};

// Frames: an int32 size, then that many bytes (the request header and body).
inline constexpr std::size_t frame_size_bytes = 4;
// socket.request.max.bytes: Kafka's default bound on one request.
inline constexpr std::int32_t default_max_request_bytes = 100 * 1024 * 1024;

}  // namespace kbus::kafka
