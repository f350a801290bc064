// Consumer groups without processes: Kafka's assignors, the consumer protocol encoding, the
// coordinator's state machine (join, sync, heartbeat, fencing, expiry) and the offsets file.
#include <sys/mount.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include "temp_dir.hpp"

#include "groups/group_coordinator.hpp"
#include "kbus/assignors.hpp"
#include "kbus/group_commit.hpp"

using namespace kbus;
using namespace kbus::testing;
using group::TopicPartition;
namespace fs = std::filesystem;

namespace {

group::JoinGroupRequest join_request(const std::string& member, const std::string& topic = "t",
                                     const std::string& assignor = "range") {
    group::JoinGroupRequest j;
    j.group = "g";
    j.member_id = member;
    j.client_id = "c";
    j.session_timeout_ms = 1000;
    j.protocols = {{assignor, group::encode_subscription({topic})}};
    return j;
}

groups::BoundsOf six_partitions_at(std::int64_t hw) {
    return [hw](const TopicPartition& tp) -> std::optional<groups::PartitionBounds> {
        if (tp.topic != "t" || tp.partition < 0 || tp.partition >= 6) return std::nullopt;
        return groups::PartitionBounds{0, hw};
    };
}

// Runs the leader's side: range assignment of topic t (6 partitions) over the joined members.
std::string sync_as_leader(groups::GroupCoordinator& c, const group::JoinGroupReply& j,
                           std::int64_t now) {
    std::vector<group::MemberSubscription> subs;
    for (const auto& [id, meta] : j.members)
        subs.push_back({id, group::decode_subscription(meta)});
    const group::Assignment a =
        group::assign(j.protocol, subs, [](const std::string&) { return 6; });
    group::SyncGroupRequest s{"g", j.generation, j.member_id, {}};
    for (const auto& [id, parts] : a)
        s.assignments.emplace_back(id, group::encode_assignment(parts));
    return c.sync(s, now).value();
}

}  // namespace

TEST_CASE("range and round-robin assign like Kafka's Java client", "[group]") {
    const auto six = [](const std::string& t) { return t == "a" ? 6 : 3; };
    // RangeAssignor: 6 partitions over 4 members: 2,2,1,1 in member-id order.
    group::Assignment r =
        group::assign_range({{"m3", {"a"}}, {"m1", {"a"}}, {"m2", {"a"}}, {"m4", {"a"}}}, six);
    CHECK(r["m1"] == std::vector<TopicPartition>{{"a", 0}, {"a", 1}});
    CHECK(r["m2"] == std::vector<TopicPartition>{{"a", 2}, {"a", 3}});
    CHECK(r["m3"] == std::vector<TopicPartition>{{"a", 4}});
    CHECK(r["m4"] == std::vector<TopicPartition>{{"a", 5}});
    // RoundRobinAssignor over two topics, one member subscribed to only one of them.
    group::Assignment rr = group::assign_round_robin({{"x", {"a", "b"}}, {"y", {"a"}}}, six);
    CHECK(rr["x"] ==
          std::vector<TopicPartition>{{"a", 0}, {"a", 2}, {"a", 4}, {"b", 0}, {"b", 1}, {"b", 2}});
    CHECK(rr["y"] == std::vector<TopicPartition>{{"a", 1}, {"a", 3}, {"a", 5}});
    // More members than partitions: some get nothing, none gets a partition twice.
    group::Assignment many =
        group::assign_range({{"a1", {"b"}}, {"a2", {"b"}}, {"a3", {"b"}}, {"a4", {"b"}}}, six);
    CHECK(many["a4"].empty());
    CHECK_THROWS_AS(group::assign("sticky-ish", {}, six), Error);
}

