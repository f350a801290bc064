// The schema tables and the one codec they drive: requests decode at every served version,
// classic and flexible (KIP-482: compact lengths, tagged fields, unknown tags skipped),
// responses encode byte for byte as Kafka lays them out, the tables agree with themselves and
// with Kafka 3.9's ranges, and hostile lengths are refused before anything is allocated.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "kafka/api_schemas.hpp"
#include "kafka/kafka_api.hpp"
#include "kafka/schema_codec.hpp"
#include "kafka/topic_id.hpp"

using namespace kbus::kafka;
using kbus::kafka::schema::Api;
using kbus::kafka::schema::find_api;

namespace {

Value decode(const Api& api, std::int16_t version, const std::string& bytes) {
    WireReader r(bytes);
    Value v = SchemaCodec::decode(r, *api.request, version, api.flexible(version));
    CHECK(r.remaining() == 0);
    return v;
}

std::string encode(const Api& api, std::int16_t version, const Value& v) {
    WireWriter w;
    SchemaCodec::encode(w, v, version, api.flexible(version));
    return w.buffer();
}

std::string compact(std::string_view s) {
    WireWriter w;
    w.compact_length(s.size());
    w.raw(s);
    return w.buffer();
}

// Every struct reachable from `s`, once.
void structs_of(const schema::Struct& s, std::set<const schema::Struct*>& seen) {
    if (!seen.insert(&s).second) return;
    for (const schema::Field& f : s.fields)
        if (f.element != nullptr) structs_of(*f.element, seen);
}

}  // namespace

TEST_CASE("unsigned varints and compact lengths read back, and over-long ones are refused",
          "[kafka]") {
    WireWriter w;
    for (const std::uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 0xffffffffu})
        w.uvarint(v);
    w.compact_length(std::nullopt);
    w.compact_length(5);
    WireReader r(w.buffer());
    for (const std::uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 0xffffffffu})
        CHECK(r.uvarint() == v);
    CHECK_FALSE(r.compact_length());
    CHECK(r.compact_length() == 5u);
    CHECK(r.remaining() == 0);

    const std::string too_long("\xff\xff\xff\xff\xff\x01", 6);
    WireReader bad(too_long);
    CHECK_THROWS_AS(bad.uvarint(), KafkaDecodeError);
    const std::string bits_beyond_32("\xff\xff\xff\xff\x1f", 5);
    WireReader beyond(bits_beyond_32);
    CHECK_THROWS_AS(beyond.uvarint(), KafkaDecodeError);
}

TEST_CASE("a Produce v3 request reads back as written, records as views", "[kafka]") {
    const std::string batch(70, 'b');
    WireWriter w;
    w.null_string();  // transactional id
    w.i16(1);
    w.i32(30000);
    w.array_count(1);
    w.string("orders");
    w.array_count(2);
    w.i32(0);
    w.bytes(batch);
    w.i32(1);
    w.i32(-1);  // null records
    const Value p = decode(schema::produce_api, 3, w.buffer());
    CHECK(p["TransactionalId"].is_null());
    CHECK(p["Acks"].integer() == 1);
    CHECK(p["TimeoutMs"].integer() == 30000);
    const auto& topics = p["TopicData"].items();
    REQUIRE(topics.size() == 1);
    CHECK(topics[0]["Name"].text() == "orders");
    const auto& parts = topics[0]["PartitionData"].items();
    REQUIRE(parts.size() == 2);
    CHECK(parts[0]["Records"].text() == batch);
    // A view into the request, not a copy.
    CHECK(parts[0]["Records"].text().data() >= w.buffer().data());
    CHECK(parts[0]["Records"].text().data() < w.buffer().data() + w.buffer().size());
    CHECK(parts[1]["Records"].is_null());

    // Cut anywhere, the same request is refused, never read past its end.
    for (std::size_t cut = 0; cut < w.buffer().size(); cut += 7) {
        WireReader t(std::string_view(w.buffer()).substr(0, cut));
        CHECK_THROWS_AS(SchemaCodec::decode(t, *schema::produce_api.request, 3, false),
                        KafkaDecodeError);
    }
}

TEST_CASE("a flexible Metadata v12 request: compact arrays, ids, and unknown tags skipped",
          "[kafka]") {
    std::string b;
    b += char(3);                        // two topics (compact: count + 1)
    b += std::string(16, '\0');          // topic id: none
    b += compact("orders");              // name
    b += char(0);                        // the topic's tagged fields: none
    const auto id = topic_id_of("gps");  // a topic asked for by id, its name null
    b += std::string(reinterpret_cast<const char*>(id.data()), id.size());
    b += char(0);  // null name
    // Two tags no version of Metadata defines: skipped, as KIP-482 says.
    b += char(2);
    b += char(7) + std::string("\x03", 1) + "abc";
    b += char(9) + std::string("\x00", 1);
    b += char(1);  // allow auto topic creation
    b += char(0);  // include topic authorized operations
    b += char(0);  // the request's tagged fields
    const Value m = decode(schema::metadata_api, 12, b);
    const auto& topics = m["Topics"].items();
    REQUIRE(topics.size() == 2);
    CHECK(topics[0]["Name"].text() == "orders");
    CHECK(topics[1]["Name"].is_null());
    CHECK(topics[1]["TopicId"].uuid() == id);
    CHECK(m["AllowAutoTopicCreation"].boolean());

    // A null name where the version has none, and a null topic list (every topic) in v1.
    CHECK_THROWS_AS(decode(schema::metadata_api, 9, std::string("\x02\x00\x00\x01\x00\x00", 6)),
                    KafkaDecodeError);
    const Value all = decode(schema::metadata_api, 1, std::string("\xff\xff\xff\xff", 4));
    CHECK(all["Topics"].is_null());
    // Fields a version does not have keep their defaults.
    CHECK(all["AllowAutoTopicCreation"].boolean());
}

