// ControlHandlers, what each control request does, over a real Bus and GroupService: requests
// encoded as clients encode them, replies decoded as clients decode them (message_codec.hpp), and
// the errors a bad request meets.
#include <catch2/catch.hpp>

#include "bus/spill_worker.hpp"
#include "control_handlers.hpp"
#include "groups/group_service.hpp"
#include "stats_snapshot.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
namespace protocol = kbus::protocol;
using protocol::RequestType;

namespace {

constexpr std::uint64_t epoch = 42;

struct Handlers {
    TestBus t;
    groups::GroupService groups;
    kbusd::ControlHandlers handlers;

    explicit Handlers(const std::string& name)
        : t("handlers-" + name),
          groups(t.dir.path, *t.bus, t.log.sink()),
          handlers(*t.bus, groups, {"unit", [] { return epoch; }, t.shm.prefix},
                   [this] { return kbusd::stats_snapshot(*t.bus, groups, 3); }) {
        t.bus->on_topic_deleted([this](const std::string& topic) { groups.topic_deleted(topic); });
    }

    // A request as a client sends it, its reply decoded as a client reads it.
    template <class Request>
    typename Request::Reply call(const Request& request, std::uint32_t connection = 1) {
        const std::string reply =
            handlers.answer(Request::type, codec::encoded(request), connection);
        return codec::decoded<typename Request::Reply>(reply);
    }
    template <class Request>
    ErrorCode refused(const Request& request, std::uint32_t connection = 1) {
        return code_of([&] { (void)call(request, connection); });
    }
    ErrorCode refused_raw(std::uint16_t type, const std::string& payload) {
        return code_of([&] { (void)handlers.answer(RequestType(type), payload, 1); });
    }
};

ring::ReaderSlotState slot_state(bus::Partition& p, std::uint32_t slot) {
    return ring::ReaderSlotState(p.ring().header().readers[slot].state.load());
}

}  // namespace

TEST_CASE("a request type the daemon does not know is refused as unsupported",
          "[control-handlers]") {
    Handlers h("unknown-type");
    CHECK(h.refused_raw(0, "") == ErrorCode::unsupported);
    CHECK(h.refused_raw(std::uint16_t(RequestType::end_of_types), "") == ErrorCode::unsupported);
    CHECK(h.refused_raw(0xffff, "") == ErrorCode::unsupported);
    CHECK(h.refused_raw(std::uint16_t(RequestType::hello) | protocol::reply_flag,
                        codec::encoded(protocol::HelloRequest{})) == ErrorCode::unsupported);
}

TEST_CASE(
    "hello answers the daemon's epoch and shared-memory directory, in its protocol version only",
    "[control-handlers]") {
    Handlers h("hello");
    const protocol::HelloReply r =
        h.call(protocol::HelloRequest{protocol::protocol_version, 1, "c", "unit"});
    CHECK(r.daemon_epoch == epoch);
    CHECK(r.shm_dir == h.t.shm.prefix);
    for (const std::uint32_t version : {0u, protocol::protocol_version + 1, 0xffffffffu}) {
        INFO("version " << version);
        CHECK(h.refused(protocol::HelloRequest{version, 1, "c", "unit"}) == ErrorCode::unsupported);
    }
    // A client that means another bus (its run dir points here by mistake) is told so.
    CHECK(h.refused(protocol::HelloRequest{protocol::protocol_version, 1, "c", "other"}) ==
          ErrorCode::invalid_argument);
}

TEST_CASE("a malformed request payload is a protocol error", "[control-handlers]") {
    Handlers h("malformed");
    const std::string hello = codec::encoded(protocol::HelloRequest{});
    CHECK(h.refused_raw(std::uint16_t(RequestType::hello), "") == ErrorCode::protocol_error);
    CHECK(h.refused_raw(std::uint16_t(RequestType::hello), hello.substr(0, hello.size() - 1)) ==
          ErrorCode::protocol_error);
    CHECK(h.refused_raw(std::uint16_t(RequestType::hello), hello + "x") ==
          ErrorCode::protocol_error);
    // A string or a list claiming more than the payload holds.
    protocol::Writer name;
    name.u32(0x7fffffff);
    CHECK(h.refused_raw(std::uint16_t(RequestType::delete_topic), name.bytes()) ==
          ErrorCode::protocol_error);
    protocol::Writer create;
    create.str("t");
    create.i32(1);
    create.u32(0x40000000);  // config entries
    CHECK(h.refused_raw(std::uint16_t(RequestType::create_topic), create.bytes()) ==
          ErrorCode::protocol_error);
    CHECK(h.t.bus->names().empty());
}