TEST_CASE("the consumer protocol encodes as Kafka's, and refuses garbage", "[group]") {
    const std::string sub = group::encode_subscription({"gps"});
    // version 0, one topic "gps", null user data
    CHECK(sub == std::string("\0\0\0\0\0\1\0\3gps\xff\xff\xff\xff", 15));
    CHECK(group::decode_subscription(sub) == std::vector<std::string>{"gps"});
    const std::vector<TopicPartition> parts{{"gps", 1}, {"gps", 0}, {"x", 7}};
    const auto back = group::decode_assignment(group::encode_assignment(parts));
    CHECK(back == std::vector<TopicPartition>{{"gps", 0}, {"gps", 1}, {"x", 7}});
    CHECK(group::decode_assignment("").empty());
    CHECK_THROWS_AS(group::decode_assignment(std::string("\0\0\x7f\xff\xff\xff", 6)), Error);
    CHECK_THROWS_AS(group::decode_subscription(std::string("\0\0\0\0\0\1\0\x09gp", 10)), Error);
}

TEST_CASE("three members join, split six partitions, and a death rebalances", "[group]") {
    TempDir d("coord", true);
    groups::OffsetStore store(d.path, sink());
    groups::GroupCoordinator c(store, sink());
    std::int64_t now = 1000;

    group::JoinGroupReply a = c.join(join_request(""), 1, now);
    REQUIRE_FALSE(a.pending);  // alone: the first round completes at once
    CHECK(a.generation == 1);
    CHECK(a.leader == a.member_id);
    const auto a_parts = group::decode_assignment(sync_as_leader(c, a, now));
    CHECK(a_parts.size() == 6);

    // b joins: a is told to rejoin by its heartbeat; the round waits for it.
    group::JoinGroupReply b = c.join(join_request(""), 2, now);
    CHECK(b.pending);
    CHECK_THROWS_MATCHES(c.heartbeat("g", 1, a.member_id, now), Error,
                         Catch::Predicate<Error>([](const Error& e) {
                             return e.code() == ErrorCode::rebalance_in_progress;
                         }));
    // a may still commit what it consumed before it rejoins (commit before revoke).
    c.commit("g", 1, a.member_id, {{{"t", 0}, 5}}, six_partitions_at(100), now);
    a = c.join(join_request(a.member_id), 1, now);
    REQUIRE_FALSE(a.pending);
    CHECK(a.generation == 2);
    b = c.join(join_request(b.member_id), 2, now);
    REQUIRE_FALSE(b.pending);
    CHECK(b.members.empty());  // only the leader sees the subscriptions
    CHECK_FALSE(c.sync({"g", 2, b.member_id, {}}, now).has_value());  // waits for the leader
    const auto a2 = group::decode_assignment(sync_as_leader(c, a, now));
    const auto b2 = group::decode_assignment(c.sync({"g", 2, b.member_id, {}}, now).value());
    CHECK(a2.size() == 3);
    CHECK(b2.size() == 3);

    // The old generation is fenced: its commit is refused and changes nothing.
    CHECK_THROWS_MATCHES(
        c.commit("g", 1, a.member_id, {{{"t", 0}, 9}}, six_partitions_at(100), now), Error,
        Catch::Predicate<Error>(
            [](const Error& e) { return e.code() == ErrorCode::illegal_generation; }));
    CHECK(store.committed("g", {"t", 0}) == 5);
    // Nor may a member commit a partition it does not own, or past the high watermark.
    CHECK_THROWS_AS(c.commit("g", 2, b.member_id, {{a2.front(), 1}}, six_partitions_at(100), now),
                    Error);
    CHECK_THROWS_AS(c.commit("g", 2, b.member_id, {{b2.front(), 101}}, six_partitions_at(100), now),
                    Error);
    c.commit("g", 2, b.member_id, {{b2.front(), 100}}, six_partitions_at(100), now);
    CHECK(store.committed("g", b2.front()) == 100);

    // b's process dies: its connection closes, a rejoins alone and gets all six.
    c.connection_closed(2, now + 10);
    a = c.join(join_request(a.member_id), 1, now + 20);
    REQUIRE_FALSE(a.pending);
    CHECK(a.generation == 3);
    CHECK(group::decode_assignment(sync_as_leader(c, a, now + 20)).size() == 6);

    // A member that stops calling is expired after its session timeout.
    c.tick(now + 20 + 1001);
    CHECK_FALSE(c.has_members("g"));
    CHECK_THROWS_AS(c.heartbeat("g", 3, a.member_id, now + 2000), Error);
    CHECK(c.describe("g", six_partitions_at(100)).state == "Empty");
}

