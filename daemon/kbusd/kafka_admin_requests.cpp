// The Kafka listener's topic administration: CreateTopics and DeleteTopics, as one broker
// answers them (replication factor 1, no replica assignments), over the bus's own topics.
#include <algorithm>

#include "kafka/topic_id.hpp"
#include "kafka_errors.hpp"
#include "kafka_listener.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

// The Kafka error for a topic the bus refused to create.
KafkaError create_error_of(const kbus::Error& e) {
    const std::string what = e.what();
    switch (e.code()) {
        case kbus::ErrorCode::topic_exists:
            return KafkaError::topic_already_exists;
        case kbus::ErrorCode::invalid_argument:
            return what.find("partitions") != std::string::npos ? KafkaError::invalid_partitions
                   : what.find("name") != std::string::npos     ? KafkaError::invalid_topic
                                                                : KafkaError::invalid_config;
        default:
            return kafka_error_of(e.code());
    }
}

}  // namespace

void KafkaListener::create_topics(KafkaConnection& c, const KafkaRequest& q) {
    const bool validate_only = q.body["validateOnly"].boolean();
    Value r = response_of(q);
    for (const Value& t : q.body["Topics"].items()) {
        const std::string name(t["Name"].text());
        Value& result = r["Topics"].add();
        result["Name"].set_text(name);
        result["ErrorMessage"].set_null();
        const std::int16_t replication = t["ReplicationFactor"].i16();
        std::vector<std::pair<std::string, std::string>> configs;
        bool null_config = false;
        for (const Value& kv : t["Configs"].items()) {
            if (kv["Value"].is_null()) null_config = true;
            configs.emplace_back(kv["Name"].text(), kv["Value"].text());
        }
        if (replication != -1 && replication != 1) {
            set_error(result, KafkaError::invalid_replication_factor,
                      "one broker: replication.factor must be 1");
        } else if (!t["Assignments"].items().empty()) {
            set_error(result, KafkaError::invalid_replica_assignment,
                      "replica assignments are not supported");
        } else if (null_config) {
            set_error(result, KafkaError::invalid_config, "a config without a value");
        } else {
            try {
                backend_.create_topic(name, t["NumPartitions"].i32(), configs, validate_only);
                result["TopicId"].set_uuid(topic_id_of(name));
                const auto created = backend_.topics(std::vector<std::string>{name}, false);
                if (!created.empty() && created.front().second)
                    result["NumPartitions"].set(*created.front().second);
                else
                    result["NumPartitions"].set(t["NumPartitions"].i32());
                result["ReplicationFactor"].set(1);
                result["Configs"].set_array();
            } catch (const kbus::Error& e) {
                set_error(result, create_error_of(e), e.what());
            }
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::delete_topics(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const auto delete_one = [&](Value& result, const std::string& name) {
        result["Name"].set_text(name);
        result["TopicId"].set_uuid(topic_id_of(name));
        try {
            backend_.delete_topic(name);
        } catch (const kbus::Error& e) {
            set_error(result, kafka_error_of(e.code()), e.what());
        }
    };
    if (q.version() < 6) {
        for (const Value& name : q.body["TopicNames"].items())
            delete_one(r["Responses"].add(), std::string(name.text()));
    } else {
        for (const Value& t : q.body["Topics"].items()) {
            Value& result = r["Responses"].add();
            if (!t["Name"].is_null()) {
                delete_one(result, std::string(t["Name"].text()));
            } else if (const auto name = topic_named_by(t["TopicId"].uuid())) {
                delete_one(result, *name);
            } else {
                result["TopicId"].set_uuid(t["TopicId"].uuid());
                set_error(result, KafkaError::unknown_topic_id);
            }
        }
    }
    respond_with(c, q, r);
}

namespace {

// DescribeConfigs' resource types and config sources (org.apache.kafka.common.config).
constexpr std::int8_t topic_resource = 2;
constexpr std::int8_t broker_resource = 4;
constexpr std::int8_t source_topic_config = 1;
constexpr std::int8_t source_default_config = 5;

}  // namespace

// Topic configs, as kafka-configs.sh --describe and the admin clients ask for them: every
// setting kbus keeps for the topic, its value, and whether the topic overrides the default.
void KafkaListener::describe_configs(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& resource : q.body["Resources"].items()) {
        Value& out = r["Results"].add();
        const std::int8_t type = std::int8_t(resource["ResourceType"].integer());
        const std::string name(resource["ResourceName"].text());
        out["ResourceType"].set(type);
        out["ResourceName"].set_text(name);
        out["ErrorMessage"].set_null();
        if (type == broker_resource) continue;  // no broker-level configs are reported
        if (type != topic_resource) {
            set_error(out, KafkaError::invalid_request, "only topic configs are described");
            continue;
        }
        const Value& keys = resource["ConfigurationKeys"];
        try {
            for (const KafkaBackend::Setting& s : backend_.topic_settings(name)) {
                const bool wanted = keys.is_null() || keys.items().empty() ||
                                    std::any_of(keys.items().begin(), keys.items().end(),
                                                [&](const Value& k) { return k.text() == s.name; });
                if (!wanted) continue;
                Value& config = out["Configs"].add();
                config["Name"].set_text(s.name);
                config["Value"].set_text(s.value);
                config["IsDefault"].set(!s.overridden);
                config["ConfigSource"].set(s.overridden ? source_topic_config
                                                        : source_default_config);
                config["Documentation"].set_null();
            }
        } catch (const kbus::Error& e) {
            set_error(out, kafka_error_of(e.code()), e.what());
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::describe_cluster(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    r["ClusterId"].set_text(options_.cluster_id);
    r["ControllerId"].set(0);
    Value& broker = r["Brokers"].add();
    broker["Host"].set_text(options_.advertised_host);
    broker["Port"].set(options_.advertised_port);
    respond_with(c, q, r);
}

}  // namespace kbusd
