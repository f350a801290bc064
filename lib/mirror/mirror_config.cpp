#include "mirror/mirror_config.hpp"

#include <charconv>

#include "kbus/error.hpp"
#include "kbus/names.hpp"

namespace kbus::mirror {
namespace {

std::vector<TopicRule> parse_rules(const config::Property& p) {
    std::vector<TopicRule> rules;
    std::size_t start = 0;
    while (start <= p.value.size()) {
        const std::size_t comma = p.value.find(',', start);
        std::string pattern = p.value.substr(start, comma - start);
        pattern.erase(0, pattern.find_first_not_of(" \t"));
        pattern.erase(pattern.find_last_not_of(" \t") + 1);
        if (pattern.find_first_of(" \t") != std::string::npos)
            // No topic name holds a blank, so such a pattern could never match: most likely a
            // comment after the value, which properties files do not have.
            throw Error(ErrorCode::invalid_argument,
                        p.origin + ": " + p.key + ": '" + pattern +
                            "' can match no topic (topic names have no spaces); comments go on "
                            "a line of their own in a properties file");
        if (!pattern.empty()) {
            try {
                rules.push_back({pattern, std::regex(pattern, std::regex::ECMAScript)});
            } catch (const std::regex_error& e) {
                throw Error(ErrorCode::invalid_argument, p.origin + ": " + p.key + ": '" + pattern +
                                                             "' is not a valid regex (" + e.what() +
                                                             ")");
            }
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (rules.empty())
        throw Error(ErrorCode::invalid_argument, p.origin + ": " + p.key + " names no topics");
    return rules;
}

void check_prefix(const config::Property& p) {
    // A prefix becomes part of a topic name: it must keep names valid on both sides.
    if (p.value.empty()) return;
    if (const std::string why = check_topic_name(p.value + "x"); !why.empty())
        throw Error(ErrorCode::invalid_argument,
                    p.origin + ": " + p.key + ": '" + p.value + "': " + why);
}

int parse_replication_factor(const config::Property& p) {
    int v = 0;
    const char* end = p.value.data() + p.value.size();
    const auto [ptr, ec] = std::from_chars(p.value.data(), end, v);
    if (ec != std::errc() || ptr != end || v == 0 || v < -1 || v > 32767)
        throw Error(ErrorCode::invalid_argument,
                    p.origin + ": " + p.key + ": '" + p.value +
                        "' is not a replication factor (-1 for the cluster's default, or 1 to "
                        "32767)");
    return v;
}

}  // namespace

MirrorConfig make_mirror_config(const std::vector<config::Property>& properties) {
    MirrorConfig c;
    for (const config::Property& p : properties) {
        if (p.key == "bootstrap.servers") {
            c.bootstrap_servers = p.value;
            c.kafka.emplace_back(p.key, p.value);
        } else if (p.key == "out.topics") {
            c.out_rules = parse_rules(p);
        } else if (p.key == "in.topics") {
            c.in_rules = parse_rules(p);
        } else if (p.key == "out.topic.prefix") {
            check_prefix(p);
            c.out_prefix = p.value;
        } else if (p.key == "in.topic.prefix") {
            check_prefix(p);
            c.in_prefix = p.value;
        } else if (p.key == "out.topic.replication.factor") {
            c.out_replication_factor = parse_replication_factor(p);
        } else if (p.key == "group.id") {
            if (const std::string why = check_group_name(p.value); !why.empty())
                throw Error(ErrorCode::invalid_argument, p.origin + ": group.id: " + why);
            c.group_id = p.value;
        } else if (p.key == "kbus.bus") {
            c.bus = p.value;
        } else if (p.key == "kbus.run.dir") {
            c.run_dir = p.value;
        } else if (p.key == "mirror.id") {
            if (p.value.empty())
                throw Error(ErrorCode::invalid_argument, p.origin + ": mirror.id is empty");
            c.mirror_id = p.value;
        } else {
            c.kafka.emplace_back(p.key, p.value);  // librdkafka's to judge
        }
    }
    if (c.bootstrap_servers.empty())
        throw Error(ErrorCode::invalid_argument, "bootstrap.servers is not set: which Kafka?");
    if (c.out_rules.empty() && c.in_rules.empty())
        throw Error(ErrorCode::invalid_argument,
                    "neither out.topics nor in.topics is set: nothing to mirror");
    return c;
}

bool matches(const std::vector<TopicRule>& rules, const std::string& topic) {
    for (const TopicRule& r : rules)
        if (std::regex_match(topic, r.regex)) return true;
    return false;
}

}  // namespace kbus::mirror
