// kbusd's Kafka listener for the admin and idempotent-producer APIs, as requests encoded at
// Kafka's own versions (the schema tables) on a raw connection: topic configs altered whole and
// one at a time, partitions added, records deleted, committed offsets deleted, log dirs and
// leader epochs described, the newest timestamp found; an idempotent producer's retried batch
// acknowledged once with its first offset, a gap and an old epoch refused.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kafka_schema_client.hpp"

using namespace std::chrono_literals;
using kbus::kafka::ApiKey;
using kbus::kafka::KafkaError;
using kbus::kafka::Value;
using kbus::test::error_in;
using kbus::test::KafkaDaemon;
using kbus::test::produce;
using kbus::test::Produced;
using kbus::test::SchemaClient;
using kbus::test::stamped_batch;

namespace {

// The overrides `kbus topic describe` lists for a topic.
std::map<std::string, std::string> overrides_of(kbus::Client& c, const std::string& topic) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : c.describe_topic(topic).metadata.config)
        out[k] = v;
    return out;
}

Value alter_request(
    ApiKey key, const std::string& topic,
    const std::vector<std::tuple<std::string, std::optional<std::string>, int>>& kv) {
    Value q = SchemaClient::request(key);
    Value& resource = q["Resources"].add();
    resource["ResourceType"].set(2);  // topic
    resource["ResourceName"].set_text(topic);
    for (const auto& [name, value, op] : kv) {
        Value& config = resource["Configs"].add();
        config["Name"].set_text(name);
        if (value)
            config["Value"].set_text(*value);
        else
            config["Value"].set_null();
        if (key == ApiKey::incremental_alter_configs) config["ConfigOperation"].set(op);
    }
    return q;
}

}  // namespace

TEST_CASE("AlterConfigs replaces a topic's overrides, IncrementalAlterConfigs sets and deletes",
          "[kafka]") {
    KafkaDaemon k("kadmin-configs");
    kbus::Client c(k.d.options());
    c.create_topic("t", 1, {{"retention.ms", "1000"}, {"segment.bytes", "100000"}});
    SchemaClient s(k.broker);

    SECTION("AlterConfigs v0 and v2 (flexible): what is left out goes back to its default") {
        for (const std::int16_t v : {0, 2}) {
            const Value r = s.call(
                ApiKey::alter_configs, v,
                alter_request(ApiKey::alter_configs, "t", {{"retention.bytes", "5000000", 0}}));
            REQUIRE(r["Responses"].items().size() == 1);
            CHECK(error_in(r["Responses"].items()[0]) == KafkaError::none);
            CHECK(overrides_of(c, "t") ==
                  std::map<std::string, std::string>{{"retention.bytes", "5000000"}});
        }
        // A value kbus refuses: INVALID_CONFIG with the reason, and nothing changed.
        const Value bad =
            s.call(ApiKey::alter_configs, 1,
                   alter_request(ApiKey::alter_configs, "t", {{"retention.ms", "soon", 0}}));
        CHECK(error_in(bad["Responses"].items()[0]) == KafkaError::invalid_config);
        CHECK(bad["Responses"].items()[0]["ErrorMessage"].text().find("retention.ms") !=
              std::string::npos);
        CHECK(overrides_of(c, "t").count("retention.ms") == 0);
        // The ring's shape stays: ring.bytes cannot change.
        const Value fixed =
            s.call(ApiKey::alter_configs, 1,
                   alter_request(ApiKey::alter_configs, "t", {{"ring.bytes", "65536", 0}}));
        CHECK(error_in(fixed["Responses"].items()[0]) == KafkaError::invalid_config);
    }

    SECTION("IncrementalAlterConfigs v0 and v1: SET one, DELETE another, APPEND and SUBTRACT") {
        const Value r =
            s.call(ApiKey::incremental_alter_configs, 1,
                   alter_request(ApiKey::incremental_alter_configs, "t",
                                 {{"retention.ms", "2000", 0}, {"segment.bytes", {}, 1}}));
        CHECK(error_in(r["Responses"].items()[0]) == KafkaError::none);
        CHECK(overrides_of(c, "t") == std::map<std::string, std::string>{{"retention.ms", "2000"}});
        const Value append = s.call(
            ApiKey::incremental_alter_configs, 0,
            alter_request(ApiKey::incremental_alter_configs, "t", {{"retention.ms", "3000", 2}}));
        CHECK(error_in(append["Responses"].items()[0]) == KafkaError::invalid_config);
        CHECK(overrides_of(c, "t").at("retention.ms") == "2000");
        // cleanup.policy is a list: APPEND adds to its default (delete), SUBTRACT takes out.
        const auto list_op = [&](const char* value, std::int8_t op) {
            return error_in(s.call(ApiKey::incremental_alter_configs, 1,
                                   alter_request(ApiKey::incremental_alter_configs, "t",
                                                 {{"cleanup.policy", value, op}}))["Responses"]
                                .items()[0]);
        };
        CHECK(list_op("compact", 2) == KafkaError::none);
        CHECK(overrides_of(c, "t").at("cleanup.policy") == "compact,delete");
        CHECK(list_op("compact", 2) == KafkaError::none);  // there already: unchanged
        CHECK(overrides_of(c, "t").at("cleanup.policy") == "compact,delete");
        CHECK(list_op("delete", 3) == KafkaError::none);
        CHECK(overrides_of(c, "t").at("cleanup.policy") == "compact");
        CHECK(list_op("compact", 3) == KafkaError::invalid_config);  // an empty policy
        CHECK(overrides_of(c, "t").at("cleanup.policy") == "compact");
        // validateOnly changes nothing.
        Value check =
            alter_request(ApiKey::incremental_alter_configs, "t", {{"retention.ms", "4000", 0}});
        check["ValidateOnly"].set(true);
        CHECK(
            error_in(s.call(ApiKey::incremental_alter_configs, 1, check)["Responses"].items()[0]) ==
            KafkaError::none);
        CHECK(overrides_of(c, "t").at("retention.ms") == "2000");
    }

    SECTION("an unknown topic and a broker resource get their errors") {
        const Value r = s.call(
            ApiKey::incremental_alter_configs, 1,
            alter_request(ApiKey::incremental_alter_configs, "nope", {{"retention.ms", "1", 0}}));
        CHECK(error_in(r["Responses"].items()[0]) == KafkaError::unknown_topic_or_partition);
        Value broker = alter_request(ApiKey::alter_configs, "0", {{"x", "y", 0}});
        broker["Resources"].items()[0]["ResourceType"].set(4);
        CHECK(error_in(s.call(ApiKey::alter_configs, 0, broker)["Responses"].items()[0]) ==
              KafkaError::invalid_request);
    }
}

