// The requests and responses of the Kafka APIs kbusd serves, at the versions kafka_api.hpp
// advertises: one struct per message, decoded with read(WireReader&, version) and encoded with
// write(WireWriter&, version). Field layouts are Kafka 3.4's JSON schemas (see
// ../shared/reference/kafka-schemas.txt); fields of a version not served are never read.
// Records stay views into the request frame (no copy until they reach the ring).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/kafka_api.hpp"
#include "kbus/detail/kafka_wire.hpp"

namespace kbus::kafka {

// ---- ApiVersions (18) ----
struct ApiVersionsResponse {
    KafkaError error = KafkaError::none;
    bool only_api_versions = false;  // the answer to a version we do not speak
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- Metadata (3) ----
struct MetadataRequest {
    std::optional<std::vector<std::string>> topics;  // nullopt: every topic
    bool allow_auto_topic_creation = true;
    static MetadataRequest read(WireReader& r, std::int16_t version);
};
struct MetadataResponse {
    struct Partition {
        KafkaError error = KafkaError::none;
        std::int32_t index = 0;
    };
    struct Topic {
        KafkaError error = KafkaError::none;
        std::string name;
        std::vector<Partition> partitions;
    };
    std::int32_t node_id = 0;
    std::string host;
    std::int32_t port = 0;
    std::string cluster_id;
    std::vector<Topic> topics;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- Produce (0) ----
struct ProduceRequest {
    struct Partition {
        std::int32_t index = 0;
        std::optional<std::string_view> records;  // exactly one RecordBatch v2
    };
    struct Topic {
        std::string name;
        std::vector<Partition> partitions;
    };
    std::optional<std::string> transactional_id;
    std::int16_t acks = -1;
    std::int32_t timeout_ms = 0;
    std::vector<Topic> topics;
    static ProduceRequest read(WireReader& r, std::int16_t version);
};
struct ProduceResponse {
    struct Partition {
        std::int32_t index = 0;
        KafkaError error = KafkaError::none;
        std::int64_t base_offset = -1;
        std::int64_t log_append_time_ms = -1;
        std::int64_t log_start_offset = -1;
    };
    std::vector<std::pair<std::string, std::vector<Partition>>> topics;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- Fetch (1) ----
struct FetchRequest {
    struct Partition {
        std::int32_t index = 0;
        std::int64_t fetch_offset = 0;
        std::int32_t max_bytes = 0;
    };
    struct Topic {
        std::string name;
        std::vector<Partition> partitions;
    };
    std::int32_t max_wait_ms = 0;
    std::int32_t min_bytes = 0;
    std::int32_t max_bytes = 0x7fffffff;
    std::int8_t isolation_level = 0;
    std::vector<Topic> topics;
    static FetchRequest read(WireReader& r, std::int16_t version);
};
// A fetch response's partition header: everything before its records bytes, whose length
// (the int32 in front of them) it ends with.
struct FetchPartitionHeader {
    std::int32_t index = 0;
    KafkaError error = KafkaError::none;
    std::int64_t high_watermark = -1;
    std::int64_t log_start_offset = -1;
    void write(WireWriter& w, std::int16_t version, std::int32_t records_bytes) const;
};

// ---- ListOffsets (2) ----
struct ListOffsetsRequest {
    struct Partition {
        std::int32_t index = 0;
        std::int64_t timestamp = 0;  // -1 latest, -2 earliest, else the first offset at or after
    };
    std::vector<std::pair<std::string, std::vector<Partition>>> topics;
    static ListOffsetsRequest read(WireReader& r, std::int16_t version);
};
struct ListOffsetsResponse {
    struct Partition {
        std::int32_t index = 0;
        KafkaError error = KafkaError::none;
        std::int64_t timestamp = -1;
        std::int64_t offset = -1;
    };
    std::vector<std::pair<std::string, std::vector<Partition>>> topics;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- FindCoordinator (10) ----
struct FindCoordinatorResponse {
    KafkaError error = KafkaError::none;
    std::int32_t node_id = 0;
    std::string host;
    std::int32_t port = 0;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- JoinGroup (11), SyncGroup (14), Heartbeat (12), LeaveGroup (13) ----
struct JoinGroupRequest {
    std::string group;
    std::int32_t session_timeout_ms = 0;
    std::int32_t rebalance_timeout_ms = -1;
    std::string member_id;
    std::string protocol_type;
    std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
    static JoinGroupRequest read(WireReader& r, std::int16_t version);
};
struct JoinGroupResponse {
    KafkaError error = KafkaError::none;
    std::int32_t generation = -1;
    std::string protocol;
    std::string leader;
    std::string member_id;
    std::vector<std::pair<std::string, std::string>> members;  // id, metadata (leader only)
    void write(WireWriter& w, std::int16_t version) const;
};
struct SyncGroupRequest {
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    std::vector<std::pair<std::string, std::string>> assignments;  // id, assignment
    static SyncGroupRequest read(WireReader& r, std::int16_t version);
};
struct SyncGroupResponse {
    KafkaError error = KafkaError::none;
    std::string assignment;
    void write(WireWriter& w, std::int16_t version) const;
};
struct HeartbeatRequest {
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    static HeartbeatRequest read(WireReader& r, std::int16_t version);
};
struct LeaveGroupRequest {
    std::string group;
    std::string member_id;
    static LeaveGroupRequest read(WireReader& r, std::int16_t version);
};
// Heartbeat, LeaveGroup (v0): the error code alone.
struct ErrorOnlyResponse {
    KafkaError error = KafkaError::none;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- OffsetCommit (8), OffsetFetch (9) ----
struct OffsetCommitRequest {
    struct Partition {
        std::int32_t index = 0;
        std::int64_t offset = 0;
    };
    std::string group;
    std::int32_t generation = -1;
    std::string member_id;
    std::vector<std::pair<std::string, std::vector<Partition>>> topics;
    static OffsetCommitRequest read(WireReader& r, std::int16_t version);
};
// OffsetCommit's answer: an error per partition.
struct PartitionErrorsResponse {
    std::vector<std::pair<std::string, std::vector<std::pair<std::int32_t, KafkaError>>>> topics;
    void write(WireWriter& w, std::int16_t version) const;
};
struct OffsetFetchRequest {
    std::string group;
    std::vector<std::pair<std::string, std::vector<std::int32_t>>> topics;
    static OffsetFetchRequest read(WireReader& r, std::int16_t version);
};
struct OffsetFetchResponse {
    struct Partition {
        std::int32_t index = 0;
        std::int64_t offset = -1;  // -1: nothing committed
        KafkaError error = KafkaError::none;
    };
    std::vector<std::pair<std::string, std::vector<Partition>>> topics;
    void write(WireWriter& w, std::int16_t version) const;
};

// ---- CreateTopics (19), DeleteTopics (20) ----
struct CreateTopicsRequest {
    struct Topic {
        std::string name;
        std::int32_t num_partitions = -1;
        std::int16_t replication_factor = -1;
        bool has_assignments = false;
        std::vector<std::pair<std::string, std::string>> configs;
        bool null_config_value = false;
    };
    std::vector<Topic> topics;
    std::int32_t timeout_ms = 0;
    bool validate_only = false;
    static CreateTopicsRequest read(WireReader& r, std::int16_t version);
};
struct TopicErrorsResponse {  // CreateTopics and DeleteTopics
    struct Topic {
        std::string name;
        KafkaError error = KafkaError::none;
        std::string message;  // CreateTopics v1+
    };
    std::vector<Topic> topics;
    void write_create(WireWriter& w, std::int16_t version) const;
    void write_delete(WireWriter& w, std::int16_t version) const;
};
struct DeleteTopicsRequest {
    std::vector<std::string> names;
    std::int32_t timeout_ms = 0;
    static DeleteTopicsRequest read(WireReader& r, std::int16_t version);
};

}  // namespace kbus::kafka
