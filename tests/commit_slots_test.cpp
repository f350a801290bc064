// CommitSlots, the daemon's side of group commits by compare-and-swap in the rings
// (group_commit.hpp), over partitions whose rings are in ordinary memory: grants, fencing,
// persisting to the offset store, mirroring request-path commits, freeing, and slots holding
// what a client should not have written there.
#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "groups/commit_slots.hpp"
#include "kbus/group_commit.hpp"
#include "test_ring.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
using group::TopicPartition;

namespace {

// Partitions hosting commit slots, each with a ring in ordinary memory at a given high watermark.
struct FakeHosts final : groups::SlotHosts {
    struct Host {
        TopicPartition tp;
        TestRing ring{64 * 1024};
        groups::PersistedCommits persisted{};
    };
    std::vector<std::unique_ptr<Host>> hosts;
    int scans = 0;    // for_each calls: every partition looked at
    int lookups = 0;  // find calls: one partition

    Host& add(const std::string& topic, std::int32_t partition, std::uint64_t high_watermark) {
        auto h = std::make_unique<Host>();
        h->tp = {topic, partition};
        h->ring.ref.header().claim.next_offset_and_tail.first = high_watermark;
        hosts.push_back(std::move(h));
        return *hosts.back();
    }
    void for_each(const std::function<void(groups::SlotHost&)>& visit) override {
        ++scans;
        for (auto& h : hosts) {
            groups::SlotHost host{h->tp, &h->ring.ref.header(), &h->persisted, nullptr};
            visit(host);
        }
    }
    std::optional<groups::SlotHost> find(const TopicPartition& tp) override {
        ++lookups;
        for (auto& h : hosts)
            if (h->tp == tp)
                return groups::SlotHost{h->tp, &h->ring.ref.header(), &h->persisted, {}};
        return std::nullopt;
    }
};

struct Slots {
    LogLines log;
    TempDir dir;
    FakeHosts hosts;
    groups::OffsetStore store;
    groups::CommitSlots slots;
    FakeHosts::Host& t0;
    FakeHosts::Host& t1;

    explicit Slots(const std::string& name)
        : dir("slots-" + name, true),
          store(dir.path, log.sink()),
          slots(hosts, store, log.sink()),
          t0(hosts.add("t", 0, 100)),
          t1(hosts.add("t", 1, 100)) {}

    ring::GroupCommitSlot& slot(FakeHosts::Host& h, const group::CommitGrant& g) {
        return h.ring.ref.header().group_commits[g.slot];
    }
    // Writes a slot as a client could: any name, any offset, a live token.
    ring::GroupCommitSlot& forge(FakeHosts::Host& h, std::uint32_t index, const std::string& name,
                                 std::uint64_t commit) {
        ring::GroupCommitSlot& s = h.ring.ref.header().group_commits[index];
        s.name_length = std::uint32_t(name.size());
        std::memcpy(s.name, name.data(), std::min(name.size(), ring::group_name_capacity));
        s.token_and_commit = {group::member_token(1, "m"), commit};
        return s;
    }
};

}  // namespace

TEST_CASE("grant gives a member a slot holding its group's committed offset, and its token",
          "[commit-slots]") {
    Slots s("grant");
    s.store.commit("g", {"t", 0}, 41);
    const auto grants = s.slots.grant("g", 3, "member-a", {{"t", 0}, {"t", 1}});
    REQUIRE(grants.size() == 2);
    CHECK(grants[0].topic == "t");
    CHECK(grants[0].partition == 0);
    CHECK(grants[1].partition == 1);
    const std::uint64_t token = group::member_token(3, "member-a");
    for (const auto& g : grants)
        CHECK(g.token == token);

    const ring::GroupCommitSlot& at0 = s.slot(s.t0, grants[0]);
    CHECK(group::slot_group(at0) == "g");
    CHECK(group::slot_token(at0) == token);
    CHECK(group::slot_commit(at0) == 42);  // offset + 1
    const ring::GroupCommitSlot& at1 = s.slot(s.t1, grants[1]);
    CHECK(group::slot_commit(at1) == 0);  // nothing committed there yet
    CHECK(s.slots.persist() == 0);        // what a grant put there is already stored
}