TEST_CASE("responses encode as Kafka lays them out, classic and flexible", "[kafka]") {
    const Api& api = schema::find_coordinator_api;
    Value r = Value::object_of(*api.response);
    r["NodeId"].set(0);
    r["Host"].set_text("h");
    r["Port"].set(9092);
    // v0: error, node, host, port.
    CHECK(encode(api, 0, r) ==
          std::string("\x00\x00\x00\x00\x00\x00\x00\x01h\x00\x00\x23\x84", 13));
    // v1: throttle, error, message ("", Kafka's default), node, host, port.
    CHECK(encode(api, 1, r) ==
          std::string("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01h\x00\x00\x23\x84",
                      19));
    // v3 (flexible): compact strings (length + 1), then no tagged fields.
    CHECK(encode(api, 3, r) ==
          std::string("\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x02h\x00\x00\x23\x84\x00", 18));
    r["ErrorMessage"].set_null();  // and null where the version allows it
    CHECK(encode(api, 3, r)[6] == '\0');

    // A tagged field goes out only when it differs from its default (CreateTopics v5+).
    const Api& create = schema::create_topics_api;
    Value c = Value::object_of(*create.response);
    Value& t = c["Topics"].add();
    t["Name"].set_text("t");
    t["ErrorMessage"].set_null();
    t["Configs"].set_array();
    const std::string plain = encode(create, 5, c);
    CHECK(plain.back() == '\0');  // the response's tagged fields: none
    t["TopicConfigErrorCode"].set(40);
    const std::string tagged = encode(create, 5, c);
    CHECK(tagged.size() == plain.size() + 4);  // count 1, tag 0, size 2... and the int16
    WireReader back(tagged);
    const Value again = SchemaCodec::decode(back, *create.response, 5, true);
    CHECK(again["Topics"].items().at(0)["TopicConfigErrorCode"].integer() == 40);
    CHECK(again["Topics"].items().at(0)["Name"].text() == "t");
}

TEST_CASE("a tagged struct at its defaults is left out, and written once it differs", "[kafka]") {
    // Fetch v12+ partitions carry DivergingEpoch, CurrentLeader and SnapshotId as tagged structs
    // whose fields default to -1: a partition that sets none of them ends with a zero tag count.
    const Api& fetch = schema::fetch_api;
    Value r = Value::object_of(*fetch.response);
    Value& p = r["Responses"].add()["Partitions"].add();
    p["Records"].set_view("");
    const std::string plain = encode(fetch, 12, r);
    p["CurrentLeader"]["LeaderId"].set(0);
    const std::string tagged = encode(fetch, 12, r);
    CHECK(tagged.size() > plain.size());
    WireReader back(tagged);
    const Value again = SchemaCodec::decode(back, *fetch.response, 12, true);
    const Value& leader =
        again["Responses"].items().at(0)["Partitions"].items().at(0)["CurrentLeader"];
    CHECK(leader["LeaderId"].integer() == 0);
    CHECK(leader["LeaderEpoch"].integer() == -1);
}

TEST_CASE("hostile counts and lengths are refused before anything is allocated", "[kafka]") {
    // A compact array claiming 2^31 topics in a few bytes.
    const std::string huge("\xff\xff\xff\xff\x07\x00\x00", 7);
    CHECK_THROWS_AS(decode(schema::metadata_api, 12, huge), KafkaDecodeError);
    // A classic one, and a string longer than the frame.
    CHECK_THROWS_AS(decode(schema::metadata_api, 1, std::string("\x7f\xff\xff\xff", 4)),
                    KafkaDecodeError);
    CHECK_THROWS_AS(decode(schema::metadata_api, 1, std::string("\x00\x00\x00\x01\x7f\xff", 6)),
                    KafkaDecodeError);
    // A tagged field whose size runs past the frame.
    CHECK_THROWS_AS(
        decode(schema::api_versions_api, 3, compact("c") + compact("v") + "\x01\x05\x7f"),
        KafkaDecodeError);
}

TEST_CASE("the tables are consistent, and every served range is Kafka 3.9's", "[kafka]") {
    for (const VersionRange& served : supported_versions) {
        const Api* api = find_api(std::int16_t(served.key));
        REQUIRE(api != nullptr);
        INFO(api->name);
        CHECK(served.max == api->valid.hi);
        CHECK(served.min == api->valid.lo);
    }
    for (std::int16_t key = 0; key < 100; ++key) {
        const Api* api = find_api(key);
        if (api == nullptr) continue;
        INFO(api->name);
        CHECK(api->key == key);
        std::set<const schema::Struct*> structs;
        structs_of(*api->request, structs);
        structs_of(*api->response, structs);
        for (const schema::Struct* s : structs) {
            std::set<std::int32_t> tags;
            for (const schema::Field& f : s->fields) {
                INFO(s->name << "." << f.name);
                CHECK_FALSE(f.versions.empty());
                CHECK((f.type == schema::Type::object) == (f.element != nullptr));
                // Only strings, bytes, arrays and structs can be null.
                if (!f.nullable.empty()) CHECK((f.is_array || f.type >= schema::Type::string));
                if (f.is_tagged()) {
                    CHECK(f.tagged.lo >= api->first_flexible);  // tags exist only there
                    CHECK(tags.insert(f.tag).second);           // once per struct
                }
            }
        }
    }
}
