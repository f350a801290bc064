// Message sets of magic 0 and 1 (Produce v0-2, Fetch v0-3): converted up into one RecordBatch v2
// with the same keys, values and timestamps, whether compressed or not; converted down from v2
// batches with offsets kept and headers dropped; and refused with CORRUPT_MESSAGE when a CRC,
// a length or the nesting is wrong.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <string>

#include "kafka/legacy_message_set.hpp"
#include "kbus/detail/big_endian.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/compression.hpp"

using namespace kbus;
using namespace kbus::kafka;

namespace {

// A v2 batch of `n` records at offsets base.., keys k<i> (record 1's key null), values v<i>.
std::string v2_batch(int n, std::int64_t base = 0) {
    log::BatchBuilder b;
    for (int i = 0; i < n; ++i) {
        const std::string key = "k" + std::to_string(i), value = "v" + std::to_string(i);
        const HeaderView h[] = {{"h", BytesView("x")}};
        b.add(base + i, 1'700'000'000'000 + i, i == 1 ? BytesView() : BytesView(key),
              BytesView(value), h);
    }
    return std::string(b.finish(config::Compression::none));
}

struct Record {
    std::int64_t offset;
    std::int64_t timestamp;
    std::optional<std::string> key, value;
    bool operator==(const Record&) const = default;
};

std::vector<Record> records_of(const std::string& batch) {
    const log::BatchView b(std::as_bytes(std::span(batch.data(), batch.size())));
    REQUIRE(b.check(true) == log::BatchCheck::ok);
    std::vector<Record> out;
    log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                           b.base_timestamp());
    for (log::RecordView r; it.next(r);) {
        out.push_back(
            {r.offset, r.timestamp, r.key.to_optional_string(), r.value.to_optional_string()});
        CHECK(r.header_count == 0);
    }
    return out;
}

// A message set of one magic 1 wrapper message at `offset` whose value is `set` compressed.
std::string wrap(config::Compression codec, const std::string& set, std::int64_t offset) {
    std::string compressed;
    log::compress(codec, set, compressed);
    std::string m(legacy::key_offset(1), '\0');
    m[legacy::magic_offset] = 1;
    m[legacy::attributes_offset] = char(int(codec));
    char length[4];
    detail::store_be(length, std::int32_t(-1));  // null key
    m.append(length, 4);
    detail::store_be(length, std::int32_t(compressed.size()));
    m.append(length, 4);
    m += compressed;
    const std::string_view crc_input = std::string_view(m).substr(legacy::magic_offset);
    detail::store_be(m.data() + legacy::crc_offset,
                     std::uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(crc_input.data()),
                                           uInt(crc_input.size()))));
    std::string out(legacy::log_overhead, '\0');
    detail::store_be(out.data(), offset);
    detail::store_be(out.data() + legacy::offset_bytes, std::int32_t(m.size()));
    return out + m;
}

DecodeResult up(const std::string& set, std::string& batch, std::int64_t now = 42) {
    log::BatchBuilder builder;
    return legacy::upconvert(set, now, 1 << 20, builder, batch);
}

}  // namespace

TEST_CASE("a v2 batch goes down to magic 1 and back up with the same records", "[kafka]") {
    const std::string set = legacy::downconvert(v2_batch(3, 100), 1, 1 << 20);
    // Offsets are kept on the way down (a Fetch v2-3 client reads them).
    CHECK(detail::load_be<std::int64_t>(set.data()) == 100);
    std::string batch;
    REQUIRE(up(set, batch).error == KafkaError::none);
    const std::vector<Record> got = records_of(batch);
    REQUIRE(got.size() == 3);
    // Up: offset deltas 0..n-1, as a producer's batch has them.
    CHECK(got[0] == Record{0, 1'700'000'000'000, "k0", "v0"});
    CHECK(got[1] == Record{1, 1'700'000'000'001, std::nullopt, "v1"});
    CHECK(got[2] == Record{2, 1'700'000'000'002, "k2", "v2"});
}

