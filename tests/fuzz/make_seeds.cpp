// Writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/seed-*): valid inputs of each kind,
// so that fuzzing starts from the formats' real shapes. Run once when the formats change:
//   build/tests/fuzz/kbus_fuzz_make_seeds tests/fuzz/corpus
// Inputs that once crashed a target are kept beside them (crash-*), as regression tests.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kafka/api_schemas.hpp"
#include "kafka/kafka_api.hpp"
#include "kafka/legacy_message_set.hpp"
#include "kafka/schema_codec.hpp"
#include "kafka/topic_id.hpp"
#include "kbus/control_messages.hpp"
#include "kbus/detail/kafka_wire.hpp"
#include "kbus/group_messages.hpp"
#include "kbus/log/record_batch_descriptor.hpp"
#include "kbus/protocol.hpp"
#include "log/batch_builder.hpp"

using namespace kbus;
namespace fs = std::filesystem;

namespace {

void save(const fs::path& dir, const std::string& name, const std::string& bytes) {
    fs::create_directories(dir);
    std::ofstream(dir / ("seed-" + name), std::ios::binary) << bytes;
}

std::string frame(std::uint16_t type, const protocol::Writer& w) {
    protocol::FrameHeader h{std::uint32_t(w.bytes().size()), type, 1, 1, 0};
    return std::string(reinterpret_cast<const char*>(&h), sizeof h) + w.bytes();
}

void record_batches(const fs::path& dir) {
    const HeaderView headers[] = {{"trace", BytesView("abc")}, {"null", BytesView()}};
    for (auto codec :
         {config::Compression::none, config::Compression::gzip, config::Compression::snappy,
          config::Compression::lz4, config::Compression::zstd}) {
        log::BatchBuilder b;
        b.add(100, 1700000000000, BytesView("key"), BytesView("value"), headers);
        b.add(102, 1700000000005, BytesView(), BytesView(std::string(300, 'v')), {});
        b.add(103, 1700000000001, BytesView("k2"), BytesView(), headers);
        std::string two(b.finish(codec));
        b.clear();
        b.add(104, 1700000000010, BytesView("x"), BytesView("y"), {});
        two += b.finish(codec);
        save(dir, config::to_string(codec), two);
    }
}

// A segment as the spill writes it: batches back to back, the codecs mixed.
void segments(const fs::path& dir) {
    std::string segment;
    std::int64_t offset = 0;
    for (auto codec : {config::Compression::none, config::Compression::zstd,
                       config::Compression::gzip, config::Compression::none}) {
        log::BatchBuilder b;
        for (int i = 0; i < 5; ++i, ++offset)
            b.add(offset, 1700000000000 + offset, BytesView("k"), BytesView("value"), {});
        segment += b.finish(codec);
    }
    save(dir, "segment", segment);
    // The same kind of segment as a disk damages it: bytes flipped inside a batch's records (only
    // its CRC tells), a batch whose length field is garbage (the next batch must be found by its
    // CRC), and a last batch cut in half (a torn tail).
    std::string damaged;
    std::vector<std::size_t> starts;
    for (int n = 0; n < 8; ++n) {
        log::BatchBuilder b;
        for (int i = 0; i < 5; ++i, ++offset)
            b.add(offset, 1700000000000 + offset, BytesView("k"), BytesView(std::string(100, 'v')),
                  {});
        starts.push_back(damaged.size());
        damaged += b.finish(config::Compression::none);
    }
    for (std::size_t i = 0; i < 16; ++i)
        damaged[starts[2] + 200 + i] = char(damaged[starts[2] + 200 + i] ^ 0x5a);
    damaged[starts[4] + log::batch_length_offset] = '\x5a';
    damaged.resize(starts[7] + (damaged.size() - starts[7]) / 2);
    save(dir, "segment-damaged", damaged);
}

void control_frames(const fs::path& dir) {
    protocol::TopicMetadata m{
        "orders", 7, 3, 1 << 20, 1 << 16, 0, 1000, "kbus.0.bus.orders", {{"retention.ms", "1000"}}};
    protocol::Writer w;
    codec::encode(w, m);
    std::string stream = frame(0, w);
    group::JoinGroupRequest j{"g",
                              "",
                              "client",
                              1000,
                              group::consumer_protocol_type,
                              {{"range", group::encode_subscription({"orders", "audit"})}}};
    w = {};
    codec::encode(w, j);
    stream += frame(4, w);
    w = {};
    w.raw(group::encode_subscription({"orders"}).data(),
          group::encode_subscription({"orders"}).size());
    stream += frame(8, w);
    const std::string assignment = group::encode_assignment({{"orders", 0}, {"orders", 2}});
    w = {};
    w.raw(assignment.data(), assignment.size());
    stream += frame(9, w);
    save(dir, "frames", stream);
}

void properties(const fs::path& dir) {
    save(dir, "server",
         "# kbusd\nlog.dirs=/var/lib/kbus\nnum.partitions = 3\nlog.retention.hours: 24\n"
         "compression.type=zstd\nkbus.ring.bytes=1048576\nauto.create.topics.enable=true\n"
         "multi.line=a\\\n   b\nescaped\\=key=\\u0041\\t\n! "
         "comment\nlog.segment.bytes=1073741824\n");
}

void formats(const fs::path& dir) {
    const std::string sep(1, '\0');
    std::string headers;  // one header: u16 key length, key, i32 value length, value
    const std::uint16_t kl = 2;
    const std::int32_t vl = 3;
    headers += '\x01';  // the target's header count byte
    headers.append(reinterpret_cast<const char*>(&kl), 2) += "id";
    headers.append(reinterpret_cast<const char*>(&vl), 4) += "abc";
    save(dir, "all",
         "%t/%p@%o %k=%s (%S,%K) %T [%h]\\n%%%x" + sep + "key" + sep + "value" + sep + headers);
    save(dir, "plain", "%s\\n" + sep + sep + "v");
}

}  // namespace

