// GroupService, consumer groups as kbusd serves them, over a real Bus in a temp dir: membership
// with commit grants for kbus members and none for Kafka members, commits made in slots and
// through requests (each visible in the other), offset resets, lags, and what a closed connection
// or a deleted topic takes with it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "groups/group_service.hpp"
#include "kbus/group_commit.hpp"
#include "log/file.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
using group::TopicPartition;

namespace {

struct Groups {
    TestBus t;
    std::unique_ptr<groups::GroupService> service;

    explicit Groups(const std::string& name) : t("groups-" + name) {
        t.create("t", 2);
        restart();
    }
    ~Groups() { service.reset(); }  // before the bus it refers to

    // A new service over the same data dir (a restarted daemon's).
    void restart() {
        service.reset();
        service = std::make_unique<groups::GroupService>(t.dir.path, *t.bus, t.log.sink());
        t.bus->on_topic_deleted(
            [this](const std::string& topic) { service->topic_deleted(topic); });
    }
    groups::GroupService& gs() { return *service; }
    std::shared_ptr<bus::Partition> partition(std::int32_t p) { return t.bus->partition("t", p); }
};

struct Member {
    std::string id;
    std::int32_t generation = -1;
    group::SyncGroupReply sync;
};

// One member joins `group` alone (it leads) and takes `parts`.
Member join_alone(groups::GroupService& gs, const std::string& group,
                  const std::vector<TopicPartition>& parts, std::uint32_t connection,
                  bool kbus_client = true) {
    group::JoinGroupRequest j;
    j.group = group;
    j.client_id = "c";
    j.session_timeout_ms = 30000;
    j.protocols = {{"range", group::encode_subscription({"t"})}};
    const group::JoinGroupReply joined = gs.join(j, connection);
    REQUIRE_FALSE(joined.pending);
    REQUIRE(joined.leader == joined.member_id);
    Member m{joined.member_id, joined.generation, {}};
    group::SyncGroupRequest s{group, m.generation, m.id, {{m.id, group::encode_assignment(parts)}}};
    m.sync = gs.sync(s, kbus_client);
    REQUIRE_FALSE(m.sync.pending);
    return m;
}

ring::GroupCommitSlot& slot_of(bus::Partition& p, const group::CommitGrant& g) {
    return p.ring().header().group_commits[g.slot];
}

// The slot a group holds in a partition's ring, if any.
const ring::GroupCommitSlot* group_slot(bus::Partition& p, const std::string& group) {
    for (const auto& s : p.ring().header().group_commits)
        if (group::slot_token(s) != 0 && group::slot_group(s) == group) return &s;
    return nullptr;
}

}  // namespace

TEST_CASE("a kbus member's sync carries commit grants for its partitions, a Kafka member's none",
          "[group-service]") {
    Groups g("grants");
    const Member m = join_alone(g.gs(), "g", {{"t", 0}, {"t", 1}}, 1);
    CHECK(m.generation == 1);
    CHECK(group::decode_assignment(m.sync.assignment) ==
          std::vector<TopicPartition>{{"t", 0}, {"t", 1}});
    REQUIRE(m.sync.grants.size() == 2);
    for (const group::CommitGrant& grant : m.sync.grants) {
        CHECK(grant.topic == "t");
        CHECK(grant.token == group::member_token(m.generation, m.id));
        const ring::GroupCommitSlot& s = slot_of(*g.partition(grant.partition), grant);
        CHECK(group::slot_group(s) == "g");
        CHECK(group::slot_token(s) == grant.token);
    }

    const Member kafka =
        join_alone(g.gs(), "k", {{"t", 0}}, groups::GroupService::no_connection, false);
    CHECK(kafka.sync.grants.empty());
    CHECK(group::decode_assignment(kafka.sync.assignment) == std::vector<TopicPartition>{{"t", 0}});
    CHECK(group_slot(*g.partition(0), "k") == nullptr);  // Kafka clients commit by request
}