TEST_CASE("magic 0 carries no time: its records get the append time", "[kafka]") {
    const std::string set = legacy::downconvert(v2_batch(2), 0, 1 << 20);
    std::string batch;
    REQUIRE(up(set, batch, 1'234).error == KafkaError::none);
    const std::vector<Record> got = records_of(batch);
    REQUIRE(got.size() == 2);
    CHECK(got[0].timestamp == 1'234);
    CHECK(got[1].value == "v1");
}

TEST_CASE("a compressed wrapper message is opened, once, whatever the codec", "[kafka]") {
    const std::string inner = legacy::downconvert(v2_batch(4), 1, 1 << 20);
    std::string batch;
    // zstd came with RecordBatch v2: Kafka refuses it in a message set, and so does kbus.
    CHECK(up(wrap(config::Compression::zstd, inner, 3), batch).error ==
          KafkaError::unsupported_compression_type);
    for (const auto codec :
         {config::Compression::gzip, config::Compression::snappy, config::Compression::lz4}) {
        INFO(int(codec));
        const std::string wrapped = wrap(codec, inner, 3);
        REQUIRE(up(wrapped, batch).error == KafkaError::none);
        const std::vector<Record> got = records_of(batch);
        REQUIRE(got.size() == 4);
        CHECK(got[3] == Record{3, 1'700'000'000'003, "k3", "v3"});
        // A wrong CRC on the wrapper, and a compressed message inside a compressed one.
        std::string flipped = wrapped;
        flipped[legacy::log_overhead + legacy::crc_offset] ^= 1;
        CHECK(up(flipped, batch).error == KafkaError::corrupt_message);
        CHECK(up(wrap(codec, wrapped, 3), batch).error == KafkaError::corrupt_message);
    }
}

TEST_CASE("torn, mislabelled and corrupt message sets get CORRUPT_MESSAGE", "[kafka]") {
    const std::string set = legacy::downconvert(v2_batch(2), 1, 1 << 20);
    std::string batch;
    for (std::size_t cut = 1; cut < set.size(); cut += 5)
        CHECK(up(set.substr(0, cut), batch).error == KafkaError::corrupt_message);
    std::string flipped = set;
    flipped[flipped.size() - 1] ^= 0x20;  // a value byte: the CRC no longer holds
    CHECK(up(flipped, batch).error == KafkaError::corrupt_message);
    CHECK(up("", batch).error == KafkaError::corrupt_message);
    // A v2 batch sent as a message set: its "message" has magic 2 (and a CRC-32 that fails).
    CHECK(up(v2_batch(1), batch).error == KafkaError::corrupt_message);
    // A size past the end.
    std::string huge = set;
    detail::store_be(huge.data() + 8, std::int32_t(1 << 30));
    CHECK(up(huge, batch).error == KafkaError::corrupt_message);
}

TEST_CASE("down-conversion starts at the offset asked for and stops at the size asked for",
          "[kafka]") {
    const std::string batch = v2_batch(5, 10);
    const std::string all = legacy::downconvert(batch, 1, 1 << 20);
    const std::string from_12 = legacy::downconvert(batch, 1, 1 << 20, 12);
    // The batch's records before the fetch offset are left out, as Kafka's down-conversion does.
    CHECK(detail::load_be<std::int64_t>(from_12.data()) == 12);
    // Records 2..4 have keys of one length (record 1's is null): three messages of one size.
    const std::size_t one =
        legacy::log_overhead + std::size_t(detail::load_be<std::int32_t>(all.data() + 8));
    CHECK(from_12.size() == 3 * one);
    // At most the bytes asked for, whole messages, and never nothing: a reader always moves.
    CHECK(legacy::downconvert(batch, 1, 1 << 20, 12, 2 * one + 1).size() == 2 * one);
    CHECK(legacy::downconvert(batch, 1, 1 << 20, 12, 1).size() == one);
}

TEST_CASE("a wrapper that inflates past its bound is too large, not corrupt", "[kafka]") {
    // 2 MiB of zeros compress to a few KiB; upconvert is given 1 MiB (a decompression bomb).
    const std::string big = legacy::downconvert(
        [] {
            log::BatchBuilder b;
            const std::string zeros(2 << 20, '\0');
            b.add(0, 1, BytesView(), BytesView(zeros), {});
            return std::string(b.finish(config::Compression::none));
        }(),
        1, 8 << 20);
    std::string batch;
    CHECK(up(wrap(config::Compression::gzip, big, 0), batch).error ==
          KafkaError::message_too_large);
}
