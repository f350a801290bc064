// What the Kafka listener asks of the bus, in the bus's own terms (topics, partition logs and
// rings, the group coordinator). kbusd implements it over its topics, under the same lock its
// control socket and spill take, so every call is safe from the listener's thread. Failures
// are kbus::Error (the listener turns them into Kafka error codes).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka/batch_appender.hpp"
#include "kbus/group_messages.hpp"
#include "log/partition_log.hpp"

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
    std::int64_t last_stable_offset = 0;
    // read_committed: the aborted transactions from the offset on (producer id, first offset).
    std::vector<std::pair<std::int64_t, std::int64_t>> aborted;
    std::optional<FileExtent> extent;  // nullopt: nothing on disk at the offset (yet)
};

// owned: an exclusive local producer owns the partition (ProducerOptions::exclusive).
enum class ProduceStatus { appended, full, too_large, unknown_partition, owned };
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
    // Whether the topic is compacted: records without a key are refused (INVALID_RECORD).
    virtual bool keys_required(const std::string& topic) = 0;
    virtual ProduceOutcome produce(const std::string& topic, std::int32_t partition,
                                   const kbus::kafka::BatchDecoder& batch) = 0;
    // Whole batches from the one holding `offset`, up to max_bytes (at least one); with
    // read_committed, only below the last stable offset, and the aborted transactions named.
    // Throws offset_out_of_range outside [log start, high watermark], unknown_topic.
    virtual PartitionRead read(const std::string& topic, std::int32_t partition,
                               std::int64_t offset, std::uint32_t max_bytes,
                               bool read_committed = false) = 0;
    // -2 earliest, -1 latest, else the first offset with a timestamp at or after (nullopt:
    // none).
    virtual std::optional<std::int64_t> offset_for(const std::string& topic, std::int32_t partition,
                                                   std::int64_t timestamp) = 0;
    // The newest timestamp of the partition's records and the first offset with it (-3, KIP-734).
    virtual std::optional<kbus::log::TimestampAndOffset> max_timestamp(const std::string& topic,
                                                                       std::int32_t partition) = 0;
    // DeleteRecords: the log start moves to `offset` (-1: the high watermark); returns the new
    // log start. Throws offset_out_of_range past the high watermark.
    virtual std::int64_t delete_records(const std::string& topic, std::int32_t partition,
                                        std::int64_t offset) = 0;
    // Bytes the partition's log holds on disk.
    virtual std::uint64_t log_bytes(const std::string& topic, std::int32_t partition) = 0;
    struct LogDir {
        std::string path;
        std::int64_t total_bytes = -1;
        std::int64_t usable_bytes = -1;
    };
    virtual LogDir log_dir() = 0;

    virtual void create_topic(const std::string& name, std::int32_t partitions,
                              const std::vector<std::pair<std::string, std::string>>& configs,
                              bool validate_only) = 0;
    virtual void delete_topic(const std::string& name) = 0;
    // The topic's overrides become exactly `overrides` (AlterConfigs; IncrementalAlterConfigs
    // computes them from topic_settings).
    virtual void replace_topic_config(
        const std::string& name, const std::vector<std::pair<std::string, std::string>>& overrides,
        bool validate_only) = 0;
    // CreatePartitions: the topic grows to `count`.
    virtual void add_partitions(const std::string& name, std::int32_t count,
                                bool validate_only) = 0;

    virtual kbus::group::JoinGroupReply join(const kbus::group::JoinGroupRequest& request) = 0;
    virtual std::optional<std::string> sync(const kbus::group::SyncGroupRequest& request) = 0;
    virtual void heartbeat(const std::string& group, std::int32_t generation,
                           const std::string& member) = 0;
    virtual void leave(const std::string& group, const std::string& member) = 0;
    virtual void commit(
        const std::string& group, std::int32_t generation, const std::string& member,
        const std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>>& offsets,
        const std::map<kbus::group::TopicPartition, std::string>& metadata) = 0;
    // The metadata committed with the partition's offset ("" if none).
    virtual std::string commit_metadata(const std::string& group,
                                        const kbus::group::TopicPartition& tp) = 0;
    virtual std::optional<std::int64_t> committed(const std::string& group,
                                                  const kbus::group::TopicPartition& tp) = 0;

    // Admin: the groups, one group's members and state, a group deleted (group_not_empty while
    // it has members), and a topic's settings (name, value, whether the topic overrides it).
    virtual std::vector<kbus::group::GroupListing> list_groups() = 0;
    virtual kbus::group::GroupDescription describe_group(const std::string& group) = 0;
    virtual void delete_group(const std::string& group) = 0;
    // OffsetDelete: returns the partitions refused because a member reads their topic;
    // invalid_group for an unknown group.
    virtual std::vector<kbus::group::TopicPartition> delete_offsets(
        const std::string& group, const std::vector<kbus::group::TopicPartition>& partitions) = 0;
    struct Setting {
        std::string name;
        std::string value;
        bool overridden = false;
    };
    virtual std::vector<Setting> topic_settings(const std::string& topic) = 0;

    // A new idempotent producer id, from the bus's one space (local producers share it).
    virtual std::int64_t new_producer_id() = 0;
    // Where an idempotent producer's batch went before this kbusd started, when a client retries
    // it across the restart (its first answer lost); nullopt when it was not written then, or
    // when the producer id is this run's. Error(timed_out) while the last run's records are not
    // all on disk yet (a retriable answer: the client tries again).
    virtual std::optional<std::int64_t> offset_before_start(
        const std::string& topic, std::int32_t partition,
        const kbus::kafka::ProducerStamp& stamp) = 0;

    // Transactions, Kafka's coordinator requests (kbusd's one coordinator, with local producers').
    // Failures are kbus::Error: producer_fenced for an old epoch, invalid_txn_state for a request
    // out of turn, concurrent_transactions while the last transaction's markers are still going
    // out, invalid_argument for a bad timeout.
    struct ProducerGrant {
        std::int64_t id = -1;
        std::int16_t epoch = -1;
    };
    // InitProducerId with a transactional id: its producer id at the next epoch, fencing the
    // instance before, whose open transaction is aborted.
    static constexpr std::int64_t max_transaction_timeout_ms = 900'000;  // Kafka's default max
    static constexpr std::int64_t default_transaction_timeout_ms = 60'000;
    virtual ProducerGrant init_transactional(const std::string& transactional_id,
                                             std::int64_t timeout_ms) = 0;
    // AddPartitionsToTxn, one partition; unknown_topic and partition_out_of_range as produce.
    virtual void add_to_transaction(std::int64_t producer_id, std::int16_t epoch,
                                    const std::string& topic, std::int32_t partition) = 0;
    // AddOffsetsToTxn: the transaction opens for the group offsets that follow.
    virtual void open_transaction(std::int64_t producer_id, std::int16_t epoch) = 0;
    // TxnOffsetCommit: offsets committed when the transaction commits.
    virtual void add_transaction_offsets(kbus::group::TxnOffsetCommitRequest r) = 0;
    // EndTxn: the markers written before it returns.
    virtual void end_transaction(std::int64_t producer_id, std::int16_t epoch, bool commit) = 0;
};

}  // namespace kbusd
