// Kafka's RecordBatch v2: CRC-32C, varints, the golden batch from the reference, every codec,
// and hostile bytes.
#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "kbus/detail/crc32c.hpp"
#include "kbus/detail/varint.hpp"
#include "kbus/error.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/batch_builder.hpp"
#include "log/compression.hpp"

using namespace kbus;

namespace {
std::string hex(std::string_view s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}
std::span<const std::byte> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("CRC-32C matches the check value, in hardware and software", "[log]") {
    CHECK(detail::crc32c("123456789", 9) == 0xE3069283u);
    CHECK(detail::crc32c_software("123456789", 9) == 0xE3069283u);
    std::string big(100003, '\0');
    std::mt19937 rng(7);
    for (auto& c : big)
        c = char(rng());
    CHECK(detail::crc32c(big.data(), big.size()) ==
          detail::crc32c_software(big.data(), big.size()));
    // Extending a CRC equals computing it in one go.
    CHECK(detail::crc32c(big.data() + 5, big.size() - 5, detail::crc32c(big.data(), 5)) ==
          detail::crc32c(big.data(), big.size()));
}

// Known vectors: RFC 3720's (iSCSI, B.4), and the three chains against one chain and against the
// table on every length around the block sizes, at every alignment.
TEST_CASE("CRC-32C: known vectors, and three chains equal one on any length and alignment",
          "[log]") {
    const std::string zeros(32, '\0'), ones(32, '\xff');
    std::string up(32, '\0'), down(32, '\0');
    for (int i = 0; i < 32; ++i) {
        up[std::size_t(i)] = char(i);
        down[std::size_t(i)] = char(31 - i);
    }
    for (auto crc : {detail::crc32c, detail::crc32c_software}) {
        CHECK(crc(zeros.data(), 32, 0) == 0x8A9136AAu);
        CHECK(crc(ones.data(), 32, 0) == 0x62A8AB43u);
        CHECK(crc(up.data(), 32, 0) == 0x46DD794Eu);
        CHECK(crc(down.data(), 32, 0) == 0x113FDB5Cu);
        CHECK(crc("", 0, 0) == 0u);
    }
    std::mt19937_64 rng(17);
    std::string buf(3 * 8192 * 2 + 3 * 256 * 3 + 64, '\0');
    for (auto& c : buf)
        c = char(rng());
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
    std::vector<std::size_t> lengths = {0,
                                        1,
                                        7,
                                        8,
                                        9,
                                        767,
                                        768,
                                        769,
                                        3 * 8192 - 1,
                                        3 * 8192,
                                        3 * 8192 + 1,
                                        3 * 8192 + 768,
                                        buf.size() - 8};
    for (int i = 0; i < 200; ++i)
        lengths.push_back(std::size_t(rng() % (buf.size() - 8)));
    for (std::size_t n : lengths)
        for (std::size_t align = 0; align < 8; ++align) {
            INFO("length " << n << " alignment " << align);
            const std::uint32_t want = detail::crc32c_software(p + align, n);
            REQUIRE(detail::crc32c(p + align, n) == want);
#if defined(__x86_64__)
            if (__builtin_cpu_supports("sse4.2"))
                REQUIRE(~detail::crc32c_impl::hardware_one_chain(~0u, p + align, n) == want);
#endif
        }
}

TEST_CASE("zig-zag varints encode like Kafka's ByteUtils", "[log]") {
    auto enc = [](std::int64_t v) {
        std::string s;
        detail::put_varlong(s, v);
        return hex(s);
    };
    CHECK(enc(0) == "00");
    CHECK(enc(-1) == "01");
    CHECK(enc(1) == "02");
    CHECK(enc(3) == "06");
    CHECK(enc(18) == "24");
    CHECK(enc(64) == "8001");
    CHECK(enc(INT64_MIN).size() == 20);
    for (std::int64_t v : {0LL, -1LL, 300LL, -300LL, (long long)INT32_MAX, (long long)INT64_MIN}) {
        std::string s;
        detail::put_varlong(s, v);
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        std::int64_t back = 0;
        REQUIRE(detail::get_varlong(p, p + s.size(), back));
        CHECK(back == v);
        CHECK(detail::varlong_size(v) == s.size());
    }
    const std::string truncated = "\x80\x80";
    const auto* p = reinterpret_cast<const std::byte*>(truncated.data());
    std::int64_t v = 0;
    CHECK_FALSE(detail::get_varlong(p, p + 2, v));
}

TEST_CASE("a one-record batch is byte for byte the reference's golden batch", "[log]") {
    log::BatchBuilder b;
    b.clear();
    const HeaderView headers[] = {{"h", BytesView("v")}};
    b.add(0, 1700000000000, "key", "value", headers);
    const std::string batch(b.finish(config::Compression::none));
    CHECK(hex(batch) ==
          "0000000000000000"
          "00000044"
          "00000000"
          "02"
          "83794a1d"
          "0000"
          "00000000"
          "0000018bcfe56800"
          "0000018bcfe56800"
          "ffffffffffffffff"
          "ffff"
          "ffffffff"
          "00000001"
          "2400000006" +
              hex("key") + "0a" + hex("value") + "020268" + "0276");
    log::BatchView v(bytes_of(batch));
    REQUIRE(v.check(true) == log::BatchCheck::ok);
    CHECK(v.total_bytes() == 80);
    CHECK(v.crc() == 0x83794a1du);
}

TEST_CASE("every codec round-trips a batch with gaps, nulls and headers", "[log]") {
    using config::Compression;
    for (Compression codec : {Compression::none, Compression::gzip, Compression::snappy,
                              Compression::lz4, Compression::zstd}) {
        INFO(config::to_string(codec));
        log::BatchBuilder b;
        b.clear();
        const HeaderView headers[] = {{"a", BytesView("1")}, {"null", BytesView()}};
        std::vector<std::string> values;
        for (int i = 0; i < 500; ++i)
            values.push_back(std::string(std::size_t(i * 7 % 300), char('a' + i % 26)));
        for (int i = 0; i < 500; ++i)
            b.add(100 + i + (i > 250 ? 3 : 0), 1000 + i,
                  i % 3 ? BytesView(std::to_string(i)) : BytesView(),
                  i == 7 ? BytesView() : BytesView(values[std::size_t(i)]),
                  std::span<const HeaderView>(headers, std::size_t(i % 3)));
        const std::string batch(b.finish(codec));
        log::BatchView v(bytes_of(batch));
        REQUIRE(v.check(true) == log::BatchCheck::ok);
        CHECK(v.compression_codec() == int(codec));
        CHECK(v.base_offset() == 100);
        CHECK(v.last_offset() == 100 + 499 + 3);
        CHECK(v.max_timestamp() == 1499);
        CHECK(v.record_count() == 500);
        std::string plain;
        log::decompress(v.compression_codec(), v.records_bytes(), plain, 64 << 20);
        log::RecordIterator it(bytes_of(plain), v.record_count(), v.base_offset(),
                               v.base_timestamp());
        log::RecordView r;
        int i = 0;
        for (; it.next(r); ++i) {
            CHECK(r.offset == 100 + i + (i > 250 ? 3 : 0));
            CHECK(r.timestamp == 1000 + i);
            CHECK(r.key.is_null() == (i % 3 == 0));
            if (i == 7)
                CHECK(r.value.is_null());
            else
                CHECK(r.value.str() == values[std::size_t(i)]);
            CHECK(r.header_count == i % 3);
            log::RecordHeaderIterator h(r.headers, r.header_count);
            if (i % 3 >= 1) {
                CHECK(h->key == "a");
                CHECK(h->value.str() == "1");
                ++h;
            }
            if (i % 3 == 2) {
                CHECK(h->key == "null");
                CHECK(h->value.is_null());
                ++h;
            }
            CHECK(h.done());
            CHECK_FALSE(h.malformed());
        }
        CHECK(i == 500);
        CHECK_FALSE(it.malformed());
    }
}

TEST_CASE("corrupt batches are caught: CRC, magic, lengths, codec, bombs", "[log]") {
    log::BatchBuilder b;
    b.clear();
    b.add(0, 1, "k", std::string(1000, 'x'), {});
    std::string batch(b.finish(config::Compression::none));
    std::string flipped = batch;
    flipped[200] ^= 1;
    CHECK(log::BatchView(bytes_of(flipped)).check(true) == log::BatchCheck::bad_crc);
    CHECK(log::BatchView(bytes_of(flipped)).check(false) == log::BatchCheck::ok);
    CHECK(log::BatchView(bytes_of(batch.substr(0, 70))).check(true) == log::BatchCheck::truncated);
    std::string magic = batch;
    magic[16] = 1;
    CHECK(log::BatchView(bytes_of(magic)).check(true) == log::BatchCheck::bad_magic);
    std::string length = batch;
    length[8] = char(0x80);  // negative batchLength
    CHECK(log::BatchView(bytes_of(length)).check(true) == log::BatchCheck::bad_length);
    std::string out;
    CHECK_THROWS_AS(log::decompress(5, bytes_of(batch), out, 1 << 20), Error);
    CHECK_THROWS_AS(log::decompress(1, bytes_of(batch), out, 1 << 20), Error);
    CHECK_THROWS_AS(log::decompress(4, bytes_of(batch), out, 1 << 20), Error);
    CHECK_THROWS_AS(log::decompress(3, bytes_of(batch), out, 1 << 20), Error);
    std::string zeros(10 << 20, '\0'), packed;
    log::compress(config::Compression::zstd, zeros, packed);
    CHECK_THROWS_AS(log::decompress(4, bytes_of(packed), out, 1 << 20), Error);
    // A record whose lengths lie stops the iterator inside its bounds.
    const std::string lying = "\x10\x00\x00\x00\x7e";  // len 8, key length 63 > what is left
    log::RecordIterator it(bytes_of(lying), 1, 0, 0);
    log::RecordView r;
    CHECK_FALSE(it.next(r));
    CHECK(it.malformed());
}
