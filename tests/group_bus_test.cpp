// Consumer groups against a real kbusd: members in separate processes (one SIGKILLed), several
// groups, commits through a daemon crash, fencing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>

#include "daemon_fixture.hpp"
#include "kbus/group_requests.hpp"

using namespace std::chrono_literals;

namespace {

kbus::ConsumerOptions group_options(const std::string& group) {
    kbus::ConsumerOptions o;
    o.group_id = group;
    o.enable_auto_commit = false;
    return o;
}

void produce(kbus::Client& c, const std::string& topic, std::int32_t partitions, int count) {
    kbus::Producer p(c);
    for (int i = 0; i < count; ++i) {
        kbus::SendOptions o;
        o.partition = i % partitions;
        (void)p.send(topic, nullptr, std::to_string(i), o);
    }
}

// Polls every consumer in turn (a rebalance needs all of them to take part) until `done`.
template <class Done>
void poll_all(std::vector<kbus::Consumer*> consumers,
              std::vector<std::set<std::pair<int, std::int64_t>>>& seen, Done done,
              std::chrono::seconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        for (std::size_t i = 0; i < consumers.size(); ++i)
            for (const kbus::Message& m : consumers[i]->poll(5ms))
                seen[i].insert({m.partition(), m.offset()});
    }
}

std::size_t total(const std::vector<std::set<std::pair<int, std::int64_t>>>& seen) {
    std::size_t n = 0;
    for (const auto& s : seen)
        n += s.size();
    return n;
}

bool group_is(kbus::Client& c, const std::string& group, const std::string& state,
              std::size_t members) {
    try {
        const auto d = kbus::group::describe(c, group);
        return d.state == state && d.members.size() == members;
    } catch (const kbus::Error&) {
        return false;
    }
}

// A member process: reads its partitions, appends "partition offset" lines to `out` (flushed)
// and then commits; exits when `stop` exists and it has nothing left.
[[noreturn]] void member_process(const DaemonFixture& d, const std::string& out,
                                 const std::string& stop) {
    int rc = 0;
    try {
        kbus::Client c(d.options());
        kbus::Consumer con(c, group_options("workers"));
        con.subscribe("orders");
        std::ofstream log(out);
        for (;;) {
            const kbus::Batch& b = con.poll(20ms);
            for (const kbus::Message& m : b)
                log << m.partition() << ' ' << m.offset() << '\n';
            log.flush();
            if (!b.empty()) {
                try {
                    con.commit_sync();
                } catch (const kbus::Error& e) {
                    // Fenced by a rebalance: the new owner starts from the last commit.
                }
            }
            if (b.empty() && std::filesystem::exists(stop) && con.in_group() && con.at_end()) break;
        }
        con.close();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "member: %s\n", e.what());
        rc = 2;
    }
    ::_exit(rc);
}

}  // namespace