// Requests of the flexible versions (header v2, compact encodings) built with the schema codec,
// and a Produce v2 carrying a message set of magic 1.
void flexible_and_legacy_requests(const fs::path& dir, log::BatchBuilder& b) {
    const auto request = [&](const std::string& name, const kafka::schema::Api& api,
                             std::int16_t version, const kafka::Value& body) {
        kafka::WireWriter w;
        w.i16(api.key);
        w.i16(version);
        w.i32(43);
        w.string("java");
        if (api.flexible(version)) w.uvarint(0);  // the header's tagged fields
        kafka::SchemaCodec::encode(w, body, version, api.flexible(version));
        save(dir, name, w.buffer());
    };
    const std::string batch(b.finish(config::Compression::none));
    kafka::Value m = kafka::Value::object_of(*kafka::schema::metadata_api.request);
    m["Topics"].add()["Name"].set_text("orders");
    request("metadata-v12", kafka::schema::metadata_api, 12, m);
    for (const std::int16_t v : {2, 9}) {
        kafka::Value p = kafka::Value::object_of(*kafka::schema::produce_api.request);
        p["Acks"].set(-1);
        p["TimeoutMs"].set(30000);
        kafka::Value& t = p["TopicData"].add();
        t["Name"].set_text("orders");
        kafka::Value& part = t["PartitionData"].add();
        part["Records"].set_text(v < 3 ? kafka::legacy::downconvert(batch, 1, 1 << 20) : batch);
        request("produce-v" + std::to_string(v), kafka::schema::produce_api, v, p);
    }
    kafka::Value f = kafka::Value::object_of(*kafka::schema::fetch_api.request);
    f["MaxWaitMs"].set(500);
    kafka::Value& ft = f["Topics"].add();
    ft["TopicId"].set_uuid(kafka::topic_id_of("orders"));
    kafka::Value& fp = ft["Partitions"].add();
    fp["FetchOffset"].set(17);
    fp["PartitionMaxBytes"].set(1 << 20);
    request("fetch-v13", kafka::schema::fetch_api, 13, f);
    kafka::Value j = kafka::Value::object_of(*kafka::schema::join_group_api.request);
    j["GroupId"].set_text("group");
    j["ProtocolType"].set_text("consumer");
    j["Protocols"].add()["Name"].set_text("range");
    request("join-v9", kafka::schema::join_group_api, 9, j);
}

// Kafka request frames (after the size) of the listener's APIs, as librdkafka sends them.
void kafka_requests(const fs::path& dir) {
    auto request = [&](const std::string& name, kafka::ApiKey key, std::int16_t version,
                       const kafka::WireWriter& body) {
        kafka::WireWriter w;
        w.i16(std::int16_t(key));
        w.i16(version);
        w.i32(42);
        w.string("rdkafka");
        w.raw(const_cast<kafka::WireWriter&>(body).buffer());
        save(dir, name, w.buffer());
    };
    log::BatchBuilder b;
    const HeaderView headers[] = {{"trace", BytesView("abc")}};
    b.add(0, 1700000000000, BytesView("key"), BytesView("value"), headers);
    b.add(1, 1700000000001, BytesView(), BytesView("v2"), {});
    for (auto codec : {config::Compression::none, config::Compression::gzip}) {
        kafka::WireWriter p;
        p.null_string();
        p.i16(1);
        p.i32(30000);
        p.array_count(1);
        p.string("orders");
        p.array_count(1);
        p.i32(0);
        p.bytes(b.finish(codec));
        request(std::string("produce-") + config::to_string(codec), kafka::ApiKey::produce, 3, p);
    }
    kafka::WireWriter f;
    f.i32(-1);
    f.i32(500);
    f.i32(1);
    f.i32(52428800);
    f.i8(1);
    f.array_count(1);
    f.string("orders");
    f.array_count(1);
    f.i32(0);
    f.i64(17);
    f.i64(-1);
    f.i32(1048576);
    request("fetch-v5", kafka::ApiKey::fetch, 5, f);
    kafka::WireWriter m;
    m.array_count(1);
    m.string("orders");
    m.boolean(true);
    request("metadata-v4", kafka::ApiKey::metadata, 4, m);
    kafka::WireWriter j;
    j.string("group");
    j.i32(45000);
    j.i32(300000);
    j.string("");
    j.string("consumer");
    j.array_count(1);
    j.string("range");
    j.bytes(std::string("\0\0\0\0\0\1\0\6orders\0\0\0\0", 18));
    request("join-v1", kafka::ApiKey::join_group, 1, j);
    kafka::WireWriter c;
    c.array_count(1);
    c.string("made");
    c.i32(3);
    c.i16(1);
    c.array_count(0);
    c.array_count(1);
    c.string("retention.ms");
    c.string("3600000");
    c.i32(5000);
    c.boolean(false);
    request("create-topics-v1", kafka::ApiKey::create_topics, 1, c);
    kafka::WireWriter o;
    o.string("group");
    o.i32(3);
    o.string("member-1");
    o.i64(-1);
    o.array_count(1);
    o.string("orders");
    o.array_count(1);
    o.i32(0);
    o.i64(100);
    o.null_string();
    request("offset-commit-v2", kafka::ApiKey::offset_commit, 2, o);
    flexible_and_legacy_requests(dir, b);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: kbus_fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    const fs::path root = argv[1];
    record_batches(root / "record_batch");
    segments(root / "segment");
    control_frames(root / "control_decoder");
    properties(root / "properties");
    formats(root / "format");
    kafka_requests(root / "kafka_request");
    return 0;
}