TEST_CASE("a commit made in a slot is visible in committed() and kept across a restart",
          "[group-service]") {
    Groups g("slot-commit");
    produce(*g.partition(0), 10);
    const Member m = join_alone(g.gs(), "g", {{"t", 0}}, 1);
    REQUIRE(m.sync.grants.size() == 1);
    std::uint64_t expected = 0;
    REQUIRE(group::commit_in_slot(slot_of(*g.partition(0), m.sync.grants[0]),
                                  m.sync.grants[0].token, expected,
                                  7) == group::SlotCommit::committed);
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 7}});
    const group::GroupDescription d = g.gs().describe("g");
    REQUIRE(d.partitions.size() == 1);
    CHECK(d.partitions[0].committed == 7);
    CHECK(d.partitions[0].log_end == 10);
    CHECK(d.partitions[0].owner == m.id);

    g.restart();
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 7}});
}

TEST_CASE("tick and persist store what members committed in their slots", "[group-service]") {
    Groups g("tick");
    produce(*g.partition(1), 5);
    const Member m = join_alone(g.gs(), "g", {{"t", 1}}, 1);
    REQUIRE(m.sync.grants.size() == 1);
    std::uint64_t expected = 0;
    auto commit = [&](std::int64_t offset) {
        REQUIRE(group::commit_in_slot(slot_of(*g.partition(1), m.sync.grants[0]),
                                      m.sync.grants[0].token, expected,
                                      offset) == group::SlotCommit::committed);
    };
    // What the offsets file holds (read as text: a second store would compact it away).
    auto stored = [&] {
        std::string text;
        REQUIRE(log::read_whole_file(g.t.dir.path + "/__kbus_offsets", text));
        return text;
    };
    commit(2);
    CHECK(stored().find("commit g t 1 2\n") == std::string::npos);
    CHECK(g.gs().tick() == std::chrono::milliseconds(100));  // stable: no deadline is close
    CHECK(stored().find("commit g t 1 2\n") != std::string::npos);
    commit(4);
    g.gs().persist();
    CHECK(stored().find("commit g t 1 4\n") != std::string::npos);
}

TEST_CASE("a group between generations asks for ticks five times as often", "[group-service]") {
    Groups g("tick-rebalance");
    group::JoinGroupRequest j;
    j.group = "g";
    j.client_id = "c";
    j.session_timeout_ms = 30000;
    j.protocols = {{"range", group::encode_subscription({"t"})}};
    CHECK(g.gs().tick() == std::chrono::milliseconds(100));
    const group::JoinGroupReply joined = g.gs().join(j, 1);
    REQUIRE_FALSE(joined.pending);
    // Joined, not yet synced: the leader's assignment has a deadline.
    CHECK(g.gs().tick() == std::chrono::milliseconds(20));
    group::SyncGroupRequest s{"g",
                              joined.generation,
                              joined.member_id,
                              {{joined.member_id, group::encode_assignment({{"t", 0}})}}};
    REQUIRE_FALSE(g.gs().sync(s, true).pending);
    CHECK(g.gs().tick() == std::chrono::milliseconds(100));
}

TEST_CASE("a commit through the request path is stored and mirrored into the member's slot",
          "[group-service]") {
    Groups g("request-commit");
    produce(*g.partition(0), 10);
    const Member m = join_alone(g.gs(), "g", {{"t", 0}}, 1);
    REQUIRE(m.sync.grants.size() == 1);
    g.gs().commit({"g", m.generation, m.id, {{{"t", 0}, 4}}});
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 4}});
    CHECK(group::slot_commit(slot_of(*g.partition(0), m.sync.grants[0])) == 5);

    // Refused commits change neither the store nor the slot.
    CHECK(code_of([&] {
              g.gs().commit({"g", m.generation, m.id, {{{"t", 0}, 11}}});
          }) == ErrorCode::offset_out_of_range);
    CHECK(code_of([&] {
              g.gs().commit({"g", m.generation + 1, m.id, {{{"t", 0}, 6}}});
          }) == ErrorCode::illegal_generation);
    CHECK(code_of([&] {
              g.gs().commit({"g", m.generation, m.id, {{{"t", 1}, 0}}});
          }) == ErrorCode::partition_not_assigned);
    CHECK(code_of([&] {
              g.gs().commit({"g", m.generation, m.id, {{{"nope", 0}, 0}}});
          }) == ErrorCode::unknown_topic);
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 4}});
    CHECK(group::slot_commit(slot_of(*g.partition(0), m.sync.grants[0])) == 5);
}

