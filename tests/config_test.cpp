// The properties parser, broker config and topic config: good input, unknown keys, bad values.
#include <catch2/catch.hpp>

#include "config/broker_config.hpp"
#include "config/properties.hpp"
#include "config/topic_config.hpp"
#include "kbus/error.hpp"
#include "kbus/ring_descriptor.hpp"
#include "security/access_policy.hpp"

using namespace kbus::config;

namespace {
std::string message_of(auto&& f) {
    try {
        f();
    } catch (const kbus::Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("properties: separators, comments, continuations and escapes", "[config]") {
    const auto props = parse_properties(
        "# a comment\n"
        "! another\n"
        "   \n"
        "log.dirs=/var/lib/x\n"
        "num.partitions : 3\r\n"
        "spaced   value here\n"
        "long.value = one,\\\n"
        "    two\n"
        "escaped\\=key=a\\tb\\u00e9\n"
        "empty=\n"
        "trailing.backslashes=c:\\\\\n"
        "last=no newline",
        "f.properties");
    REQUIRE(props.size() == 8);
    CHECK(props[0].key == "log.dirs");
    CHECK(props[0].value == "/var/lib/x");
    CHECK(props[0].origin == "f.properties:4");
    CHECK(props[1].key == "num.partitions");
    CHECK(props[1].value == "3");
    CHECK(props[2].key == "spaced");
    CHECK(props[2].value == "value here");
    CHECK(props[3].value == "one,two");
    CHECK(props[4].key == "escaped=key");
    CHECK(props[4].value == "a\tb\xc3\xa9");
    CHECK(props[5].value.empty());
    CHECK(props[6].value == "c:\\");
    CHECK(props[7].value == "no newline");
    CHECK(message_of([] { (void)parse_properties("k=\\u12", "f"); }).find("f:1") !=
          std::string::npos);
}

TEST_CASE("overrides need key=value", "[config]") {
    CHECK(parse_override("a.b=c=d").value == "c=d");
    CHECK(message_of([] { (void)parse_override("novalue"); }).find("key=value") !=
          std::string::npos);
}

TEST_CASE("broker config: Kafka's names, precedence, and errors naming the key", "[config]") {
    const auto c = make_broker_config(parse_properties(
        "log.dirs=/data\nlog.retention.hours=1\nlog.retention.minutes=2\nnum.partitions=6\n"
        "log.segment.bytes=1048576\ncompression.type=zstd\nkbus.ring.bytes=65536\n",
        "server.properties"));
    CHECK(c.data_dir == "/data");
    CHECK(c.topic_defaults.retention_ms == 120000);  // minutes win over hours, as in Kafka
    CHECK(c.num_partitions == 6);
    CHECK(c.topic_defaults.segment_bytes == 1048576);
    CHECK(c.topic_defaults.compression == Compression::zstd);
    CHECK(c.topic_defaults.ring_bytes == 65536);
    CHECK(c.spill_enable);
    CHECK_FALSE(make_broker_config(parse_properties("kbus.spill.enable=false", "f")).spill_enable);
    const auto ms =
        make_broker_config(parse_properties("log.retention.ms=5\nlog.retention.hours=9\n", "f"));
    CHECK(ms.topic_defaults.retention_ms == 5);

    const std::string unknown = message_of(
        [] { (void)make_broker_config(parse_properties("\nlog.retension.ms=1", "s.p")); });
    CHECK(unknown.find("log.retension.ms") != std::string::npos);
    CHECK(unknown.find("s.p:2") != std::string::npos);
    const std::string bad = message_of(
        [] { (void)make_broker_config(parse_properties("num.partitions=lots", "s.p")); });
    CHECK(bad.find("num.partitions") != std::string::npos);
    CHECK(bad.find("lots") != std::string::npos);
    CHECK(!message_of([] {
               (void)make_broker_config(parse_properties("kbus.ring.bytes=100000", "f"));
           }).empty());
    CHECK(!message_of([] {
               (void)make_broker_config(parse_properties("log.dirs=/a,/b", "f"));
           }).empty());
    CHECK(!message_of([] {
               (void)make_broker_config(parse_properties("auto.create.topics.enable=yes", "f"));
           }).empty());
}

TEST_CASE("topic config: defaults, validation, clamping", "[config]") {
    const TopicConfig d = make_topic_config({}, {});
    CHECK(d.retention_ms == 604800000);
    CHECK(d.retention_bytes == -1);
    CHECK(d.segment_bytes == 1073741824);
    CHECK(d.max_message_bytes == 1048588);
    CHECK(d.index_interval_bytes == 4096);
    const TopicConfig small = make_topic_config({}, {{"ring.bytes", "65536"}});
    CHECK(small.max_message_bytes == 32768);  // clamped to half the ring when not given
    CHECK(
        message_of([] {
            (void)make_topic_config({}, {{"ring.bytes", "65536"}, {"max.message.bytes", "40000"}});
        }).find("max.message.bytes") != std::string::npos);
    CHECK(message_of([] {
              (void)make_topic_config({}, {{"retention.ms", "-2"}});
          }).find("retention.ms") != std::string::npos);
    CHECK(message_of([] {
              (void)make_topic_config({}, {{"compression.type", "brotli"}});
          }).find("compression.type") != std::string::npos);
    CHECK(message_of([] {
              (void)make_topic_config({}, {{"segment.bytes", "12abc"}});
          }).find("segment.bytes") != std::string::npos);
    CHECK(make_topic_config({}, {{"compression.type", "lz4"}}).compression == Compression::lz4);
    // The smallest frame a record takes (a header alone, on 32-byte boundaries) is the least.
    CHECK(message_of([] {
              (void)make_topic_config({}, {{"max.message.bytes", "48"}});
          }).find("max.message.bytes") != std::string::npos);
    CHECK(
        make_topic_config({}, {{"max.message.bytes", std::to_string(kbus::ring::min_frame_bytes)}})
            .max_message_bytes == kbus::ring::min_frame_bytes);
    const auto all = to_settings(d);
    CHECK(all.at("compression.type") == "none");
    CHECK(all.at("message.timestamp.type") == "CreateTime");
    // What to_settings prints parses back to the same config.
    Settings round(all.begin(), all.end());
    const TopicConfig again = make_topic_config({}, round);
    CHECK(to_settings(again) == all);
}

TEST_CASE("topic config: cleanup.policy and the compaction settings, as Kafka spells them",
          "[config]") {
    const TopicConfig d = make_topic_config({}, {});
    CHECK((d.cleanup_delete && !d.cleanup_compact));
    CHECK(d.min_cleanable_dirty_ratio == 0.5);
    CHECK(d.delete_retention_ms == 86400000);
    CHECK(to_settings(d).at("cleanup.policy") == "delete");
    for (const char* both : {"compact,delete", "delete,compact", "compact, delete"}) {
        const TopicConfig c = make_topic_config({}, {{"cleanup.policy", both}});
        CHECK((c.cleanup_delete && c.cleanup_compact));
        CHECK(to_settings(c).at("cleanup.policy") == "compact,delete");
    }
    const TopicConfig c = make_topic_config({}, {{"cleanup.policy", "compact"},
                                                 {"min.cleanable.dirty.ratio", "0.25"},
                                                 {"min.compaction.lag.ms", "100"},
                                                 {"max.compaction.lag.ms", "5000"},
                                                 {"delete.retention.ms", "0"}});
    CHECK((c.cleanup_compact && !c.cleanup_delete));
    CHECK(c.min_cleanable_dirty_ratio == 0.25);
    CHECK(c.min_compaction_lag_ms == 100);
    CHECK(c.max_compaction_lag_ms == 5000);
    CHECK(c.delete_retention_ms == 0);
    const auto all = to_settings(c);
    CHECK(all.at("min.cleanable.dirty.ratio") == "0.25");
    Settings round(all.begin(), all.end());
    CHECK(to_settings(make_topic_config({}, round)) == all);
    for (const auto& [key, bad] : Settings{{"cleanup.policy", "compacted"},
                                           {"cleanup.policy", ""},
                                           {"cleanup.policy", "delete,"},
                                           {"min.cleanable.dirty.ratio", "1.5"},
                                           {"min.cleanable.dirty.ratio", "nan"},
                                           {"max.compaction.lag.ms", "0"},
                                           {"delete.retention.ms", "-1"}})
        CHECK(message_of([&] {
                  (void)make_topic_config({}, {{key, bad}});
              }).find(key) != std::string::npos);
}

TEST_CASE("broker limits, the claim timeout and the sharing group", "[config]") {
    const auto c = make_broker_config(parse_properties(
        "kbus.max.topics=7\nkbus.max.partitions=70\nkbus.max.shared.memory.bytes=1048576\n"
        "kbus.claim.timeout.ms=250\nkbus.group=kbus-users\n",
        "f"));
    CHECK(c.max_topics == 7);
    CHECK(c.max_partitions == 70);
    CHECK(c.max_shared_memory_bytes == 1048576);
    CHECK(c.claim_timeout_ms == 250);
    CHECK(c.group == "kbus-users");
    const auto defaults = make_broker_config({});
    CHECK(defaults.max_shared_memory_bytes == -1);
    CHECK_FALSE(defaults.group.has_value());
    CHECK(message_of([] {
              (void)make_broker_config(parse_properties("kbus.max.topics=0", "f"));
          }).find("kbus.max.topics") != std::string::npos);
    CHECK(message_of([] {
              (void)make_broker_config(parse_properties("kbus.claim.timeout.ms=-5", "f"));
          }).find("kbus.claim.timeout.ms") != std::string::npos);
    // An empty kbus.group means no group: --override kbus.group= undoes the file's.
    CHECK_FALSE(make_broker_config(parse_properties("kbus.group=kbus\nkbus.group=", "f"))
                    .group.has_value());
    CHECK(message_of([] {
              (void)kbus::security::resolve_group("no-such-group-kbus");
          }).find("no group named 'no-such-group-kbus'") != std::string::npos);
}