TEST_CASE("CreatePartitions grows a topic, and new keys hash over the new count", "[kafka]") {
    KafkaDaemon k("kadmin-partitions");
    kbus::Client c(k.d.options());
    c.create_topic("grow", 2);
    SchemaClient s(k.broker);
    const auto grow = [&](std::int32_t count, bool validate_only, std::int16_t version) {
        Value q = SchemaClient::request(ApiKey::create_partitions);
        Value& t = q["Topics"].add();
        t["Name"].set_text("grow");
        t["Count"].set(count);
        t["Assignments"].set_null();
        q["ValidateOnly"].set(validate_only);
        const Value r = s.call(ApiKey::create_partitions, version, q);
        REQUIRE(r["Results"].items().size() == 1);
        return error_in(r["Results"].items()[0]);
    };
    CHECK(grow(5, true, 0) == KafkaError::none);
    CHECK(c.describe_topic("grow").metadata.partitions == 2);  // validate only
    CHECK(grow(5, false, 3) == KafkaError::none);
    CHECK(c.describe_topic("grow").metadata.partitions == 5);
    CHECK(grow(3, false, 2) == KafkaError::invalid_partitions);  // never shrinks
    CHECK(grow(5, false, 1) == KafkaError::invalid_partitions);  // nor stays
    {
        Value twice = SchemaClient::request(ApiKey::create_partitions);
        for (int i = 0; i < 2; ++i) {
            Value& t = twice["Topics"].add();
            t["Name"].set_text("grow");
            t["Count"].set(9);
            t["Assignments"].set_null();
        }
        const Value r = s.call(ApiKey::create_partitions, 3, twice);
        for (const Value& result : r["Results"].items())
            CHECK(error_in(result) == KafkaError::invalid_request);
        CHECK(c.describe_topic("grow").metadata.partitions == 5);
    }
    // The new partitions take records, from kbus producers that fetch the metadata anew.
    kbus::Client fresh(k.d.options());
    kbus::Producer p(fresh);
    kbus::SendOptions to4;
    to4.partition = 4;
    CHECK(p.send("grow", "k", "on the new partition", to4).partition == 4);
    // And the growth is durable: a restart (SIGTERM, as systemctl) restores five partitions.
    k.d.stop();
    k.d.restart();
    kbus::Client after(k.d.options());
    CHECK(after.describe_topic("grow").metadata.partitions == 5);
    CHECK(after.describe_topic("grow").partitions.at(4).high_watermark == 1);
}