TEST_CASE("reset is refused while the group has members", "[group-service]") {
    Groups g("reset-members");
    produce(*g.partition(0), 10);
    const Member m = join_alone(g.gs(), "g", {{"t", 0}}, 1);
    g.gs().commit({"g", m.generation, m.id, {{{"t", 0}, 4}}});
    CHECK(code_of([&] {
              (void)g.gs().reset({"g", "t", protocol::OffsetSpecKind::beginning, 0});
          }) == ErrorCode::group_not_empty);
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 4}});
    CHECK(code_of([&] { g.gs().remove("g"); }) == ErrorCode::group_not_empty);
}

TEST_CASE("reset moves every partition to the beginning, the end, a clamped offset or a time",
          "[group-service]") {
    Groups g("reset");
    produce(*g.partition(0), 10);  // timestamps 1000..1009
    produce(*g.partition(1), 3);   // timestamps 1000..1002
    const Member m = join_alone(g.gs(), "g", {{"t", 0}, {"t", 1}}, 1);
    REQUIRE(m.sync.grants.size() == 2);
    g.gs().leave({"g", m.id});
    using K = protocol::OffsetSpecKind;
    using Offsets = group::PartitionOffsets;
    CHECK(g.gs().reset({"g", "t", K::end, 0}) == Offsets{{0, 10}, {1, 3}});
    CHECK(g.gs().committed("g", "t") == Offsets{{0, 10}, {1, 3}});
    // Mirrored into the group's slots, which must always hold its latest commit.
    CHECK(group::slot_commit(slot_of(*g.partition(0), m.sync.grants[0])) == 11);
    CHECK(group::slot_commit(slot_of(*g.partition(1), m.sync.grants[1])) == 4);
    CHECK(g.gs().reset({"g", "t", K::beginning, 0}) == Offsets{{0, 0}, {1, 0}});
    CHECK(g.gs().reset({"g", "t", K::offset, 5}) == Offsets{{0, 5}, {1, 3}});
    CHECK(g.gs().reset({"g", "t", K::offset, 1000}) == Offsets{{0, 10}, {1, 3}});
    CHECK(g.gs().reset({"g", "t", K::offset, -5}) == Offsets{{0, 0}, {1, 0}});
    CHECK(g.gs().reset({"g", "t", K::timestamp, 1002}) == Offsets{{0, 2}, {1, 2}});
    CHECK(g.gs().reset({"g", "t", K::timestamp, 1005}) == Offsets{{0, 5}, {1, 3}});
    CHECK(g.gs().committed("g", "t") == Offsets{{0, 5}, {1, 3}});
    CHECK(group::slot_commit(slot_of(*g.partition(0), m.sync.grants[0])) == 6);

    CHECK(code_of([&] {
              (void)g.gs().reset({"nobody", "t", K::end, 0});
          }) == ErrorCode::invalid_group);
    CHECK(code_of([&] {
              (void)g.gs().reset({"g", "nope", K::end, 0});
          }) == ErrorCode::unknown_topic);
}

TEST_CASE("lags are each group's committed offsets against the high watermarks",
          "[group-service]") {
    Groups g("lags");
    produce(*g.partition(0), 10);
    produce(*g.partition(1), 2);
    const Member m = join_alone(g.gs(), "g", {{"t", 0}, {"t", 1}}, 1);
    g.gs().commit({"g", m.generation, m.id, {{{"t", 0}, 4}, {{"t", 1}, 2}}});
    const std::vector<stats::GroupPartitionLag> lags = g.gs().lags();
    REQUIRE(lags.size() == 2);
    CHECK(lags[0].group == "g");
    CHECK(lags[0].state == "Stable");
    CHECK(lags[0].members == 1);
    CHECK(lags[0].topic == "t");
    CHECK(lags[0].partition == 0);
    CHECK(lags[0].committed == 4);
    CHECK(lags[0].lag == 6);
    CHECK(lags[1].partition == 1);
    CHECK(lags[1].lag == 0);
    produce(*g.partition(1), 5);
    CHECK(g.gs().lags()[1].lag == 5);
}