TEST_CASE("a member that does not rejoin in time is dropped from the round", "[group]") {
    TempDir d("slow", true);
    groups::OffsetStore store(d.path, sink());
    groups::GroupCoordinator c(store, sink());
    group::JoinGroupReply a = c.join(join_request(""), 1, 0);
    (void)sync_as_leader(c, a, 0);
    group::JoinGroupReply b = c.join(join_request(""), 2, 10);
    REQUIRE(b.pending);
    c.tick(500);  // a has not rejoined yet: still waiting
    b = c.join(join_request(b.member_id), 2, 500);
    CHECK(b.pending);
    c.tick(10 + 1000);  // the round's deadline: a is removed, b completes alone
    b = c.join(join_request(b.member_id), 2, 1011);
    REQUIRE_FALSE(b.pending);
    CHECK(b.leader == b.member_id);
    CHECK(b.members.size() == 1);
    CHECK_THROWS_AS(c.join(join_request(a.member_id), 1, 1012), Error);  // unknown member
}

TEST_CASE("groups refuse bad names, mixed assignors and work on non-empty groups", "[group]") {
    TempDir d("bad", true);
    groups::OffsetStore store(d.path, sink());
    groups::GroupCoordinator c(store, sink());
    auto bad = join_request("");
    bad.group = "../etc";
    CHECK_THROWS_AS(c.join(bad, 1, 0), Error);
    group::JoinGroupReply a = c.join(join_request(""), 1, 0);
    (void)sync_as_leader(c, a, 0);
    CHECK_THROWS_MATCHES(c.join(join_request("", "t", "roundrobin"), 2, 0), Error,
                         Catch::Predicate<Error>([](const Error& e) {
                             return e.code() == ErrorCode::inconsistent_protocol;
                         }));
    CHECK_THROWS_AS(c.remove("g"), Error);                             // has members
    CHECK_THROWS_AS(c.reset("g", {{{"t", 0}, 0}}), Error);             // has members
    CHECK_THROWS_AS(c.describe("nope", six_partitions_at(0)), Error);  // unknown
    CHECK_THROWS_AS(c.commit("g", -1, "", {{{"t", 0}, 0}}, six_partitions_at(0), 0), Error);
    c.leave("g", a.member_id, 1);
    c.reset("g", {{{"t", 0}, 0}});
    CHECK(store.committed("g", {"t", 0}) == 0);
    c.remove("g");
    CHECK_FALSE(c.exists("g"));
}

TEST_CASE("a commit slot takes the owner's commits and refuses them once fenced", "[group]") {
    ring::GroupCommitSlot slot{};
    const std::uint64_t mine = group::member_token(3, "m-1");
    CHECK((mine >> 32) == 3);
    CHECK(mine != group::fence_token(3));
    group::set_slot_token(slot, mine);
    std::uint64_t expected = 0;
    CHECK(group::commit_in_slot(slot, mine, expected, 41) == group::SlotCommit::committed);
    CHECK(slot.token_and_commit.second == 42);
    std::uint64_t stale = 0;  // a wrong belief about the offset costs a retry, not a refusal
    CHECK(group::commit_in_slot(slot, mine, stale, 50) == group::SlotCommit::committed);
    CHECK(slot.token_and_commit.second == 51);
    group::set_slot_commit(slot, 7);  // a reset through the daemon keeps the token
    CHECK(slot.token_and_commit.first == mine);
    group::set_slot_token(slot, group::fence_token(4));  // a new generation began
    CHECK(group::commit_in_slot(slot, mine, expected, 60) == group::SlotCommit::fenced);
    CHECK(slot.token_and_commit.second == 8);  // unchanged
}