TEST_CASE(
    "DeleteRecords moves the log start durably, and ListOffsets -3 finds the newest timestamp",
    "[kafka]") {
    KafkaDaemon k("kadmin-records");
    kbus::Client c(k.d.options());
    c.create_topic("r", 1);
    {
        kbus::Producer p(c);
        kbus::SendOptions o;
        for (int i = 0; i < 10; ++i) {
            o.timestamp = 1'700'000'000'000 + (i == 6 ? 99'999 : i);  // offset 6 is newest
            (void)p.send("r", "k", "v" + std::to_string(i), o);
        }
    }
    SchemaClient s(k.broker);
    const auto list = [&](std::int64_t timestamp, std::int16_t version) {
        Value q = SchemaClient::request(ApiKey::list_offsets);
        q["ReplicaId"].set(-1);
        Value& t = q["Topics"].add();
        t["Name"].set_text("r");
        Value& p = t["Partitions"].add();
        p["PartitionIndex"].set(0);
        p["Timestamp"].set(timestamp);
        return s.call(ApiKey::list_offsets, version, q)["Topics"]
            .items()[0]["Partitions"]
            .items()[0];
    };
    const Value newest = list(-3, 9);
    CHECK(error_in(newest) == KafkaError::none);
    CHECK(newest["Offset"].integer() == 6);
    CHECK(newest["Timestamp"].integer() == 1'700'000'099'999);

    const auto delete_before = [&](std::int64_t offset, std::int16_t version) {
        Value q = SchemaClient::request(ApiKey::delete_records);
        Value& t = q["Topics"].add();
        t["Name"].set_text("r");
        Value& p = t["Partitions"].add();
        p["PartitionIndex"].set(0);
        p["Offset"].set(offset);
        q["TimeoutMs"].set(5000);
        return s.call(ApiKey::delete_records, version, q)["Topics"]
            .items()[0]["Partitions"]
            .items()[0];
    };
    const Value deleted = delete_before(4, 2);
    CHECK(error_in(deleted) == KafkaError::none);
    CHECK(deleted["LowWatermark"].integer() == 4);
    CHECK(list(-2, 1)["Offset"].integer() == 4);
    CHECK(error_in(delete_before(11, 0)) == KafkaError::offset_out_of_range);  // past the end
    CHECK(delete_before(2, 1)["LowWatermark"].integer() == 4);                 // never back
    // A reader below the log start is out of range; from it on, the records are there.
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign("r", 0, kbus::OffsetSpec::beginning());
    std::vector<std::int64_t> seen;
    for (int idle = 0; seen.size() < 6 && idle < 100;) {
        const auto& batch = con.poll(20ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch)
            seen.push_back(m.offset());
    }
    CHECK(seen == std::vector<std::int64_t>{4, 5, 6, 7, 8, 9});
    // Durable: after a SIGKILL the log start is still 4.
    k.d.kill_hard();
    k.d.restart();
    kbus::Client again(k.d.options());
    CHECK(again.describe_topic("r").partitions.at(0).log_start_offset == 4);
    // `kbus topic delete-records` is the same call: the control protocol's.
    CHECK(again.delete_records("r", 0, -1) == 10);
}

TEST_CASE("an idempotent producer: a retried batch is written once, a gap and an old epoch refused",
          "[kafka]") {
    KafkaDaemon k("kadmin-idempotent");
    kbus::Client c(k.d.options());
    c.create_topic("idem", 1);
    SchemaClient s(k.broker);
    Value init = SchemaClient::request(ApiKey::init_producer_id);
    init["TransactionalId"].set_null();
    init["TransactionTimeoutMs"].set(60000);
    const Value granted = s.call(ApiKey::init_producer_id, 4, init);
    REQUIRE(error_in(granted) == KafkaError::none);
    const std::int64_t pid = granted["ProducerId"].integer();
    const auto epoch = granted["ProducerEpoch"].i16();
    REQUIRE(pid >= 0);

    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 0, 3)).base_offset == 0);
    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 3, 2)).base_offset == 3);
    // The retry of either: acknowledged with the offset it got, not written again.
    const Produced again = produce(s, "idem", stamped_batch(pid, epoch, 0, 3));
    CHECK(again.error == KafkaError::none);
    CHECK(again.base_offset == 0);
    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 3, 2)).base_offset == 3);
    // A gap: sequence 7 where 5 is due.
    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 7, 1)).error ==
          KafkaError::out_of_order_sequence_number);
    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 5, 1)).base_offset == 5);
    // A producer this partition never saw may start anywhere (KIP-360: as after a restart).
    CHECK(produce(s, "idem", stamped_batch(pid + 1000, 0, 9, 1)).base_offset == 6);
    // An old epoch after a bump.
    init["ProducerId"].set(pid);
    init["ProducerEpoch"].set(epoch);
    const Value bumped = s.call(ApiKey::init_producer_id, 4, init);
    CHECK(bumped["ProducerId"].integer() == pid);
    CHECK(bumped["ProducerEpoch"].integer() == epoch + 1);
    CHECK(produce(s, "idem", stamped_batch(pid, std::int16_t(epoch + 1), 0, 1)).base_offset == 7);
    CHECK(produce(s, "idem", stamped_batch(pid, epoch, 6, 1)).error ==
          KafkaError::invalid_producer_epoch);
    // Eight records written, each once.
    CHECK(c.describe_topic("idem").partitions.at(0).high_watermark == 8);
}