TEST_CASE("a closed connection takes its members with it, and no others", "[group-service]") {
    Groups g("closed");
    join_alone(g.gs(), "a", {{"t", 0}}, 1);
    join_alone(g.gs(), "b", {{"t", 0}}, 2);
    join_alone(g.gs(), "k", {{"t", 0}}, groups::GroupService::no_connection, false);
    auto members = [&](const std::string& group) {
        for (const group::GroupListing& l : g.gs().list())
            if (l.group == group) return l.members;
        return std::uint32_t(99);
    };
    g.gs().connection_closed(3);  // a connection without members
    CHECK(members("a") == 1);
    CHECK(members("b") == 1);
    g.gs().connection_closed(1);
    CHECK(members("a") == 0);
    CHECK(g.gs().describe("a").members.empty());
    CHECK(g.gs().describe("a").state == "Empty");
    CHECK(members("b") == 1);
    CHECK(members("k") == 1);  // a Kafka member lives by its session timeout
}

TEST_CASE("a deleted topic's committed offsets go with it", "[group-service]") {
    Groups g("topic-deleted");
    g.t.create("u");
    produce(*g.partition(0), 3);
    produce(*g.t.bus->partition("u", 0), 3);
    g.gs().commit({"g", -1, "", {{{"t", 0}, 2}, {{"u", 0}, 1}}});  // a group without members
    REQUIRE(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 2}});
    g.t.bus->remove("t");
    CHECK(g.gs().committed("g", "t").empty());
    CHECK(g.gs().committed("g", "u") == group::PartitionOffsets{{0, 1}});
    g.restart();
    CHECK(g.gs().committed("g", "t").empty());
    CHECK(g.gs().committed("g", "u") == group::PartitionOffsets{{0, 1}});
}

TEST_CASE("a deleted group's slots are freed", "[group-service]") {
    Groups g("remove");
    const Member m = join_alone(g.gs(), "g", {{"t", 0}}, 1);
    REQUIRE(m.sync.grants.size() == 1);
    g.gs().leave({"g", m.id});
    REQUIRE(group_slot(*g.partition(0), "g") != nullptr);
    g.gs().commit({"g", -1, "", {{{"t", 0}, 0}}});
    g.gs().remove("g");
    CHECK(group_slot(*g.partition(0), "g") == nullptr);
    CHECK(group::slot_token(slot_of(*g.partition(0), m.sync.grants[0])) == 0);
    CHECK(g.gs().committed("g", "t").empty());
    CHECK(code_of([&] { g.gs().remove("g"); }) == ErrorCode::invalid_group);
}

TEST_CASE("a member that missed a rebalance cannot commit in its old slot", "[group-service]") {
    Groups g("fenced");
    produce(*g.partition(0), 10);
    const Member m = join_alone(g.gs(), "g", {{"t", 0}}, 1);
    REQUIRE(m.sync.grants.size() == 1);
    ring::GroupCommitSlot& slot = slot_of(*g.partition(0), m.sync.grants[0]);
    // A second member joins: the group prepares a rebalance; until it completes, the current
    // generation still commits.
    group::JoinGroupRequest j;
    j.group = "g";
    j.client_id = "c";
    j.session_timeout_ms = 30000;
    j.protocols = {{"range", group::encode_subscription({"t"})}};
    REQUIRE(g.gs().join(j, 2).pending);
    std::uint64_t expected = 0;
    CHECK(group::commit_in_slot(slot, m.sync.grants[0].token, expected, 5) ==
          group::SlotCommit::committed);
    // The first member rejoins: generation 2 begins, and the old token is fenced.
    j.member_id = m.id;
    const group::JoinGroupReply rejoined = g.gs().join(j, 1);
    REQUIRE_FALSE(rejoined.pending);
    CHECK(rejoined.generation == 2);
    CHECK(group::commit_in_slot(slot, m.sync.grants[0].token, expected, 6) ==
          group::SlotCommit::fenced);
    CHECK(group::slot_commit(slot) == 6);  // offset 5, persisted before the rebalance
    CHECK(g.gs().committed("g", "t") == group::PartitionOffsets{{0, 5}});
}