TEST_CASE(
    "3 member processes over 6 partitions: each record once, a SIGKILLed member's "
    "partitions resume from its last commit",
    "[group][integration]") {
    DaemonFixture d("grp3");
    kbus::Client c(d.options());
    c.create_topic("orders", 6);
    const std::string stop = d.dir + "/stop";
    std::vector<pid_t> pids;
    for (int i = 0; i < 3; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) member_process(d, d.dir + "/member" + std::to_string(i), stop);
        pids.push_back(pid);
    }
    auto wait_for = [&](auto cond, const char* what) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!cond()) {
            INFO(what);
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(10ms);
        }
    };
    wait_for([&] { return group_is(c, "workers", "Stable", 3); }, "3 members stable");
    const auto before = kbus::group::describe(c, "workers");
    for (const auto& m : before.members)
        CHECK(m.assignment.size() == 2);  // range: 6 partitions over 3 members

    constexpr int per_phase = 3000;
    produce(c, "orders", 6, per_phase);
    // Let the members commit some, then kill one mid-stream.
    wait_for(
        [&] {
            for (const auto& p : kbus::group::describe(c, "workers").partitions)
                if (p.committed <= 0) return false;
            return true;
        },
        "every partition has a commit");
    ::kill(pids[0], SIGKILL);
    int status = 0;
    ::waitpid(pids[0], &status, 0);
    const auto rebalance_start = std::chrono::steady_clock::now();
    wait_for([&] { return group_is(c, "workers", "Stable", 2); }, "2 members stable");
    const auto rebalance = std::chrono::steady_clock::now() - rebalance_start;
    CHECK(rebalance < 5s);  // a generous bound (the benchmark measures it)
    produce(c, "orders", 6, per_phase);
    wait_for(
        [&] {
            for (const auto& p : kbus::group::describe(c, "workers").partitions)
                if (p.committed != p.log_end) return false;
            return true;
        },
        "no lag left");
    { std::ofstream(stop).put('\n'); }
    for (std::size_t i = 1; i < pids.size(); ++i) {
        ::waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }

    // Every record was read; a record read twice was read first by the killed member after its
    // last commit (a partition is never read by two live members).
    std::map<std::pair<int, std::int64_t>, int> reads;
    std::set<std::pair<int, std::int64_t>> by_killed;
    for (int i = 0; i < 3; ++i) {
        std::ifstream in(d.dir + "/member" + std::to_string(i));
        int p;
        std::int64_t o;
        while (in >> p >> o) {
            ++reads[{p, o}];
            if (i == 0) by_killed.insert({p, o});
        }
    }
    CHECK(reads.size() == std::size_t(2 * per_phase));
    for (int p = 0; p < 6; ++p)
        for (std::int64_t o = 0; o < 2 * per_phase / 6; ++o) {
            INFO("partition " << p << " offset " << o);
            REQUIRE(reads.count({p, o}) == 1);
            if (reads[{p, o}] > 1) {
                CHECK(reads[{p, o}] == 2);
                CHECK(by_killed.count({p, o}) == 1);
            }
        }
    CHECK(group_is(c, "workers", "Empty", 0));
}

TEST_CASE("groups each see everything and new groups start at auto.offset.reset", "[group]") {
    DaemonFixture d("grp2");
    kbus::Client c(d.options());
    c.create_topic("events", 3);
    produce(c, "events", 3, 300);

    kbus::Consumer a(c, group_options("a")), b(c, group_options("b"));
    a.subscribe("events");
    b.subscribe("events");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen(2);
    poll_all({&a, &b}, seen, [&] { return seen[0].size() == 300 && seen[1].size() == 300; });
    a.commit_sync();

    kbus::ConsumerOptions latest = group_options("late");
    latest.auto_offset_reset = kbus::OffsetReset::latest;
    kbus::Consumer fresh(c, group_options("fresh")), late(c, latest);
    fresh.subscribe("events");
    late.subscribe("events");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen2(2);
    poll_all({&fresh, &late}, seen2, [&] { return late.in_group() && seen2[0].size() == 300; });
    CHECK(seen2[1].empty());
    produce(c, "events", 3, 30);
    poll_all({&fresh, &late}, seen2, [&] { return seen2[1].size() == 30; });
    for (const auto& [p, o] : seen2[1])
        CHECK(o >= 100);  // only what came after it joined

    // A member of "a" that rejoins after a restart of itself picks up from a's commit.
    a.close();
    kbus::Consumer again(c, group_options("a"));
    again.subscribe("events");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen3(1);
    poll_all({&again}, seen3, [&] { return seen3[0].size() == 30; });
    for (const auto& [p, o] : seen3[0])
        CHECK(o >= 100);
}

