// The durable list of topics: <data dir>/__kbus_topics, one line per topic
// (`<name> id=<id> partitions=<n> <key>=<value>...`), replaced atomically (temp file, fsync,
// rename) on every create, alter and delete, so a crash at any instant leaves the old list or the
// new one. Names and values never hold spaces (both are validated before they get here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/topic_config.hpp"

namespace kbus::topics {

struct StoredTopic {
    std::string name;
    std::uint64_t id = 0;
    std::int32_t partitions = 0;
    config::Settings settings;  // as given at create time, then changed by alter
};

struct TopicList {
    std::uint64_t next_id = 1;
    std::vector<StoredTopic> topics;
};

[[nodiscard]] std::string topic_store_path(const std::string& data_dir);

void save_topics(const std::string& data_dir, const TopicList& list);
// An absent file is an empty list; a malformed line throws Error(invalid_argument) naming it.
[[nodiscard]] TopicList load_topics(const std::string& data_dir);

// "<data dir>/<topic>-<partition>", Kafka's partition directory.
[[nodiscard]] std::string partition_dir(const std::string& data_dir, const std::string& topic,
                                        std::int32_t partition);

}  // namespace kbus::topics
