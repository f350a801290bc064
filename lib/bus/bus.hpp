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
    [[nodiscard]] config::TopicConfig check_new_locked(const protocol::TopicMetadata& m) const;
    void check_limits(const protocol::TopicMetadata& m, const config::TopicConfig& tc) const;
    [[nodiscard]] TopicPtr build(protocol::TopicMetadata m, const config::TopicConfig& tc,
                                 bool verify) const;
    void remove_files(const protocol::TopicMetadata& m) const;
    void save() const;
    [[nodiscard]] spill::SpillOptions spill_options() const;
    static groups::SlotHost slot_host(const std::shared_ptr<Partition>& p);

    std::string data_dir_;
    config::BrokerConfig broker_;
    RingStore rings_;
    logging::LogSink sink_;
    std::function<void(const std::string&)> on_topic_deleted_;

    mutable std::mutex mutex_;  // the registry: topics_, creating_, next_topic_id_
    std::map<std::string, TopicPtr> topics_;
    std::map<std::string, protocol::TopicMetadata> creating_;  // reserved while being built
    std::uint64_t next_topic_id_ = 1;
    mutable std::mutex save_mutex_;  // one topic-list write at a time, newest state last
};

}  // namespace kbus::bus