TEST_CASE("a group has one slot per partition: a later grant reuses it", "[commit-slots]") {
    Slots s("reuse");
    const auto first = s.slots.grant("g", 1, "a", {{"t", 0}});
    const auto second = s.slots.grant("g", 2, "b", {{"t", 0}});
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    CHECK(second[0].slot == first[0].slot);
    CHECK(group::slot_token(s.slot(s.t0, second[0])) == group::member_token(2, "b"));
    const auto other = s.slots.grant("h", 1, "a", {{"t", 0}});
    REQUIRE(other.size() == 1);
    CHECK(other[0].slot != first[0].slot);
}

TEST_CASE("a member's slot commit works until fence replaces its token", "[commit-slots]") {
    Slots s("fence");
    const auto grants = s.slots.grant("g", 1, "a", {{"t", 0}});
    REQUIRE(grants.size() == 1);
    ring::GroupCommitSlot& slot = s.slot(s.t0, grants[0]);
    std::uint64_t expected = 0;
    CHECK(group::commit_in_slot(slot, grants[0].token, expected, 10) ==
          group::SlotCommit::committed);
    CHECK(expected == 11);
    expected = 0;  // a stale belief about the slot costs a retry, not the commit
    CHECK(group::commit_in_slot(slot, grants[0].token, expected, 12) ==
          group::SlotCommit::committed);
    CHECK(group::slot_commit(slot) == 13);

    s.slots.fence("g", 2);
    CHECK(group::slot_token(slot) == group::fence_token(2));
    CHECK(group::commit_in_slot(slot, grants[0].token, expected, 50) == group::SlotCommit::fenced);
    CHECK(group::slot_commit(slot) == 13);  // the fenced commit changed nothing
    CHECK(group::slot_group(slot) == "g");  // the slot stays the group's

    // The next generation's grant hands out a token that works again.
    const auto next = s.slots.grant("g", 2, "a", {{"t", 0}});
    REQUIRE(next.size() == 1);
    CHECK(next[0].slot == grants[0].slot);
    CHECK(group::commit_in_slot(slot, next[0].token, expected, 20) == group::SlotCommit::committed);
}

TEST_CASE("fence touches only the fenced group's slots", "[commit-slots]") {
    Slots s("fence-other");
    const auto g = s.slots.grant("g", 1, "a", {{"t", 0}});
    const auto h = s.slots.grant("h", 1, "a", {{"t", 0}});
    s.slots.fence("g", 2);
    CHECK(group::slot_token(s.slot(s.t0, h[0])) == h[0].token);
    std::uint64_t expected = 0;
    CHECK(group::commit_in_slot(s.slot(s.t0, h[0]), h[0].token, expected, 5) ==
          group::SlotCommit::committed);
}

TEST_CASE("persist writes what changed in the slots to the offset store and says how many",
          "[commit-slots]") {
    Slots s("persist");
    const auto grants = s.slots.grant("g", 1, "a", {{"t", 0}, {"t", 1}});
    REQUIRE(grants.size() == 2);
    CHECK(s.slots.persist() == 0);
    std::uint64_t e0 = 0, e1 = 0;
    REQUIRE(group::commit_in_slot(s.slot(s.t0, grants[0]), grants[0].token, e0, 7) ==
            group::SlotCommit::committed);
    REQUIRE(group::commit_in_slot(s.slot(s.t1, grants[1]), grants[1].token, e1, 9) ==
            group::SlotCommit::committed);
    CHECK(s.slots.persist() == 2);
    CHECK(s.store.committed("g", {"t", 0}) == 7);
    CHECK(s.store.committed("g", {"t", 1}) == 9);
    CHECK(s.slots.persist() == 0);  // nothing new

    REQUIRE(group::commit_in_slot(s.slot(s.t0, grants[0]), grants[0].token, e0, 8) ==
            group::SlotCommit::committed);
    CHECK(s.slots.persist() == 1);
    CHECK(s.store.committed("g", {"t", 0}) == 8);

    // Durable: the store read back from its file has them.
    groups::OffsetStore reread(s.dir.path, s.log.sink());
    CHECK(reread.committed("g", {"t", 0}) == 8);
    CHECK(reread.committed("g", {"t", 1}) == 9);
}

