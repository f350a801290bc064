// The Kafka listener's codecs in one process: the wire reader's bounds (kafka_schema_test.cpp
// has the messages' layouts), and a producer's RecordBatch checked and written onto a ring as a run
// of records.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "kafka/batch_appender.hpp"
#include "kafka/kafka_api.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/header_block.hpp"
#include "kbus/ring_reader.hpp"
#include "log/batch_builder.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::kafka;

namespace {

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        if (hex[i] == ' ') {
            --i;
            continue;
        }
        out.push_back(char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

// The reference's golden batch: key "key", value "value", header h=v, 1700000000000, CreateTime.
const std::string golden = from_hex(
    "0000000000000000 00000044 00000000 02 83794a1d 0000 00000000 0000018bcfe56800 "
    "0000018bcfe56800 ffffffffffffffff ffff ffffffff 00000001 24 00 00 00 06 6b6579 0a 76616c7565 "
    "02 02 68 02 76");

// A producer's batch as librdkafka writes it: offsets from 0, its own timestamps.
std::string producer_batch(int records, config::Compression codec = config::Compression::none) {
    log::BatchBuilder b;
    for (int i = 0; i < records; ++i) {
        const std::string key = "k" + std::to_string(i), value = "value-" + std::to_string(i);
        const HeaderView headers[] = {{"seq", BytesView(key)}, {"null", BytesView()}};
        b.add(i, 1'700'000'000'000 + i, BytesView(key), BytesView(value), headers);
    }
    return std::string(b.finish(codec));
}

}  // namespace

TEST_CASE("the wire reader refuses what its bytes cannot hold", "[kafka]") {
    WireWriter w;
    w.string("topic");
    w.i32(7);
    w.bytes("abc");
    w.i16(-1);
    WireReader r(w.buffer());
    CHECK(r.string() == "topic");
    CHECK(r.i32() == 7);
    CHECK(r.bytes() == "abc");
    CHECK_FALSE(r.nullable_string().has_value());
    CHECK(r.remaining() == 0);
    CHECK_THROWS_AS(r.i8(), KafkaDecodeError);

    WireWriter lies;
    lies.i16(100);  // a string of 100 bytes, with 3 behind it
    lies.raw("abc");
    WireReader l(lies.buffer());
    CHECK_THROWS_AS(l.string(), KafkaDecodeError);

    WireWriter huge;
    huge.i32(1'000'000'000);  // an array count no request could hold
    WireReader h(huge.buffer());
    CHECK_THROWS_AS(h.array_count(4), KafkaDecodeError);
    WireWriter negative;
    negative.i32(-5);
    WireReader n(negative.buffer());
    CHECK_THROWS_AS(n.array_count(4, true), KafkaDecodeError);
}

TEST_CASE("the golden batch decodes to its one record", "[kafka]") {
    REQUIRE(golden.size() == 80);
    BatchDecoder d;
    const DecodeResult result = d.decode(golden, 1 << 20);
    INFO(result.message);
    REQUIRE(result.error == KafkaError::none);
    REQUIRE(d.records().size() == 1);
    const DecodedRecord& r = d.records()[0];
    CHECK(r.key.str() == "key");
    CHECK(r.value.str() == "value");
    CHECK(r.timestamp == 1'700'000'000'000);
    REQUIRE(r.header_count == 1);
    CHECK(d.headers()[r.first_header].key == "h");
    CHECK(d.headers()[r.first_header].value.str() == "v");
}

TEST_CASE("bad batches get Kafka's error codes", "[kafka]") {
    BatchDecoder d;
    std::string flipped = golden;
    flipped[70] ^= 1;
    CHECK(d.decode(flipped, 1 << 20).error == KafkaError::corrupt_message);
    CHECK(d.decode(golden + golden, 1 << 20).error == KafkaError::invalid_record);
    CHECK(d.decode(golden.substr(0, 50), 1 << 20).error == KafkaError::corrupt_message);
    std::string magic1 = golden;
    magic1[16] = 1;
    CHECK(d.decode(magic1, 1 << 20).error == KafkaError::unsupported_for_message_format);
    // A transactional batch: attributes bit 4 (the CRC recomputed so only the flag is wrong).
    std::string txn = golden;
    txn[22] = 0x10;
    const std::uint32_t crc =
        detail::crc32c(reinterpret_cast<const std::byte*>(txn.data()) + 21, txn.size() - 21);
    detail::store_be(txn.data() + 17, crc);
    CHECK(d.decode(txn, 1 << 20).error == KafkaError::invalid_record);
    // A record larger than max.message.bytes once inflated: refused, not inflated without bound.
    const std::string big = producer_batch(50, config::Compression::zstd);
    CHECK(d.decode(big, 8).error != KafkaError::none);
    CHECK(d.decode(big, 1 << 20).error == KafkaError::none);
}

TEST_CASE("a producer's batch becomes one run of ring records, compressed or not", "[kafka]") {
    for (const auto codec : {config::Compression::none, config::Compression::gzip,
                             config::Compression::lz4, config::Compression::zstd}) {
        INFO(config::to_string(codec));
        testing::TestRing ring(1 << 20);
        ring.release_up_to(0);
        ring::RingWriter w(ring.ref);
        (void)testing::write_value(w, "a local record first");
        BatchDecoder d;
        const std::string batch = producer_batch(100, codec);
        REQUIRE(d.decode(batch, 1 << 20).error == KafkaError::none);
        const AppendResult a = append_to_ring(w, d, -1);
        REQUIRE(a.status == ring::ClaimStatus::claimed);
        CHECK(a.base_offset == 1);  // after the local one: one sequence of offsets

        ring::RingReader reader(ring.ref);
        ring::Cursor c;
        ring::RecordRef rec;
        REQUIRE(reader.peek(c, rec) == ring::PeekStatus::record);
        ring::RingReader::advance(c, rec);
        for (int i = 0; i < 100; ++i) {
            REQUIRE(reader.peek(c, rec) == ring::PeekStatus::record);
            CHECK(rec.offset == std::uint64_t(1 + i));
            const ring::RecordHeader& h = *rec.header;
            const auto* base = reinterpret_cast<const std::byte*>(&h);
            const ring::PayloadLayout l =
                ring::payload_layout(h.key_length, h.value_length, h.headers_length);
            CHECK(h.timestamp == 1'700'000'000'000 + i);
            CHECK(std::string(reinterpret_cast<const char*>(base + l.key_offset),
                              std::size_t(h.key_length)) == "k" + std::to_string(i));
            CHECK(std::string(reinterpret_cast<const char*>(base + l.value_offset),
                              std::size_t(h.value_length)) == "value-" + std::to_string(i));
            REQUIRE(h.header_count == 2);
            HeaderIterator it(base + l.headers_offset, h.headers_length, h.header_count);
            CHECK(it->key == "seq");
            CHECK(it->value.str() == "k" + std::to_string(i));
            ++it;
            CHECK(it->key == "null");
            CHECK(it->value.is_null());
            ring::RingReader::advance(c, rec);
        }
        CHECK(reader.peek(c, rec) == ring::PeekStatus::not_ready);
    }
}

TEST_CASE("a LogAppendTime stamp, a full ring and a run over half the ring", "[kafka]") {
    testing::TestRing ring(64 * 1024);
    ring.release_up_to(0);
    ring::RingWriter w(ring.ref);
    BatchDecoder d;
    const std::string ten = producer_batch(10);
    REQUIRE(d.decode(ten, 1 << 20).error == KafkaError::none);
    REQUIRE(append_to_ring(w, d, 42).status == ring::ClaimStatus::claimed);
    ring::RingReader reader(ring.ref);
    ring::Cursor c;
    ring::RecordRef rec;
    REQUIRE(reader.peek(c, rec) == ring::PeekStatus::record);
    CHECK(rec.header->timestamp == 42);

    const std::string value(1000, 'v');
    log::BatchBuilder b;
    for (int i = 0; i < 40; ++i)  // ~42 KiB of frames: over half of a 64 KiB ring
        b.add(i, 1, BytesView(), BytesView(value), {});
    const std::string too_big(b.finish(config::Compression::none));  // the decoder's views
    REQUIRE(d.decode(too_big, 1 << 20).error == KafkaError::none);
    CHECK(append_to_ring(w, d, -1).status == ring::ClaimStatus::too_large);

    b.clear();
    for (int i = 0; i < 20; ++i)
        b.add(i, 1, BytesView(), BytesView(value), {});
    const std::string fits(b.finish(config::Compression::none));
    REQUIRE(d.decode(fits, 1 << 20).error == KafkaError::none);
    // Three runs of ~20 KiB fit the 64 KiB ring; the fourth finds it full until its reader
    // moves: the caller is told, nothing is half-written.
    for (int i = 0; i < 3; ++i)
        CHECK(append_to_ring(w, d, -1).status == ring::ClaimStatus::claimed);
    const std::uint64_t tail = ring::load_tail(ring.ref.header());
    CHECK(append_to_ring(w, d, -1).status == ring::ClaimStatus::full);
    CHECK(ring::load_tail(ring.ref.header()) == tail);
}
