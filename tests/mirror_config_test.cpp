// `kbus mirror`'s configuration and record mapping, in one process.
#include <catch2/catch.hpp>

#include "kbus/error.hpp"
#include "mirror/mirror_config.hpp"
#include "mirror/record_mapping.hpp"

using namespace kbus;

namespace {

mirror::MirrorConfig parse(const std::string& text) {
    return mirror::make_mirror_config(config::parse_properties(text, "mirror.properties"));
}

std::string refusal(const std::string& text) {
    try {
        (void)parse(text);
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::invalid_argument);
        return e.what();
    }
    FAIL("accepted: " << text);
    return "";
}

}  // namespace

TEST_CASE("a mirror config: rules, prefixes, the group, the rest for librdkafka", "[mirror]") {
    const auto c = parse(
        "bootstrap.servers=k1:9092,k2:9092\n"
        "out.topics = orders.*, gps\n"
        "in.topics=^remote-[a-z]+$\n"
        "out.topic.prefix=edge1.\n"
        "in.topic.prefix=from-kafka.\n"
        "group.id=mirror-a\n"
        "out.topic.replication.factor=3\n"
        "compression.type=zstd\n"
        "security.protocol=plaintext\n");
    CHECK(c.bootstrap_servers == "k1:9092,k2:9092");
    REQUIRE(c.out_rules.size() == 2);
    CHECK(c.out_rules[1].pattern == "gps");
    CHECK(mirror::matches(c.out_rules, "orders"));
    CHECK(mirror::matches(c.out_rules, "orders-eu"));
    CHECK(mirror::matches(c.out_rules, "gps"));
    CHECK_FALSE(mirror::matches(c.out_rules, "gps2"));  // a whole-name match
    CHECK(mirror::matches(c.in_rules, "remote-eu"));
    CHECK_FALSE(mirror::matches(c.in_rules, "remote-EU"));
    CHECK(c.out_prefix == "edge1.");
    CHECK(c.in_prefix == "from-kafka.");
    CHECK(c.group_id == "mirror-a");
    CHECK(c.out_replication_factor == 3);
    // Everything that is not the mirror's own goes to librdkafka, bootstrap.servers too.
    CHECK(c.kafka ==
          std::vector<std::pair<std::string, std::string>>{{"bootstrap.servers", "k1:9092,k2:9092"},
                                                           {"compression.type", "zstd"},
                                                           {"security.protocol", "plaintext"}});
    CHECK(parse("bootstrap.servers=k:1\nin.topics=x\n").group_id == "kbus-mirror");
    CHECK(parse("bootstrap.servers=k:1\nin.topics=x\n").out_replication_factor == -1);
}

TEST_CASE("bad mirror configs are refused with the key named", "[mirror]") {
    CHECK_THAT(refusal("out.topics=a\n"), Catch::Contains("bootstrap.servers"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\n"), Catch::Contains("nothing to mirror"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\nout.topics=orders[\n"),
               Catch::Contains("mirror.properties:2: out.topics: 'orders[' is not a valid regex"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\nout.topics=gps   # local topics\n"),
               Catch::Contains("mirror.properties:2: out.topics: 'gps   # local topics' can "
                               "match no topic") &&
                   Catch::Contains("comments go on a line of their own"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\nin.topics= , \n"),
               Catch::Contains("in.topics names no topics"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\nin.topics=a\nin.topic.prefix=bad/\n"),
               Catch::Contains("in.topic.prefix"));
    CHECK_THAT(refusal("bootstrap.servers=k:1\nin.topics=a\ngroup.id=has space\n"),
               Catch::Contains("group.id"));
    for (const char* bad : {"0", "-2", "two", "3x", ""})
        CHECK_THAT(refusal(std::string("bootstrap.servers=k:1\nout.topics=a\n"
                                       "out.topic.replication.factor=") +
                           bad + "\n"),
                   Catch::Contains("out.topic.replication.factor: '") &&
                       Catch::Contains("is not a replication factor"));
}

TEST_CASE("mirrored partitions: one to one, else murmur2 like Kafka's Java client", "[mirror]") {
    CHECK(mirror::target_partition(2, 3, 3, BytesView("anything")) == 2);
    // The reference's vectors over 3 partitions: foobar 0, kafka 1, giberish123456789 2.
    CHECK(mirror::target_partition(0, 8, 3, BytesView("foobar")) == 0);
    CHECK(mirror::target_partition(0, 8, 3, BytesView("kafka")) == 1);
    CHECK(mirror::target_partition(5, 8, 3, BytesView("giberish123456789")) == 2);
    // No key: the source partition's order is kept on one target partition.
    CHECK(mirror::target_partition(7, 8, 3, BytesView()) == 1);
    CHECK(mirror::kafka_origin("k:9092") == "kafka:k:9092");
}
