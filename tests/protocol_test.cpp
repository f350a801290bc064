#include <catch2/catch.hpp>

#include "kbus/protocol.hpp"

using namespace kbus;
using namespace kbus::protocol;

TEST_CASE("topic metadata round-trips", "[protocol]") {
    TopicMetadata m;
    m.name = "gps";
    m.topic_id = 42;
    m.partitions = 10;
    m.ring_bytes = 1 << 20;
    m.max_message_bytes = 1048588;
    m.ring_shm_prefix = "kbus.0.default.t42";
    m.config = {{"retention.ms", "1000"}};
    Writer w;
    m.write(w);
    Reader r(w.bytes());
    TopicMetadata back = TopicMetadata::read(r);
    r.expect_end();
    CHECK(back.name == "gps");
    CHECK(back.topic_id == 42);
    CHECK(back.partitions == 10);
    CHECK(back.ring_shm_prefix == m.ring_shm_prefix);
    CHECK(back.config == m.config);
}

TEST_CASE("truncated or hostile payloads are refused, not trusted", "[protocol]") {
    Writer w;
    w.str("abcdef");
    const std::string full = w.bytes();
    for (std::size_t n = 0; n < full.size(); ++n) {
        Reader r(full.data(), n);
        CHECK_THROWS_AS(r.str(), Error);
    }
    Writer huge;
    huge.u32(0xffffffffu);  // a count the payload cannot hold
    Reader r(huge.bytes());
    CHECK_THROWS_AS(r.count(8), Error);
    static_assert(sizeof(FrameHeader) == frame_header_bytes);
}