TEST_CASE(
    "a slot offset at the high watermark is persisted, one beyond it is ignored with one "
    "warning",
    "[commit-slots]") {
    Slots s("bounds");
    s.forge(s.t0, 0, "g", 100 + 1);  // offset 100: the high watermark, "all consumed"
    s.forge(s.t1, 0, "g", 101 + 1);  // offset 101: beyond it
    CHECK(s.slots.persist() == 1);
    CHECK(s.store.committed("g", {"t", 0}) == 100);
    CHECK_FALSE(s.store.committed("g", {"t", 1}));
    CHECK(s.log.count("WARN", "holding offset 101") == 1);
    for (int i = 0; i < 5; ++i)
        CHECK(s.slots.persist() == 0);
    CHECK(s.log.count("WARN", "ignored a commit slot") == 1);  // once, not once per look

    // A good commit in that slot later is taken.
    s.t1.ring.ref.header().group_commits[0].token_and_commit.second = 51;
    CHECK(s.slots.persist() == 1);
    CHECK(s.store.committed("g", {"t", 1}) == 50);
}

TEST_CASE("a slot holding a bad group name is ignored with one warning", "[commit-slots]") {
    Slots s("bad-name");
    s.forge(s.t0, 0, "a group", 5);              // a space: would break the offsets file
    s.forge(s.t0, 1, "../../etc", 5);            // a path
    s.forge(s.t0, 2, "", 5);                     // empty
    s.forge(s.t0, 3, std::string(300, 'x'), 5);  // longer than a group name may be
    ring::GroupCommitSlot& huge = s.forge(s.t1, 0, "ok", 5);
    huge.name_length = 0xffffffff;  // a length past the name's capacity is clamped, not trusted
    CHECK(s.slots.persist() == 0);
    CHECK(s.store.groups().empty());
    CHECK(s.log.count("WARN", "ignored a commit slot") == 5);
    CHECK(s.slots.persist() == 0);
    CHECK(s.log.count("WARN", "ignored a commit slot") == 5);
}

TEST_CASE("mirror puts a request-path commit into the group's slots, persisted already",
          "[commit-slots]") {
    Slots s("mirror");
    const auto g = s.slots.grant("g", 1, "a", {{"t", 0}, {"t", 1}});
    const auto h = s.slots.grant("h", 1, "a", {{"t", 0}});
    REQUIRE(g.size() == 2);
    // The request path wrote the store itself, then mirrors the commit into the slot.
    s.store.commit("g", {"t", 0}, 30);
    s.slots.mirror("g", {{{"t", 0}, 30}});
    CHECK(group::slot_commit(s.slot(s.t0, g[0])) == 31);
    CHECK(group::slot_token(s.slot(s.t0, g[0])) == g[0].token);  // the owner keeps committing
    CHECK(group::slot_commit(s.slot(s.t1, g[1])) == 0);          // not in the list: untouched
    CHECK(group::slot_commit(s.slot(s.t0, h[0])) == 0);          // another group's: untouched
    CHECK(s.slots.persist() == 0);  // no second write of the same commit
    // The member then commits past it in its slot.
    std::uint64_t expected = 31;
    REQUIRE(group::commit_in_slot(s.slot(s.t0, g[0]), g[0].token, expected, 35) ==
            group::SlotCommit::committed);
    CHECK(s.slots.persist() == 1);
    CHECK(s.store.committed("g", {"t", 0}) == 35);
    // A group without slots: nothing to mirror into, nothing happens.
    s.slots.mirror("nobody", {{{"t", 0}, 3}});
    CHECK(group::slot_commit(s.slot(s.t0, g[0])) == 36);
}

TEST_CASE("free releases a group's slots: its tokens fail, and the slots serve other groups",
          "[commit-slots]") {
    Slots s("free");
    const auto g = s.slots.grant("g", 1, "a", {{"t", 0}});
    REQUIRE(g.size() == 1);
    ring::GroupCommitSlot& slot = s.slot(s.t0, g[0]);
    std::uint64_t expected = 0;
    REQUIRE(group::commit_in_slot(slot, g[0].token, expected, 4) == group::SlotCommit::committed);
    s.slots.free("g");
    CHECK(group::slot_token(slot) == 0);
    CHECK(group::commit_in_slot(slot, g[0].token, expected, 9) == group::SlotCommit::fenced);
    CHECK(s.slots.persist() == 0);  // a free slot is never persisted
    CHECK_FALSE(s.store.committed("g", {"t", 0}));

    const auto h = s.slots.grant("h", 1, "b", {{"t", 0}});
    REQUIRE(h.size() == 1);
    CHECK(h[0].slot == g[0].slot);
    CHECK(group::slot_group(slot) == "h");
    CHECK(group::slot_commit(slot) == 0);  // h's own committed offset (none), not g's
}