TEST_CASE(
    "a graceful rebalance commits first and duplicates nothing, and a fenced commit is refused",
    "[group]") {
    DaemonFixture d("grpfence");
    kbus::Client c(d.options());
    c.create_topic("jobs", 4);
    produce(c, "jobs", 4, 400);

    struct Counting : kbus::RebalanceListener {
        int assigned = 0, revoked = 0, lost = 0;
        void on_partitions_assigned(kbus::Consumer&,
                                    const std::vector<kbus::group::TopicPartition>&) override {
            ++assigned;
        }
        void on_partitions_revoked(kbus::Consumer& c,
                                   const std::vector<kbus::group::TopicPartition>& p) override {
            ++revoked;
            CHECK(c.assignment().size() == p.size());  // still owned while revoked runs
        }
        void on_partitions_lost(kbus::Consumer&,
                                const std::vector<kbus::group::TopicPartition>&) override {
            ++lost;
        }
    } listener;
    kbus::ConsumerOptions auto_commit = group_options("g");
    auto_commit.enable_auto_commit = true;
    auto_commit.max_poll_records = 50;
    auto_commit.rebalance_listener = &listener;
    kbus::Consumer first(c, auto_commit);
    first.subscribe("jobs");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen(2);
    poll_all({&first}, seen, [&] { return seen[0].size() == 400; });  // nothing committed yet
    // A second member joins: the first commits what it read before it gives partitions up, so
    // the second starts after it.
    kbus::Consumer second(c, auto_commit);
    second.subscribe("jobs");
    poll_all({&first, &second}, seen, [&] {
        return first.in_group() && second.in_group() && second.assignment().size() == 2;
    });
    CHECK(first.assignment().size() == 2);
    CHECK(listener.assigned >= 2);  // all four, then two
    CHECK(listener.revoked >= 1);
    CHECK(listener.lost == 0);
    produce(c, "jobs", 4, 400);
    poll_all({&first, &second}, seen, [&] { return total(seen) >= 800; });
    CHECK(total(seen) == 800);  // nothing read twice
    for (const auto& r : seen[0])
        CHECK(seen[1].count(r) == 0);

    // The first member stalls past its session: the group drops it and gives all to the second.
    const std::int32_t stale_generation = first.generation();
    const auto stall_end = std::chrono::steady_clock::now() + 2500ms;
    while (std::chrono::steady_clock::now() < stall_end)
        (void)second.poll(10ms);
    CHECK(second.assignment().size() == 4);
    CHECK(second.generation() > stale_generation);
    const std::int32_t second_generation = second.generation();
    const auto before = kbus::group::describe(c, "g");
    CHECK_THROWS_AS(first.commit_sync(), kbus::Error);  // fenced: refused
    const auto after = kbus::group::describe(c, "g");
    for (std::size_t i = 0; i < before.partitions.size(); ++i)
        CHECK(after.partitions[i].committed == before.partitions[i].committed);
    // Its next poll finds out, drops its partitions and rejoins.
    poll_all({&first, &second}, seen, [&] {
        return first.generation() > second_generation && first.in_group() && second.in_group() &&
               first.assignment().size() == 2;
    });
    CHECK(listener.lost == 1);  // fenced: lost, not revoked (no commit)

    // Seeking by time works on a group's partitions as on any.
    std::this_thread::sleep_for(5ms);
    const std::int64_t before_more = kbus::detail::wall_clock_ms();
    produce(c, "jobs", 4, 8);
    for (const auto& tp : first.assignment())
        first.seek(tp.topic, tp.partition, kbus::OffsetSpec::at_timestamp(before_more));
    std::vector<std::set<std::pair<int, std::int64_t>>> late(2);
    poll_all({&first, &second}, late, [&] { return late[0].size() + late[1].size() == 8; });
    CHECK(late[0].size() == 4);  // from the seek: only the 4 new records of its 2 partitions
    for (const auto& [p, o] : late[0])
        CHECK(o >= 200);
}

TEST_CASE("committed offsets survive a daemon SIGKILL and restart", "[group]") {
    DaemonFixture d("grpcrash");
    {
        kbus::Client c(d.options());
        c.create_topic("log", 2);
        produce(c, "log", 2, 100);
        kbus::Consumer con(c, group_options("keeper"));
        con.subscribe("log");
        std::vector<std::set<std::pair<int, std::int64_t>>> seen(1);
        poll_all({&con}, seen, [&] { return seen[0].size() == 100; });
        // A member's commit lands in the ring's commit slot; the daemon dies before it could
        // have written it to its file: the restarted daemon reads it back from the ring.
        con.commit_sync({{{"log", 0}, 20}, {{"log", 1}, 30}});
        d.kill_hard();
    }
    d.restart();
    kbus::Client c(d.options());
    const auto desc = kbus::group::describe(c, "keeper");
    REQUIRE(desc.partitions.size() == 2);
    CHECK(desc.partitions[0].committed == 20);
    CHECK(desc.partitions[1].committed == 30);
    CHECK(desc.partitions[0].log_end == 50);
    kbus::Consumer con(c, group_options("keeper"));
    con.subscribe("log");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen(1);
    poll_all({&con}, seen, [&] { return seen[0].size() == 30 + 20; });
    CHECK(*seen[0].begin() == std::pair<int, std::int64_t>{0, 20});
    CHECK(seen[0].count({1, 29}) == 0);
    CHECK(seen[0].count({1, 30}) == 1);
}

