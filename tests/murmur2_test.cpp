// Kafka's own murmur2 vectors (UtilsTest, librdkafka's unittest, kafkajs), from
// shared/reference/kafka-protocol.md section 3.
#include <catch2/catch.hpp>
#include <string>

#include "kbus/murmur2.hpp"

namespace {
std::int32_t hash(const std::string& s) {
    return kbus::murmur2(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
std::int32_t part(const std::string& s, std::int32_t n) {
    return kbus::partition_for_key(reinterpret_cast<const unsigned char*>(s.data()), s.size(), n);
}
}  // namespace

TEST_CASE("murmur2 matches Kafka's test vectors", "[partitioner]") {
    CHECK(hash("21") == -973932308);
    CHECK(hash("foobar") == -790332482);
    CHECK(hash("a-little-bit-long-string") == -985981536);
    CHECK(hash("a-little-bit-longer-string") == -1486304829);
    CHECK(hash("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
    CHECK(hash("abc") == 479470107);
    CHECK(hash("kafka") == -798503068);
    CHECK(hash("giberish123456789") == -1890243828);
    CHECK(hash("1234") == -1614185708);
    CHECK(hash("") == 275646681);
    CHECK(hash("0") == 971027396);
    CHECK(hash("1") == -1993445489);
}

TEST_CASE("partition for key uses toPositive, not abs", "[partitioner]") {
    CHECK(part("21", 3) == 0);
    CHECK(part("foobar", 3) == 0);
    CHECK(part("a-little-bit-long-string", 3) == 2);
    CHECK(part("kafka", 3) == 1);
    CHECK(part("giberish123456789", 3) == 2);
    CHECK(part("0", 3) == 2);
    CHECK(part("1", 3) == 0);
    CHECK(kbus::to_positive(-1) == 0x7fffffff);
    CHECK(kbus::to_positive(INT32_MIN) == 0);
}

TEST_CASE("murmur2 reads bytes unsigned", "[partitioner]") {
    const std::string high = "\xff\xfe\x80";
    // A signed-char implementation sign-extends these bytes and gets another hash.
    const unsigned char bytes[] = {0xff, 0xfe, 0x80};
    CHECK(hash(high) == kbus::murmur2(bytes, 3));
}