TEST_CASE("topic requests change the bus and answer with their typed replies",
          "[control-handlers]") {
    Handlers h("topics");
    (void)h.call(protocol::CreateTopicRequest{"gps", 3, {{"retention.ms", "60000"}}});
    CHECK(h.call(protocol::ListTopicsRequest{}).names == std::vector<std::string>{"gps"});
    const protocol::TopicMetadata m = h.call(protocol::TopicMetadataRequest{"gps"});
    CHECK(m.name == "gps");
    CHECK(m.partitions == 3);
    CHECK(m.ring_bytes == 64 * 1024);
    CHECK(m.ring_path_prefix == h.t.shm.prefix + "/t1");
    const protocol::TopicDescription d = h.call(protocol::DescribeTopicRequest{"gps"});
    CHECK(d.metadata.topic_id == m.topic_id);
    REQUIRE(d.partitions.size() == 3);
    CHECK(d.partitions[2].partition == 2);
    (void)h.call(protocol::AlterTopicRequest{"gps", {{"retention.ms", "1000"}}});
    CHECK(h.t.bus->config_of("gps").retention_ms == 1000);

    CHECK(h.refused(protocol::CreateTopicRequest{"gps", 1, {}}) == ErrorCode::topic_exists);
    CHECK(h.refused(protocol::CreateTopicRequest{"bad name", 1, {}}) ==
          ErrorCode::invalid_argument);
    CHECK(h.refused(protocol::AlterTopicRequest{"gps", {{"ring.bytes", "131072"}}}) ==
          ErrorCode::invalid_argument);
    CHECK(h.refused(protocol::TopicMetadataRequest{"nope"}) == ErrorCode::unknown_topic);
    CHECK(h.refused(protocol::DescribeTopicRequest{"nope"}) == ErrorCode::unknown_topic);

    (void)h.call(protocol::DeleteTopicRequest{"gps"});
    CHECK(h.call(protocol::ListTopicsRequest{}).names.empty());
    CHECK(h.t.shm.objects().empty());
    CHECK(h.refused(protocol::DeleteTopicRequest{"gps"}) == ErrorCode::unknown_topic);
}

TEST_CASE("reader requests attach to the ring, fetch from the log, and release",
          "[control-handlers]") {
    Handlers h("readers");
    const std::uint64_t id = h.t.create("t", 2).topic_id;
    const auto p = h.t.bus->partition("t", 0);
    produce(*p, 5);
    REQUIRE(bus::SpillWorker::drain(*p, h.t.log.sink()));
    using K = protocol::OffsetSpecKind;

    const protocol::ReaderAttachment a =
        h.call(protocol::AttachReaderRequest{id, 0, K::offset, 3, -1}, 7);
    CHECK_FALSE(a.on_disk);
    CHECK(a.offset == 3);
    CHECK(slot_state(*p, a.slot) == ring::ReaderSlotState::attached);
    CHECK(p->ring().header().readers[a.slot].owner_connection == 7);
    CHECK(h.call(protocol::AttachReaderRequest{id, 0, K::end, 0, -1}, 8).offset == 5);
    CHECK(h.call(protocol::AttachReaderRequest{id, 0, K::beginning, 0, -1}, 8).offset == 0);
    CHECK(h.refused(protocol::AttachReaderRequest{id, 0, K::offset, 6, -1}) ==
          ErrorCode::offset_out_of_range);
    CHECK(h.refused(protocol::AttachReaderRequest{id, 2, K::end, 0, -1}) ==
          ErrorCode::partition_out_of_range);
    CHECK(h.refused(protocol::AttachReaderRequest{id + 1, 0, K::end, 0, -1}) ==
          ErrorCode::unknown_topic);

    const protocol::FetchReply f = h.call(protocol::FetchRequest{id, 0, 2, 1 << 20, false});
    CHECK(f.log_start_offset == 0);
    CHECK(f.log_end_offset == 5);
    CHECK(f.ring_start_offset == 0);
    CHECK_FALSE(f.batches.empty());
    CHECK(f.file_path.empty());
    const protocol::FetchReply e = h.call(protocol::FetchRequest{id, 0, 0, 1 << 20, true});
    CHECK(e.batches.empty());
    CHECK(e.file_path.find("/t-0/") != std::string::npos);
    CHECK(e.file_length > 0);
    CHECK(h.refused(protocol::FetchRequest{id, 9, 0, 1 << 20, false}) ==
          ErrorCode::partition_out_of_range);

    // Releasing: only the owner, and only a real slot.
    CHECK(h.refused(protocol::ReleaseReaderRequest{id, 0, ring::reader_slot_count}) ==
          ErrorCode::invalid_argument);
    (void)h.call(protocol::ReleaseReaderRequest{id, 0, a.slot}, 8);  // not its slot
    CHECK(slot_state(*p, a.slot) == ring::ReaderSlotState::attached);
    (void)h.call(protocol::ReleaseReaderRequest{id, 0, a.slot}, 7);
    CHECK(slot_state(*p, a.slot) == ring::ReaderSlotState::free);
}

