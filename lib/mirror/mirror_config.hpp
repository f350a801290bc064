// `kbus mirror`'s configuration: a Kafka-style properties file (--config) with --override on
// top, as MirrorMaker reads one. Its own keys choose what flows where; every other key goes to
// librdkafka unchanged (security, compression, batching), where a bad one is refused by name.
//
//   bootstrap.servers   the Kafka cluster (required)
//   out.topics          comma-separated regexes of local topics to copy to Kafka
//   in.topics           comma-separated regexes of Kafka topics to copy into the bus
//   out.topic.prefix    prepended to a local topic's name in Kafka (default none)
//   in.topic.prefix     prepended to a Kafka topic's name on the bus (default none)
//   out.topic.replication.factor   for topics the mirror creates in Kafka (default -1: the
//                       cluster's default.replication.factor, which needs Kafka 2.4 or later)
//   group.id            the local group (out) and the Kafka group (in); default kbus-mirror
//   kbus.bus, kbus.run.dir   the local bus (default: the kbus CLI's)
//   mirror.id           names this side in the loop-breaking header (default: host/bus)
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "config/properties.hpp"

namespace kbus::mirror {

struct TopicRule {
    std::string pattern;  // as written, for messages and status
    std::regex regex;     // matched against the whole topic name
};

struct MirrorConfig {
    std::string bootstrap_servers;
    std::vector<TopicRule> out_rules;
    std::vector<TopicRule> in_rules;
    std::string out_prefix;
    std::string in_prefix;
    int out_replication_factor = -1;
    std::string group_id = "kbus-mirror";
    std::optional<std::string> bus;
    std::optional<std::string> run_dir;
    std::optional<std::string> mirror_id;
    std::vector<std::pair<std::string, std::string>> kafka;  // passed to librdkafka
};

// Applies properties in order (the last value of a key wins). Throws Error(invalid_argument)
// naming the key, its origin and, for a rule, the pattern that does not compile.
[[nodiscard]] MirrorConfig make_mirror_config(const std::vector<config::Property>& properties);

// Whether a topic name is taken by one of the rules.
[[nodiscard]] bool matches(const std::vector<TopicRule>& rules, const std::string& topic);

}  // namespace kbus::mirror