TEST_CASE("OffsetDelete forgets offsets, but not of the topics a live member reads", "[kafka]") {
    KafkaDaemon k("kadmin-offset-delete");
    kbus::Client c(k.d.options());
    c.create_topic("read", 1);
    c.create_topic("old", 1);
    {
        kbus::Producer p(c);
        (void)p.send("read", "k", "r");
        (void)p.send("old", "k", "o");
    }
    // The group reads "read" now; it committed "old" before (a reset, while empty).
    SchemaClient s(k.broker);
    Value commit = SchemaClient::request(ApiKey::offset_commit);
    commit["GroupId"].set_text("g");
    commit["GenerationIdOrMemberEpoch"].set(-1);
    commit["MemberId"].set_text("");
    Value& ct = commit["Topics"].add();
    ct["Name"].set_text("old");
    Value& cp = ct["Partitions"].add();
    cp["PartitionIndex"].set(0);
    cp["CommittedOffset"].set(1);
    cp["CommittedMetadata"].set_text("from before");
    REQUIRE(error_in(s.call(ApiKey::offset_commit, 8, commit)["Topics"]
                         .items()[0]["Partitions"]
                         .items()[0]) == KafkaError::none);
    kbus::ConsumerOptions o;
    o.group_id = "g";
    kbus::Consumer member(c, o);
    member.subscribe("read");
    const auto assigned = [&] {
        const auto d = kbus::group::describe(c, "g");
        return d.members.size() == 1 && !d.members[0].assignment.empty();
    };
    for (int i = 0; i < 300 && !assigned(); ++i)
        (void)member.poll(10ms);
    REQUIRE(assigned());

    Value q = SchemaClient::request(ApiKey::offset_delete);
    q["GroupId"].set_text("g");
    for (const char* topic : {"read", "old", "nope"}) {
        Value& t = q["Topics"].add();
        t["Name"].set_text(topic);
        t["Partitions"].add()["PartitionIndex"].set(0);
    }
    const Value r = s.call(ApiKey::offset_delete, 0, q);
    REQUIRE(error_in(r) == KafkaError::none);
    std::map<std::string, KafkaError> errors;
    for (const Value& t : r["Topics"].items())
        errors[std::string(t["Name"].text())] = error_in(t["Partitions"].items()[0]);
    CHECK(errors ==
          std::map<std::string, KafkaError>{{"read", KafkaError::group_subscribed_to_topic},
                                            {"old", KafkaError::none},
                                            {"nope", KafkaError::unknown_topic_or_partition}});
    bool old_committed = false;
    for (const auto& p : kbus::group::describe(c, "g").partitions)
        old_committed |= p.tp.topic == "old" && p.committed >= 0;
    CHECK_FALSE(old_committed);
    q["GroupId"].set_text("no-such-group");
    CHECK(error_in(s.call(ApiKey::offset_delete, 0, q)) == KafkaError::group_id_not_found);
}

TEST_CASE("AlterConfigs refuses a null value and a key named twice, as Kafka", "[kafka]") {
    KafkaDaemon k("kadmin-config-input");
    kbus::Client c(k.d.options());
    c.create_topic("t", 1, {{"retention.ms", "1000"}});
    SchemaClient s(k.broker);
    const Value null_value =
        s.call(ApiKey::alter_configs, 0,
               alter_request(ApiKey::alter_configs, "t", {{"retention.ms", {}, 0}}));
    CHECK(error_in(null_value["Responses"].items()[0]) == KafkaError::invalid_request);
    const Value twice = s.call(ApiKey::incremental_alter_configs, 1,
                               alter_request(ApiKey::incremental_alter_configs, "t",
                                             {{"retention.ms", "5", 0}, {"retention.ms", "6", 0}}));
    CHECK(error_in(twice["Responses"].items()[0]) == KafkaError::invalid_request);
    CHECK(overrides_of(c, "t").at("retention.ms") == "1000");
}