TEST_CASE(
    "a closed connection's reader slots on every partition are freed, and its members "
    "leave",
    "[control-handlers]") {
    Handlers h("closed");
    const std::uint64_t id = h.t.create("t", 2).topic_id;
    h.t.create("u");
    using K = protocol::OffsetSpecKind;
    const auto a0 = h.call(protocol::AttachReaderRequest{id, 0, K::end, 0, -1}, 5);
    const auto a1 = h.call(protocol::AttachReaderRequest{id, 1, K::end, 0, -1}, 5);
    const auto other = h.call(protocol::AttachReaderRequest{id, 0, K::end, 0, -1}, 6);
    group::JoinGroupRequest j;
    j.group = "g";
    j.client_id = "c";
    j.session_timeout_ms = 30000;
    j.protocols = {{"range", group::encode_subscription({"t"})}};
    REQUIRE_FALSE(h.call(j, 5).pending);

    h.handlers.connection_closed(5);
    CHECK(slot_state(*h.t.bus->partition("t", 0), a0.slot) == ring::ReaderSlotState::free);
    CHECK(slot_state(*h.t.bus->partition("t", 1), a1.slot) == ring::ReaderSlotState::free);
    CHECK(slot_state(*h.t.bus->partition("t", 0), other.slot) == ring::ReaderSlotState::attached);
    const group::GroupListingReply groups = h.call(group::ListGroupsRequest{});
    REQUIRE(groups.groups.size() == 1);
    CHECK(groups.groups[0].members == 0);
}

TEST_CASE("group requests answer with their typed replies, and kbus members get commit grants",
          "[control-handlers]") {
    Handlers h("groups");
    h.t.create("t", 2);
    produce(*h.t.bus->partition("t", 0), 10);
    group::JoinGroupRequest j;
    j.group = "g";
    j.client_id = "c";
    j.session_timeout_ms = 30000;
    j.protocols = {{"range", group::encode_subscription({"t"})}};
    const group::JoinGroupReply joined = h.call(j, 1);
    REQUIRE_FALSE(joined.pending);
    CHECK(joined.leader == joined.member_id);
    CHECK(joined.protocol == "range");
    REQUIRE(joined.members.size() == 1);
    const std::string member = joined.member_id;
    const std::int32_t gen = joined.generation;

    const group::SyncGroupReply synced = h.call(group::SyncGroupRequest{
        "g", gen, member, {{member, group::encode_assignment({{"t", 0}, {"t", 1}})}}});
    CHECK_FALSE(synced.pending);
    CHECK(synced.grants.size() == 2);  // the control socket serves kbus clients: grants
    (void)h.call(group::HeartbeatRequest{"g", gen, member});
    CHECK(h.refused(group::HeartbeatRequest{"g", gen + 1, member}) ==
          ErrorCode::illegal_generation);
    (void)h.call(group::CommitOffsetsRequest{"g", gen, member, {{{"t", 0}, 6}}});
    CHECK(h.call(group::FetchOffsetsRequest{"g", "t"}).offsets == group::PartitionOffsets{{0, 6}});
    const group::GroupListingReply listed = h.call(group::ListGroupsRequest{});
    REQUIRE(listed.groups.size() == 1);
    CHECK(listed.groups[0].group == "g");
    CHECK(listed.groups[0].state == "Stable");
    CHECK(listed.groups[0].members == 1);
    const group::GroupDescription d = h.call(group::DescribeGroupRequest{"g"});
    CHECK(d.generation == gen);
    REQUIRE(d.members.size() == 1);
    CHECK(d.members[0].member_id == member);
    CHECK(h.refused(group::ResetOffsetsRequest{"g", "t", protocol::OffsetSpecKind::end, 0}) ==
          ErrorCode::group_not_empty);
    CHECK(h.refused(group::DeleteGroupRequest{"g"}) == ErrorCode::group_not_empty);

    (void)h.call(group::LeaveGroupRequest{"g", member});
    CHECK(h.call(group::ResetOffsetsRequest{"g", "t", protocol::OffsetSpecKind::end, 0}).offsets ==
          group::PartitionOffsets{{0, 10}, {1, 0}});
    (void)h.call(group::DeleteGroupRequest{"g"});
    CHECK(h.call(group::ListGroupsRequest{}).groups.empty());
    CHECK(h.refused(group::DescribeGroupRequest{"g"}) == ErrorCode::invalid_group);
    CHECK(h.refused(group::DescribeGroupRequest{"bad name"}) == ErrorCode::invalid_group);
}

TEST_CASE("stats answers the bus's snapshot", "[control-handlers]") {
    Handlers h("stats");
    h.t.create("t", 2);
    produce(*h.t.bus->partition("t", 1), 4);
    const stats::BusStats s = h.call(protocol::StatsRequest{});
    CHECK(s.connections == 3);
    REQUIRE(s.partitions.size() == 2);
    CHECK(s.partitions[1].topic == "t");
    CHECK(s.partitions[1].partition == 1);
    CHECK(s.partitions[1].high_watermark == 4);
}
