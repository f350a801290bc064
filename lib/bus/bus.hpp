// The bus's topics: the registry of topics and their partitions, and their lifecycle (create,
// alter, delete, restore at start), kept durable in <data dir>/__kbus_topics (topic_store.hpp).
//
// Thread-safe. The registry lock guards the topic map only and is held briefly: building a
// topic's partitions (rings, log directories) and writing the topic list happen outside it, so
// that a create or a slow disk never stalls a lookup. Callers get std::shared_ptr's to topics and
// partitions, valid after a delete until they let go.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bus/partition.hpp"
#include "bus/ring_store.hpp"
#include "config/broker_config.hpp"
#include "groups/commit_slots.hpp"
#include "groups/group_coordinator.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/control_messages.hpp"
#include "logging/log_sink.hpp"

namespace kbus::bus {

struct Topic {
    protocol::TopicMetadata meta;  // fixed at creation but for config and hold_timeout_ms
    config::TopicConfig config;
    std::vector<std::shared_ptr<Partition>> partitions;
};

class Bus final : public groups::SlotHosts {
  public:
    Bus(std::string data_dir, config::BrokerConfig broker, RingStore rings, logging::LogSink sink);
    // The control segment whose fence table the spills consult (before restore()).
    void use_fences(const control::ControlSegment* fences) noexcept { fences_ = fences; }

    // Topics from the topic list, each partition's log recovered (`verify`: every CRC checked)
    // and its ring adopted where one is left in shared memory.
    void restore(bool verify);
    // Called with a topic's name after it is deleted (its group offsets go with it).
    void on_topic_deleted(std::function<void(const std::string&)> f) {
        on_topic_deleted_ = std::move(f);
    }

    // What creating a topic would refuse (its name, partition count, config, a limit); Error
    // naming the reason. Nothing is created.
    void check_new(const protocol::CreateTopicRequest& request) const;
    // Creates a topic. Refused whole with an Error naming the
    // reason; nothing of a refused topic is left behind.
    protocol::TopicMetadata create(protocol::CreateTopicRequest request);
    void remove(const std::string& name);
    void alter(const std::string& name, const std::vector<protocol::Setting>& changes);
    // Kafka's AlterConfigs: the topic's overrides become `overrides` exactly (what is left out
    // goes back to its default). Settings fixed at creation must keep their value.
    void replace_config(const std::string& name, const std::vector<protocol::Setting>& overrides,
                        bool validate_only);
    // Kafka's CreatePartitions: the topic grows to `count` partitions (it never shrinks). The new
    // ones are built, then published with the count at once; clients see them at their next
    // metadata, as Kafka clients do at their next refresh. Error(invalid_argument) for a count
    // that does not grow, resource_exhausted past a limit. Returns the new metadata.
    protocol::TopicMetadata add_partitions(const std::string& name, std::int32_t count,
                                           bool validate_only);

    // Kafka's DeleteRecords on one partition: its log start moves to `offset` (-1: the high
    // watermark). Records the spill has not written yet are asked for first, waking it with
    // `wake_spill`, and waited for up to a second (else Error(timed_out)).
    // Error(offset_out_of_range) past the high watermark. Returns the new log start.
    std::int64_t delete_records(const std::string& topic, std::int32_t partition,
                                std::int64_t offset, const std::function<void()>& wake_spill);
    // Until the partition's log holds every offset below `offset` (the spill asked to write
    // now, woken with `wake_spill`); false after a second without it, or at once when the
    // spill is off (kbus.spill.enable=false).
    bool wait_for_log(Partition& p, std::int64_t offset,
                      const std::function<void()>& wake_spill) const;
    [[nodiscard]] const std::string& data_dir() const noexcept { return data_dir_; }

    [[nodiscard]] std::vector<std::string> names() const;
    // The topic's metadata; with `auto_create`, a topic named before it exists is created when
    // auto.create.topics.enable says so. Throws Error(unknown_topic).
    [[nodiscard]] protocol::TopicMetadata metadata(const std::string& name, bool auto_create);
    [[nodiscard]] config::TopicConfig config_of(const std::string& name) const;
    [[nodiscard]] protocol::TopicDescription describe(const std::string& name) const;
    // Throws Error(unknown_topic, partition_out_of_range).
    [[nodiscard]] std::shared_ptr<Partition> partition(const std::string& topic,
                                                       std::int32_t p) const;
    [[nodiscard]] std::shared_ptr<Partition> partition(std::uint64_t topic_id,
                                                       std::int32_t p) const;
    // A producer's first use of a partition (ReserveRingRequest, a Kafka produce): its ring's
    // memory is allocated, within kbus.max.shared.memory.bytes and what /dev/shm has free, else
    // Error(resource_exhausted) naming the limit. Idempotent.
    void reserve_ring(Partition& p);
    // Shared memory the rings hold now: a header each, and the whole of each reserved ring.
    [[nodiscard]] std::uint64_t ring_memory_in_use() const;
    // Every partition of every topic, for the spill worker and the stats.
    [[nodiscard]] std::vector<std::shared_ptr<Partition>> partitions() const;
    [[nodiscard]] std::optional<groups::PartitionBounds> bounds(
        const group::TopicPartition& tp) const;

    // groups::SlotHosts: every partition's commit slots.
    void for_each(const std::function<void(groups::SlotHost&)>& visit) override;
    [[nodiscard]] std::optional<groups::SlotHost> find(const group::TopicPartition& tp) override;

  private:
    using TopicPtr = std::shared_ptr<Topic>;
    [[nodiscard]] TopicPtr topic_named(const std::string& name) const;  // under mutex_
    [[nodiscard]] std::uint64_t ring_memory_in_use_locked() const;
    [[nodiscard]] config::TopicConfig check_new_locked(const protocol::TopicMetadata& m) const;
    void check_limits(const std::string& what, std::int32_t extra, const config::TopicConfig& tc,
                      bool new_topic) const;
    static void check_file_descriptors(const std::string& what, std::int32_t extra);
    [[nodiscard]] std::vector<std::shared_ptr<Partition>> build_partitions(
        const protocol::TopicMetadata& m, const config::TopicConfig& tc, std::int32_t from,
        std::int32_t to, bool verify) const;
    [[nodiscard]] TopicPtr build(protocol::TopicMetadata m, const config::TopicConfig& tc,
                                 bool verify) const;
    void remove_files(const protocol::TopicMetadata& m) const;
    void publish_partitions(const std::string& name, std::uint64_t topic_id,
                            const std::vector<std::shared_ptr<Partition>>& added);
    void unpublish_partitions(const std::string& name, const protocol::TopicMetadata& before,
                              std::int32_t count);
    void save() const;
    [[nodiscard]] spill::SpillOptions spill_options() const;
    static groups::SlotHost slot_host(const std::shared_ptr<Partition>& p);

    std::string data_dir_;
    config::BrokerConfig broker_;
    RingStore rings_;
    logging::LogSink sink_;
    const control::ControlSegment* fences_ = nullptr;
    std::function<void(const std::string&)> on_topic_deleted_;

    mutable std::mutex mutex_;  // the registry: topics_, creating_, next_topic_id_
    std::map<std::string, TopicPtr> topics_;
    std::map<std::string, protocol::TopicMetadata> creating_;  // reserved while being built
    std::uint64_t next_topic_id_ = 1;
    std::mutex grow_mutex_;          // one add_partitions at a time: its count check holds
    mutable std::mutex save_mutex_;  // one topic-list write at a time, newest state last
    std::mutex reserve_mutex_;       // one ring reservation at a time: its budget check holds
};

}  // namespace kbus::bus
