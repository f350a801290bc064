// The Kafka listener's topic changes: AlterConfigs (the overrides replaced whole),
// IncrementalAlterConfigs (SET and DELETE of single settings, APPEND and SUBTRACT of the items of
// cleanup.policy) and CreatePartitions, as one broker
// answers them, over the bus's own topic configs (the settings `kbus topic alter` changes).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

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

// The items of a list setting's value ("compact, delete"), trimmed, empty ones left out.
std::vector<std::string> list_items(std::string_view value) {
    std::vector<std::string> items;
    while (!value.empty()) {
        const std::size_t comma = std::min(value.find(','), value.size());
        std::string_view item = value.substr(0, comma);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
        value.remove_prefix(std::min(comma + 1, value.size()));
    }
    return items;
}

// APPEND and SUBTRACT on a list setting (of kbus's topic settings, cleanup.policy is the one):
// the items of `given` added where missing, or taken out, in the current value's order.
std::string list_operation(ConfigOp op, const std::string& name, std::string_view current,
                           std::string_view given) {
    if (name != "cleanup.policy")
        throw kbus::Error(kbus::ErrorCode::invalid_argument,
                          name + " is not a list: APPEND and SUBTRACT do not apply");
    std::vector<std::string> items = list_items(current);
    for (const std::string& item : list_items(given)) {
        const auto at = std::find(items.begin(), items.end(), item);
        if (op == ConfigOp::append && at == items.end()) items.push_back(item);
        if (op == ConfigOp::subtract && at != items.end()) items.erase(at);
    }
    std::string joined;
    for (const std::string& item : items)
        joined += (joined.empty() ? "" : ",") + item;
    return joined;
}

// A setting's value as the resource's earlier operations left it: its override, else its default.
std::string current_value(const Settings& overrides, const std::vector<KafkaBackend::Setting>& now,
                          const std::string& name) {
    for (const auto& [n, v] : overrides)
        if (n == name) return v;
    for (const KafkaBackend::Setting& s : now)
        if (s.name == name) return s.value;
    return {};
}

// The topic's overrides after one IncrementalAlterConfigs resource; throws invalid_argument for
// an operation a setting cannot take (APPEND and SUBTRACT on a setting that is not a list).
Settings incremental_overrides(const std::vector<KafkaBackend::Setting>& now, const Value& ops) {
    Settings out;
    for (const KafkaBackend::Setting& s : now)
        if (s.overridden) out.emplace_back(s.name, s.value);
    for (const Value& op : ops.items()) {
        const std::string name(op["Name"].text());
        const std::string current = current_value(out, now, name);
        std::erase_if(out, [&](const auto& kv) { return kv.first == name; });
        switch (const auto kind = ConfigOp(op["ConfigOperation"].integer())) {
            case ConfigOp::set:
                out.emplace_back(name, op["Value"].text());
                break;
            case ConfigOp::remove:
                break;  // back to the default
            case ConfigOp::append:
            case ConfigOp::subtract:
                out.emplace_back(name, list_operation(kind, name, current, op["Value"].text()));
                break;
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