TEST_CASE("committed offsets survive a reopen, a torn last line and compaction", "[group]") {
    TempDir d("store", true);
    {
        groups::OffsetStore s(d.path, sink());
        s.commit("g1", {"t", 0}, 10);
        s.commit("g1", {"t", 0}, 20);
        s.commit("g1", {"u", 3}, 7);
        s.commit("g2", {"t", 0}, 1);
        s.erase_group("g2");
        s.commit("g3", {"gone", 0}, 4);
        s.erase_topic("gone");
    }
    {
        std::ofstream torn(d.path + "/__kbus_offsets", std::ios::app);
        torn << "commit g1 t 0 99";  // a crash in the middle of a line: no newline, no number
        torn << "9\ncommit g1 t";
    }
    groups::OffsetStore s(d.path, sink());
    CHECK(s.committed("g1", {"t", 0}) == 999);  // the whole line counted; the torn one did not
    CHECK(s.committed("g1", {"u", 3}) == 7);
    CHECK_FALSE(s.committed("g2", {"t", 0}).has_value());
    CHECK_FALSE(s.committed("g3", {"gone", 0}).has_value());
    CHECK(s.groups() == std::vector<std::string>{"g1"});
}

// Found by the fault harness: a kbusd restarted while its data disk was full exited at start,
// because the offset store's compaction at open could not write its temp file.
TEST_CASE("the offset store opens on a full data disk and keeps its commits", "[group]") {
    TempDir d("fullstore", true);
    {
        groups::OffsetStore store(d.path, sink());
        store.commit("g", {"t", 0}, 41);
        store.commit("g", {"t", 0}, 42);  // a superseded line: a compaction would rewrite
    }
    // A data disk that is full: a tmpfs of one page over the dir, filled (root only).
    const std::string disk = d.path + "/disk";
    std::filesystem::create_directories(disk);
    if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=64k,mode=0700") != 0) {
        WARN("cannot mount a tmpfs (needs root): skipped");
        return;
    }
    struct Unmount {
        std::string path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{disk};
    std::filesystem::copy(d.path + "/__kbus_offsets", disk + "/__kbus_offsets");
    {
        std::ofstream filler(disk + "/filler", std::ios::binary);
        const std::string block(4096, 'x');
        while (filler.write(block.data(), block.size())) {
        }
    }
    {
        groups::OffsetStore store(disk, sink());  // it used to throw "No space left on device"
        CHECK(store.committed("g", {"t", 0}) == 42);
        CHECK(std::any_of(logged.begin(), logged.end(), [](const std::string& line) {
            return line.find("cannot compact") != std::string::npos;
        }));
        std::filesystem::remove(disk + "/filler");
        store.commit("g", {"t", 1}, 7);  // appended to the file as it was
    }
    groups::OffsetStore reopened(disk, sink());
    CHECK(reopened.committed("g", {"t", 0}) == 42);
    CHECK(reopened.committed("g", {"t", 1}) == 7);
}

TEST_CASE("commit metadata and deleted offsets survive a reopen and compaction", "[group]") {
    TempDir d("store-metadata", true);
    {
        groups::OffsetStore s(d.path, sink());
        s.commit("g", {"t", 0}, 5, "a note with spaces\nand a newline");
        s.commit("g", {"t", 1}, 6, "kept");
        s.commit("g", {"t", 1}, 7);  // a later commit without metadata clears it
        s.commit("g", {"t", 2}, 8, "gone with its offset");
        s.erase_offset("g", {"t", 2});
    }
    {
        groups::OffsetStore s(d.path, sink());
        CHECK(s.committed("g", {"t", 0}) == 5);
        CHECK(s.metadata("g", {"t", 0}) == "a note with spaces\nand a newline");
        CHECK(s.committed("g", {"t", 1}) == 7);
        CHECK(s.metadata("g", {"t", 1}).empty());
        CHECK_FALSE(s.committed("g", {"t", 2}).has_value());
        CHECK(s.metadata("g", {"t", 2}).empty());
    }
    {
        // Damage in the metadata costs the metadata, not the offset.
        std::ofstream bad(d.path + "/__kbus_offsets", std::ios::app);
        bad << "commit g t 3 9 zz\n";
    }
    groups::OffsetStore s(d.path, sink());
    CHECK(s.committed("g", {"t", 3}) == 9);
    CHECK(s.metadata("g", {"t", 3}).empty());
    CHECK(s.metadata("g", {"t", 0}) == "a note with spaces\nand a newline");
}
