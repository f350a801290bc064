// What the Kafka listener asks of the bus, in the bus's own terms (topics, partition logs and
// rings, the group coordinator). kbusd implements it over its topics, under the same lock its
// control socket and spill take, so every call is safe from the listener's thread. Failures
// are kbus::Error (the listener turns them into Kafka error codes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka/batch_appender.hpp"
#include "kbus/group_messages.hpp"

namespace kbusd {

// An open segment file and the whole batches to send from it (sendfile).
struct FileExtent {
    std::shared_ptr<const int> fd;  // closed when the last response using it is sent
    std::uint64_t position = 0;
    std::uint64_t length = 0;
};

struct PartitionRead {
    std::int64_t high_watermark = 0;
    std::int64_t log_start_offset = 0;
    std::optional<FileExtent> extent;  // nullopt: nothing on disk at the offset (yet)
};

enum class ProduceStatus { appended, full, too_large, unknown_partition };
struct ProduceOutcome {
    ProduceStatus status = ProduceStatus::full;
    std::int64_t base_offset = -1;
    std::int64_t log_append_time_ms = -1;  // LogAppendTime topics: the time given
    std::int64_t log_start_offset = -1;
};

class KafkaBackend {
  public:
    virtual ~KafkaBackend() = default;

    // Each named topic's partition count (nullopt: there is no such topic), every topic when
    // `names` is nullopt. Missing topics are created first when `auto_create` and the broker's
    // auto.create.topics.enable allow it. Throws Error(invalid_argument) for a bad name.
    virtual std::vector<std::pair<std::string, std::optional<std::int32_t>>> topics(
        const std::optional<std::vector<std::string>>& names, bool auto_create) = 0;

    // The topic's max.message.bytes (for the batch decoder); throws unknown_topic.
    virtual std::uint32_t max_record_bytes(const std::string& topic) = 0;
    virtual ProduceOutcome produce(const std::string& topic, std::int32_t partition,
                                   const kbus::kafka::BatchDecoder& batch) = 0;
    // Whole batches from the one holding `offset`, up to max_bytes (at least one). Throws
    // offset_out_of_range outside [log start, high watermark], unknown_topic.
    virtual PartitionRead read(const std::string& topic, std::int32_t partition,
                               std::int64_t offset, std::uint32_t max_bytes) = 0;
    // -2 earliest, -1 latest, else the first offset with a timestamp at or after (nullopt:
    // none).
    virtual std::optional<std::int64_t> offset_for(const std::string& topic, std::int32_t partition,
                                                   std::int64_t timestamp) = 0;

    virtual void create_topic(const std::string& name, std::int32_t partitions,
                              const std::vector<std::pair<std::string, std::string>>& configs,
                              bool validate_only) = 0;
    virtual void delete_topic(const std::string& name) = 0;

    virtual kbus::group::JoinGroupReply join(const kbus::group::JoinGroupRequest& request) = 0;
    virtual std::optional<std::string> sync(const kbus::group::SyncGroupRequest& request) = 0;
    virtual void heartbeat(const std::string& group, std::int32_t generation,
                           const std::string& member) = 0;
    virtual void leave(const std::string& group, const std::string& member) = 0;
    virtual void commit(
        const std::string& group, std::int32_t generation, const std::string& member,
        const std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>>& offsets) = 0;
    virtual std::optional<std::int64_t> committed(const std::string& group,
                                                  const kbus::group::TopicPartition& tp) = 0;

    // Admin: the groups, one group's members and state, a group deleted (group_not_empty while
    // it has members), and a topic's settings (name, value, whether the topic overrides it).
    virtual std::vector<kbus::group::GroupListing> list_groups() = 0;
    virtual kbus::group::GroupDescription describe_group(const std::string& group) = 0;
    virtual void delete_group(const std::string& group) = 0;
    struct Setting {
        std::string name;
        std::string value;
        bool overridden = false;
    };
    virtual std::vector<Setting> topic_settings(const std::string& topic) = 0;
};

}  // namespace kbusd
