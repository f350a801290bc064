// The Kafka listener's view of the bus (kafka_backend.hpp) over kbusd's parts: topics and
// partitions from the bus, groups from the group service (the same groups and committed offsets
// kbus clients have). Safe from the listener's thread: every part locks itself.
#pragma once

#include "bus/bus.hpp"
#include "bus/producer_ids.hpp"
#include "bus/transaction_coordinator.hpp"
#include "groups/group_service.hpp"
#include "kafka_backend.hpp"
#include "kbus/control_descriptor.hpp"

namespace kbusd {

class KafkaBusBackend final : public KafkaBackend {
  public:
    KafkaBusBackend(kbus::bus::Bus& bus, kbus::groups::GroupService& groups,
                    kbus::control::Doorbell& doorbell, kbus::bus::ProducerIdRegistry& producer_ids,
                    kbus::bus::TransactionCoordinator& transactions, bool auto_create_topics,
                    std::int32_t num_partitions)
        : bus_(bus),
          groups_(groups),
          doorbell_(doorbell),
          producer_ids_(producer_ids),
          transactions_(transactions),
          auto_create_topics_(auto_create_topics),
          num_partitions_(num_partitions) {}

    std::vector<std::pair<std::string, std::optional<std::int32_t>>> topics(
        const std::optional<std::vector<std::string>>& names, bool auto_create) override;
    std::uint32_t max_record_bytes(const std::string& topic) override;
    bool keys_required(const std::string& topic) override;
    ProduceOutcome produce(const std::string& topic, std::int32_t partition,
                           const kbus::kafka::BatchDecoder& batch) override;
    PartitionRead read(const std::string& topic, std::int32_t partition, std::int64_t offset,
                       std::uint32_t max_bytes, bool read_committed = false) override;
    std::optional<std::int64_t> offset_for(const std::string& topic, std::int32_t partition,
                                           std::int64_t timestamp) override;
    void create_topic(const std::string& name, std::int32_t partitions,
                      const std::vector<std::pair<std::string, std::string>>& configs,
                      bool validate_only) override;
    void delete_topic(const std::string& name) override;
    void replace_topic_config(const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& overrides,
                              bool validate_only) override;
    void add_partitions(const std::string& name, std::int32_t count, bool validate_only) override;
    std::optional<kbus::log::TimestampAndOffset> max_timestamp(const std::string& topic,
                                                               std::int32_t partition) override;
    std::int64_t delete_records(const std::string& topic, std::int32_t partition,
                                std::int64_t offset) override;
    std::uint64_t log_bytes(const std::string& topic, std::int32_t partition) override;
    LogDir log_dir() override;

    kbus::group::JoinGroupReply join(const kbus::group::JoinGroupRequest& request) override;
    std::optional<std::string> sync(const kbus::group::SyncGroupRequest& request) override;
    void heartbeat(const std::string& group, std::int32_t generation,
                   const std::string& member) override;
    void leave(const std::string& group, const std::string& member) override;
    void commit(const std::string& group, std::int32_t generation, const std::string& member,
                const kbus::group::OffsetList& offsets,
                const std::map<kbus::group::TopicPartition, std::string>& metadata) override;
    std::string commit_metadata(const std::string& group,
                                const kbus::group::TopicPartition& tp) override;
    std::optional<std::int64_t> committed(const std::string& group,
                                          const kbus::group::TopicPartition& tp) override;
    std::vector<kbus::group::GroupListing> list_groups() override;
    kbus::group::GroupDescription describe_group(const std::string& group) override;
    void delete_group(const std::string& group) override;
    std::vector<kbus::group::TopicPartition> delete_offsets(
        const std::string& group,
        const std::vector<kbus::group::TopicPartition>& partitions) override;
    std::vector<Setting> topic_settings(const std::string& topic) override;
    std::int64_t new_producer_id() override { return producer_ids_.grant_new().producer_id; }
    std::optional<std::int64_t> offset_before_start(
        const std::string& topic, std::int32_t partition,
        const kbus::kafka::ProducerStamp& stamp) override;
    ProducerGrant init_transactional(const std::string& transactional_id,
                                     std::int64_t timeout_ms) override;
    void add_to_transaction(std::int64_t producer_id, std::int16_t epoch, const std::string& topic,
                            std::int32_t partition) override;
    void open_transaction(std::int64_t producer_id, std::int16_t epoch) override;
    void add_transaction_offsets(kbus::group::TxnOffsetCommitRequest r) override;
    void end_transaction(std::int64_t producer_id, std::int16_t epoch, bool commit) override;

  private:
    [[nodiscard]] static std::pair<kbus::log::PartitionLog::Extent, int> open_extent(
        const kbus::log::PartitionLog& log, std::int64_t offset, std::uint32_t max_bytes,
        std::int64_t below);

    kbus::bus::Bus& bus_;
    kbus::groups::GroupService& groups_;
    kbus::control::Doorbell& doorbell_;
    static void check_transaction_timeout(std::int64_t timeout_ms);
    [[nodiscard]] std::int64_t timeout_of(std::int64_t producer_id) const;

    kbus::bus::ProducerIdRegistry& producer_ids_;
    kbus::bus::TransactionCoordinator& transactions_;
    // transaction.timeout.ms of each transactional producer, as its InitProducerId gave it (the
    // listener's thread alone uses this backend's transaction calls).
    std::map<std::int64_t, std::int64_t> timeouts_;
    bool auto_create_topics_;
    std::int32_t num_partitions_;
};

}  // namespace kbusd