TEST_CASE("a member rides through a daemon SIGKILL, committing before it rejoins", "[group]") {
    DaemonFixture d("grpride");
    kbus::Client c(d.options());
    c.create_topic("feed", 2);
    produce(c, "feed", 2, 100);
    kbus::ConsumerOptions o = group_options("rider");
    o.enable_auto_commit = true;  // at close or revoke; the interval is far off
    o.auto_commit_interval = std::chrono::minutes(10);
    kbus::Consumer con(c, o);
    con.subscribe("feed");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen(1);
    poll_all({&con}, seen, [&] { return seen[0].size() == 100; });
    d.kill_hard();
    d.restart();
    // The member learns the new daemon does not know it, commits through its (still unfenced)
    // commit slots, rejoins and goes on: nothing read twice.
    produce(c, "feed", 2, 50);
    std::vector<std::set<std::pair<int, std::int64_t>>> after(1);
    poll_all({&con}, after, [&] { return con.in_group() && after[0].size() >= 50; });
    std::this_thread::sleep_for(50ms);
    for (int i = 0; i < 5; ++i)
        for (const kbus::Message& m : con.poll(10ms))
            after[0].insert({m.partition(), m.offset()});
    CHECK(after[0].size() == 50);
    for (const auto& r : after[0])
        CHECK(seen[0].count(r) == 0);
}

TEST_CASE("group bad input: names, unknown groups, commits beyond the end or not owned",
          "[group]") {
    DaemonFixture d("grpbad");
    kbus::Client c(d.options());
    c.create_topic("t", 2);
    produce(c, "t", 2, 10);
    CHECK_THROWS_AS(kbus::group::describe(c, "nope"), kbus::Error);
    CHECK_THROWS_AS(
        kbus::group::reset_offsets(c, "nope", "t", kbus::protocol::OffsetSpecKind::end, 0),
        kbus::Error);
    kbus::ConsumerOptions bad = group_options("no/slash");
    kbus::Consumer b(c, bad);
    CHECK_THROWS_AS(b.subscribe("t"), kbus::Error);

    kbus::Consumer con(c, group_options("g"));
    con.subscribe("t");
    std::vector<std::set<std::pair<int, std::int64_t>>> seen(1);
    poll_all({&con}, seen, [&] { return seen[0].size() == 10; });
    CHECK_THROWS_AS(con.commit_sync({{{"t", 0}, 6}}), kbus::Error);   // high watermark is 5
    CHECK_THROWS_AS(con.commit_sync({{{"t", 9}, 0}}), kbus::Error);   // no such partition
    CHECK_THROWS_AS(con.commit_sync({{{"zz", 0}, 0}}), kbus::Error);  // no such topic
    CHECK_THROWS_AS(kbus::group::remove(c, "g"), kbus::Error);        // has a member
    con.commit_sync({{{"t", 0}, 5}});
    CHECK(con.committed("t", 0) == 5);
    // Whatever a process that maps the ring writes into a commit slot, the daemon persists no
    // offset beyond the high watermark.
    kbus::ring::RingHeader& h = c.ring(*c.topic("t"), 0, false).header();
    bool forged = false;
    for (auto& slot : h.group_commits)
        if (kbus::group::slot_group(slot) == "g") {
            kbus::group::set_slot_commit(slot, 1'000'000);
            forged = true;
        }
    REQUIRE(forged);
    CHECK(con.committed("t", 0) == 5);
    CHECK(d.log_text().find("ignored a commit slot") != std::string::npos);
    // The daemon still serves everyone.
    CHECK(c.list_topics() == std::vector<std::string>{"t"});
}
