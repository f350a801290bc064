// The control protocol's framing and its message codec: every message lists its fields once
// (KBUS_FIELDS) and the one encoder/decoder walks them.
#include <catch2/catch.hpp>

#include "kbus/control_messages.hpp"
#include "kbus/group_messages.hpp"
#include "kbus/protocol.hpp"

using namespace kbus;
using namespace kbus::protocol;

namespace {

template <class T>
T round_trip(const T& v) {
    return codec::decoded<T>(codec::encoded(v));
}

}  // namespace

TEST_CASE("topic metadata round-trips, byte for byte as the wire spec says", "[protocol]") {
    TopicMetadata m;
    m.name = "gps";
    m.topic_id = 42;
    m.partitions = 10;
    m.ring_bytes = 1 << 20;
    m.max_message_bytes = 1048588;
    m.timestamp_type = 1;
    m.hold_timeout_ms = 250;
    m.ring_path_prefix = "/dev/shm/kbus.0.default.abc123/t42";
    m.config = {{"retention.ms", "1000"}};
    // The spec: little-endian fixed fields, u32-prefixed strings and counts, in field order.
    Writer w;
    w.str("gps");
    w.u64(42);
    w.i32(10);
    w.u64(1 << 20);
    w.u32(1048588);
    w.u32(1);
    w.u32(250);
    w.str("/dev/shm/kbus.0.default.abc123/t42");
    w.u32(1);
    w.str("retention.ms");
    w.str("1000");
    CHECK(codec::encoded(m) == w.bytes());
    const TopicMetadata back = round_trip(m);
    CHECK(back.name == "gps");
    CHECK(back.topic_id == 42);
    CHECK(back.partitions == 10);
    CHECK(back.hold_timeout_ms == 250);
    CHECK(back.ring_path_prefix == m.ring_path_prefix);
    CHECK(back.config == m.config);
}

TEST_CASE("requests and replies round-trip through the one codec", "[protocol]") {
    const AttachReaderRequest a{7, 3, OffsetSpecKind::timestamp, -123456789, 12};
    const AttachReaderRequest a2 = round_trip(a);
    CHECK(a2.topic_id == 7);
    CHECK(a2.partition == 3);
    CHECK(a2.kind == OffsetSpecKind::timestamp);
    CHECK(a2.offset == -123456789);
    CHECK(a2.slot == 12);

    const FetchRequest f = round_trip(FetchRequest{9, 1, 100, 4096, true});
    CHECK(f.as_extent);
    CHECK(f.max_bytes == 4096);

    group::CommitOffsetsRequest c{"g", 5, "m-1", {{{"orders", 2}, 77}, {{"audit", 0}, 3}}};
    const auto c2 = round_trip(c);
    CHECK(c2.group == "g");
    CHECK(c2.generation == 5);
    CHECK(c2.offsets == c.offsets);

    group::GroupDescription d;
    d.group = "g";
    d.members = {{"m-1", "client", {{"orders", 0}, {"orders", 1}}}};
    group::GroupDescription::PartitionLag lag;
    lag.tp = {"orders", 0};
    lag.committed = 10;
    lag.log_end = 20;
    lag.owner = "m-1";
    d.partitions.push_back(lag);
    const auto d2 = round_trip(d);
    REQUIRE(d2.members.size() == 1);
    CHECK(d2.members[0].assignment.size() == 2);
    REQUIRE(d2.partitions.size() == 1);
    CHECK(d2.partitions[0].log_end == 20);
    CHECK(d2.partitions[0].owner == "m-1");

    stats::BusStats s;
    s.time_ms = 1;
    s.partitions.push_back({"t", 0, 1, 2, 3, 4, 5, 6, {{1, 2}}});
    s.groups.push_back({"g", "Stable", 1, "t", 0, 1, 1});
    const auto s2 = round_trip(s);
    REQUIRE(s2.partitions.size() == 1);
    CHECK(s2.partitions[0].readers == s.partitions[0].readers);
    CHECK(s2.groups[0].state == "Stable");

    const auto report = round_trip(ReportCorruptBatchRequest{9, 2, 1234});
    CHECK(report.topic_id == 9);
    CHECK(report.partition == 2);
    CHECK(report.offset == 1234);
    const auto damage =
        round_trip(CorruptBatchReply{true, 100, 109, 110, "/d/t-0/x.log", 4096, 5000, "lost"});
    CHECK(damage.corrupt);
    CHECK(damage.first_offset == 100);
    CHECK(damage.last_offset == 109);
    CHECK(damage.resume_offset == 110);
    CHECK(damage.file == "/d/t-0/x.log");
    CHECK(damage.file_begin == 4096);
    CHECK(damage.file_end == 5000);
    CHECK(damage.message == "lost");

    CHECK(codec::encoded(ListTopicsRequest{}).empty());
    CHECK(codec::encoded(codec::Empty{}).empty());
}

TEST_CASE("truncated, trailing or hostile payloads are refused, not trusted", "[protocol]") {
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
    CHECK_THROWS_AS(codec::decoded<TopicNames>(huge.bytes()), Error);
    // Every prefix of a real message is refused, and so is a byte too many.
    const std::string attach = codec::encoded(AttachReaderRequest{1, 2, OffsetSpecKind::end, 3, 4});
    for (std::size_t n = 0; n < attach.size(); ++n)
        CHECK_THROWS_AS(codec::decoded<AttachReaderRequest>(attach.substr(0, n)), Error);
    CHECK_THROWS_AS(codec::decoded<AttachReaderRequest>(attach + "x"), Error);
    static_assert(sizeof(FrameHeader) == frame_header_bytes);
    static_assert(codec::min_bytes<group::TopicPartition>() == 8);
    static_assert(codec::min_bytes<std::pair<std::int32_t, std::int64_t>>() == 12);
}
