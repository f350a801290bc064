// The Kafka listener's topic changes: AlterConfigs (the overrides replaced whole),
// IncrementalAlterConfigs (SET and DELETE of single settings) and CreatePartitions, as one broker
// answers them, over the bus's own topic configs (the settings `kbus topic alter` changes).
#include <algorithm>

#include "kafka_errors.hpp"
#include "kafka_listener.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

constexpr std::int8_t topic_resource = 2;
constexpr std::int8_t broker_resource = 4;

// IncrementalAlterConfigs' operations (org.apache.kafka.clients.admin.AlterConfigOp).
enum class ConfigOp : std::int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

using Settings = std::vector<std::pair<std::string, std::string>>;

KafkaError alter_error_of(const kbus::Error& e) {
    return e.code() == kbus::ErrorCode::invalid_argument ? KafkaError::invalid_config
                                                         : kafka_error_of(e.code());
}

// What Kafka refuses before looking at the values: a null value and a key named twice
// (INVALID_REQUEST). Empty when the configs are fine.
std::string malformed(const Value& configs, bool incremental) {
    std::vector<std::string_view> seen;
    for (const Value& kv : configs.items()) {
        const std::string_view name = kv["Name"].text();
        const bool deletes =
            incremental && ConfigOp(kv["ConfigOperation"].integer()) == ConfigOp::remove;
        if (kv["Value"].is_null() && !deletes)
            return "Null value not supported for : " + std::string(name);
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            return "Error due to duplicate config keys: " + std::string(name);
        seen.push_back(name);
    }
    return {};
}

// The topic's overrides after one IncrementalAlterConfigs resource; throws invalid_argument for
// an operation kbus's settings cannot take (none of them is a list: APPEND and SUBTRACT).
Settings incremental_overrides(const std::vector<KafkaBackend::Setting>& now, const Value& ops) {
    Settings out;
    for (const KafkaBackend::Setting& s : now)
        if (s.overridden) out.emplace_back(s.name, s.value);
    for (const Value& op : ops.items()) {
        const std::string name(op["Name"].text());
        std::erase_if(out, [&](const auto& kv) { return kv.first == name; });
        switch (ConfigOp(op["ConfigOperation"].integer())) {
            case ConfigOp::set:
                out.emplace_back(name, op["Value"].text());
                break;
            case ConfigOp::remove:
                break;  // back to the default
            case ConfigOp::append:
            case ConfigOp::subtract:
                throw kbus::Error(kbus::ErrorCode::invalid_argument,
                                  name + " is not a list: APPEND and SUBTRACT do not apply");
            default:
                throw kbus::Error(
                    kbus::ErrorCode::invalid_argument,
                    "unknown config operation " + std::to_string(op["ConfigOperation"].integer()));
        }
    }
    return out;
}

}  // namespace

// One resource of either AlterConfigs: `overrides_of` gives the topic's new overrides.
template <typename OverridesOf>
void KafkaListener::alter_resource(const Value& resource, Value& out, bool validate_only,
                                   bool incremental, OverridesOf overrides_of) {
    const std::int8_t type = std::int8_t(resource["ResourceType"].integer());
    const std::string name(resource["ResourceName"].text());
    out["ResourceType"].set(type);
    out["ResourceName"].set_text(name);
    out["ErrorMessage"].set_null();
    if (type != topic_resource) {
        set_error(out, KafkaError::invalid_request,
                  type == broker_resource ? "broker configs are kbusd's server.properties"
                                          : "only topic configs can be altered");
        return;
    }
    if (const std::string why = malformed(resource["Configs"], incremental); !why.empty()) {
        set_error(out, KafkaError::invalid_request, why);
        return;
    }
    try {
        backend_.replace_topic_config(name, overrides_of(name), validate_only);
    } catch (const kbus::Error& e) {
        set_error(out, alter_error_of(e), e.what());
    }
}

// AlterConfigs: the resource's configs become exactly the ones given, as in Kafka (settings left
// out go back to their defaults; those fixed at creation keep their value).
void KafkaListener::alter_configs(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& resource : q.body["Resources"].items())
        alter_resource(resource, r["Responses"].add(), q.body["ValidateOnly"].boolean(), false,
                       [&](const std::string&) {
                           Settings given;
                           for (const Value& kv : resource["Configs"].items())
                               given.emplace_back(kv["Name"].text(), kv["Value"].text());
                           return given;
                       });
    respond_with(c, q, r);
}

void KafkaListener::incremental_alter_configs(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& resource : q.body["Resources"].items())
        alter_resource(resource, r["Responses"].add(), q.body["ValidateOnly"].boolean(), true,
                       [&](const std::string& topic) {
                           return incremental_overrides(backend_.topic_settings(topic),
                                                        resource["Configs"]);
                       });
    respond_with(c, q, r);
}

// CreatePartitions: a topic grows to Count partitions. Keys then hash over the new count, as in
// Kafka (murmur2 placement of new keys); replica assignments have no meaning on one broker.
void KafkaListener::create_partitions(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const auto& topics = q.body["Topics"].items();
    for (const Value& t : topics) {
        Value& result = r["Results"].add();
        const std::string name(t["Name"].text());
        result["Name"].set_text(name);
        const auto named = std::count_if(topics.begin(), topics.end(),
                                         [&](const Value& o) { return o["Name"].text() == name; });
        if (named > 1) {
            set_error(result, KafkaError::invalid_request, "Duplicate topic in request.");
            continue;
        }
        if (!t["Assignments"].is_null() && !t["Assignments"].items().empty()) {
            set_error(result, KafkaError::invalid_replica_assignment,
                      "replica assignments are not supported");
            continue;
        }
        try {
            backend_.add_partitions(name, t["Count"].i32(), q.body["ValidateOnly"].boolean());
        } catch (const kbus::Error& e) {
            set_error(result,
                      e.code() == kbus::ErrorCode::invalid_argument ? KafkaError::invalid_partitions
                                                                    : kafka_error_of(e.code()),
                      e.what());
        }
    }
    respond_with(c, q, r);
}

}  // namespace kbusd