TEST_CASE("a ring with every commit slot taken gives no grant, other partitions still do",
          "[commit-slots]") {
    Slots s("full");
    for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i)
        REQUIRE(s.slots.grant("g" + std::to_string(i), 1, "a", {{"t", 0}}).size() == 1);
    const auto grants = s.slots.grant("late", 1, "a", {{"t", 0}, {"t", 1}});
    REQUIRE(grants.size() == 1);  // commits for t-0 go through the socket
    CHECK(grants[0].partition == 1);
    // A group that has its slot keeps getting it.
    CHECK(s.slots.grant("g3", 2, "a", {{"t", 0}}).size() == 1);
    // Freeing one makes room.
    s.slots.free("g5");
    CHECK(s.slots.grant("late", 1, "a", {{"t", 0}}).size() == 1);
}

TEST_CASE("a partition that hosts no slots (unknown or deleted) gets no grant", "[commit-slots]") {
    Slots s("unknown");
    const auto grants = s.slots.grant("g", 1, "a", {{"gone", 0}, {"t", 7}, {"t", 1}});
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].partition == 1);
}

TEST_CASE("a commit the offset store cannot write stays pending until the next persist",
          "[commit-slots]") {
    Slots s("store-fails");
    const auto g = s.slots.grant("g", 1, "a", {{"t", 0}});
    REQUIRE(g.size() == 1);
    std::uint64_t expected = 0;
    REQUIRE(group::commit_in_slot(s.slot(s.t0, g[0]), g[0].token, expected, 6) ==
            group::SlotCommit::committed);
    // The process may not grow files any more: the store's write fails as on a full disk.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit tight = old;
    tight.rlim_cur = std::filesystem::file_size(s.dir.path + "/__kbus_offsets");
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    const std::size_t written = s.slots.persist();
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(written == 0);
    CHECK(s.log.count("ERROR", "cannot persist a commit") == 1);
    CHECK_FALSE(s.store.committed("g", {"t", 0}));
    CHECK(s.slots.persist() == 1);
    CHECK(s.store.committed("g", {"t", 0}) == 6);
}

TEST_CASE("persist looks at the partitions holding a taken slot, after one scan of every ring",
          "[commit-slots]") {
    Slots s("taken-only");
    for (std::int32_t p = 0; p < 200; ++p)
        (void)s.hosts.add("idle", p, 100);
    FakeHosts::Host& left = s.hosts.add("u", 5, 100);
    s.forge(left, 3, "crashed", 42);  // a slot a crashed daemon's member committed in
    CHECK(s.slots.persist() == 1);    // the first look scans every ring and adopts it
    CHECK(s.store.committed("crashed", {"u", 5}) == 41);
    CHECK(s.hosts.scans == 1);

    const int lookups = s.hosts.lookups;
    CHECK(s.slots.persist() == 0);
    CHECK(s.hosts.scans == 1);              // no scan of the 203 partitions again
    CHECK(s.hosts.lookups == lookups + 1);  // only the one holding a slot
    const auto grants = s.slots.grant("g", 1, "a", {{"t", 0}});
    REQUIRE(grants.size() == 1);
    std::uint64_t expected = 0;
    REQUIRE(group::commit_in_slot(s.slot(s.t0, grants[0]), grants[0].token, expected, 7) ==
            group::SlotCommit::committed);
    CHECK(s.slots.persist() == 1);  // a granted partition is looked at from then on
    CHECK(s.store.committed("g", {"t", 0}) == 7);
    s.slots.free("g");
    s.slots.free("crashed");
    (void)s.slots.persist();
    const int after_free = s.hosts.lookups;
    CHECK(s.slots.persist() == 0);
    CHECK(s.hosts.lookups == after_free);  // nothing taken, nothing looked at
    CHECK(s.hosts.scans == 1);
}
