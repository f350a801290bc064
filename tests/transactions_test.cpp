// Transactions on shared memory, over a real kbusd (issue 20, item 2): a transactional producer's
// commit and abort, read_committed and read_uncommitted consumers on the ring and from the log,
// the last stable offset, Kafka's control batches and aborted-transactions index on disk, and
// the coordinator aborting what a timeout, a dead producer or a restarted kbusd leaves open.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon_fixture.hpp"
#include "kbus/detail/big_endian.hpp"
#include "kbus/log/record_batch_descriptor.hpp"
#include "segment_batches.hpp"

using namespace std::chrono_literals;

using kbus::test::wait_spilled;

namespace {

struct Seen {
    std::int32_t partition;
    std::int64_t offset;
    std::string value;
};

kbus::ConsumerOptions isolation(kbus::IsolationLevel level) {
    kbus::ConsumerOptions o;
    o.isolation_level = level;
    return o;
}

// Every record a consumer of the whole topic returns until `idle` passes without one.
std::vector<Seen> read_all(kbus::Client& c, const std::string& topic, kbus::IsolationLevel level,
                           std::chrono::milliseconds idle = 500ms) {
    kbus::Consumer con(c, isolation(level));
    const auto description = c.describe_topic(topic);
    for (const auto& p : description.partitions)
        con.assign(topic, p.partition, kbus::OffsetSpec::beginning());
    std::vector<Seen> out;
    for (auto quiet_since = std::chrono::steady_clock::now();
         std::chrono::steady_clock::now() - quiet_since < idle;) {
        for (const auto& m : con.poll(20ms)) {
            out.push_back({m.partition(), m.offset(), std::string(m.value().str())});
            quiet_since = std::chrono::steady_clock::now();
        }
    }
    return out;
}

std::vector<std::string> values_of(const std::vector<Seen>& seen) {
    std::vector<std::string> v;
    for (const auto& s : seen)
        v.push_back(s.value);
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> named(const std::string& prefix, int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i)
        v.push_back(prefix + std::to_string(i));
    return v;
}

void send_to(kbus::Producer& p, const std::string& topic, std::int32_t partition,
             const std::string& value) {
    kbus::SendOptions o;
    o.partition = partition;
    (void)p.send(topic, "k", value, o);
}

template <class F>
kbus::ErrorCode code_of(F f) {
    try {
        f();
    } catch (const kbus::Error& e) {
        return e.code();
    }
    return kbus::ErrorCode::ok;
}

// Three transactions over two partitions: committed (10 each), aborted (5 each), committed (3).
void three_transactions(kbus::Producer& p, const std::string& topic) {
    p.begin_transaction();
    for (int i = 0; i < 10; ++i) {
        send_to(p, topic, 0, "c1-" + std::to_string(i));
        send_to(p, topic, 1, "c1-" + std::to_string(10 + i));
    }
    p.commit_transaction();
    p.begin_transaction();
    for (int i = 0; i < 5; ++i) {
        send_to(p, topic, 0, "a2-" + std::to_string(i));
        send_to(p, topic, 1, "a2-" + std::to_string(5 + i));
    }
    p.abort_transaction();
    p.begin_transaction();
    for (int i = 0; i < 3; ++i)
        send_to(p, topic, 0, "c3-" + std::to_string(i));
    p.commit_transaction();
}

std::vector<std::string> committed_values() {
    std::vector<std::string> v = named("c1-", 20);
    for (const auto& s : named("c3-", 3))
        v.push_back(s);
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> every_value() {
    std::vector<std::string> v = committed_values();
    for (const auto& s : named("a2-", 10))
        v.push_back(s);
    std::sort(v.begin(), v.end());
    return v;
}

// Runs `body` in a child process, which then waits to be killed; returns its pid and what
// `body` returned, once it has. What the child must hold when it is killed (a connection, an
// open transaction) `body` makes with new, never to be destroyed.
std::pair<pid_t, char> child_until_killed(const std::function<char()>& body) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(ready[0]);
        const char said = body();
        (void)!::write(ready[1], &said, 1);
        for (;;)
            ::pause();
    }
    ::close(ready[1]);
    char said = 0;
    REQUIRE(::read(ready[0], &said, 1) == 1);
    ::close(ready[0]);
    return {child, said};
}

}  // namespace

TEST_CASE("read_committed consumers get committed transactions only, on the ring and from disk",
          "[transactions]") {
    DaemonFixture d("txn-basic");
    std::int64_t producer_id = -1;
    {
        kbus::Client c(d.options());
        c.create_topic("orders", 2);
        kbus::Producer p(c, {.transactional_id = "shop"});
        producer_id = p.producer_id();
        three_transactions(p, "orders");
        // On the ring (the records are still there).
        CHECK(values_of(read_all(c, "orders", kbus::IsolationLevel::read_committed)) ==
              committed_values());
        CHECK(values_of(read_all(c, "orders", kbus::IsolationLevel::read_uncommitted)) ==
              every_value());
        wait_spilled(c, "orders");
    }
    // A clean restart with no client left: the rings go, every record is read from the log.
    CHECK(d.stop() == 0);
    d.restart();
    kbus::Client c(d.options());
    const std::vector<Seen> committed = read_all(c, "orders", kbus::IsolationLevel::read_committed);
    CHECK(values_of(committed) == committed_values());
    CHECK(values_of(read_all(c, "orders", kbus::IsolationLevel::read_uncommitted)) ==
          every_value());
    // Each marker took an offset: partition 0 holds 10 + marker + 5 + marker + 3 + marker.
    std::map<std::string, std::int64_t> offset_of;
    for (const auto& s : committed)
        if (s.partition == 0) offset_of[s.value] = s.offset;
    CHECK(offset_of["c1-0"] == 0);
    CHECK(offset_of["c3-0"] == 17);
    CHECK(c.describe_topic("orders").partitions.at(0).high_watermark == 21);

    SECTION("the log holds Kafka's control batches and aborted-transactions index") {
        bool sound = false;
        const auto batches = kbus::test::batches_on_disk(d.data_dir() + "/orders-0", &sound);
        REQUIRE(sound);
        std::vector<kbus::log::ControlType> markers;
        for (const auto& b : batches) {
            CHECK(b.producer_id == producer_id);
            CHECK(b.transactional);
            if (b.control) {
                CHECK(b.records == 1);
                CHECK(b.base_sequence == -1);
                REQUIRE(b.marker.has_value());
                markers.push_back(*b.marker);
            }
        }
        CHECK(markers == std::vector<kbus::log::ControlType>{kbus::log::ControlType::commit,
                                                             kbus::log::ControlType::abort,
                                                             kbus::log::ControlType::commit});
        // One aborted transaction in partition 0: offsets 11..15, its marker at 16.
        std::string index;
        for (const auto& e : std::filesystem::directory_iterator(d.data_dir() + "/orders-0"))
            if (e.path().extension() == ".txnindex") {
                std::ifstream in(e.path(), std::ios::binary);
                index += std::string((std::istreambuf_iterator<char>(in)), {});
            }
        REQUIRE(index.size() == kbus::log::txnindex_entry_bytes);
        using kbus::detail::load_be;
        CHECK(load_be<std::int16_t>(index.data()) == 0);
        CHECK(load_be<std::int64_t>(index.data() + 2) == producer_id);
        CHECK(load_be<std::int64_t>(index.data() + 10) == 11);
        CHECK(load_be<std::int64_t>(index.data() + 18) == 16);
    }
}

TEST_CASE("read_committed stops at the first record of an open transaction", "[transactions]") {
    DaemonFixture d("txn-lso");
    kbus::Client c(d.options());
    c.create_topic("t", 1);
    kbus::Producer txn(c, {.transactional_id = "writer"});
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "before");
    txn.begin_transaction();
    send_to(txn, "t", 0, "t0");
    send_to(txn, "t", 0, "t1");
    send_to(plain, "t", 0, "after");  // behind the open transaction: held back too

    kbus::Consumer committed(c, isolation(kbus::IsolationLevel::read_committed));
    committed.assign("t", 0, kbus::OffsetSpec::beginning());
    std::vector<std::string> got;
    for (int i = 0; i < 20; ++i)
        for (const auto& m : committed.poll(10ms))
            got.emplace_back(m.value().str());
    CHECK(got == std::vector<std::string>{"before"});
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_uncommitted, 200ms)).size() == 4);

    txn.commit_transaction();
    for (int i = 0; i < 50 && got.size() < 4; ++i)
        for (const auto& m : committed.poll(10ms))
            got.emplace_back(m.value().str());
    CHECK(got == std::vector<std::string>{"before", "t0", "t1", "after"});
}

TEST_CASE("transactions refuse what Kafka refuses", "[transactions]") {
    DaemonFixture d("txn-bad");
    kbus::Client c(d.options());
    c.create_topic("t", 1);
    kbus::Producer plain(c);
    kbus::Producer idempotent(c, {.enable_idempotence = true});
    kbus::Producer p(c, {.transactional_id = "strict"});
    using kbus::ErrorCode;
    CHECK(code_of([&] { plain.begin_transaction(); }) == ErrorCode::invalid_txn_state);
    CHECK(code_of([&] { idempotent.begin_transaction(); }) == ErrorCode::invalid_txn_state);
    CHECK(code_of([&] { p.commit_transaction(); }) == ErrorCode::invalid_txn_state);
    CHECK(code_of([&] { p.abort_transaction(); }) == ErrorCode::invalid_txn_state);
    CHECK(code_of([&] { send_to(p, "t", 0, "outside"); }) == ErrorCode::invalid_txn_state);
    p.begin_transaction();
    CHECK(code_of([&] { p.begin_transaction(); }) == ErrorCode::invalid_txn_state);
    send_to(p, "t", 0, "inside");
    p.commit_transaction();
    // An empty transaction commits without a round trip, and without a marker.
    p.begin_transaction();
    p.commit_transaction();
    CHECK(c.describe_topic("t").partitions.at(0).high_watermark == 2);
    // Exclusive and transactional exclude each other (the daemon writes markers to the ring).
    CHECK(code_of([&] { kbus::Producer x(c, {.exclusive = true, .transactional_id = "x"}); }) ==
          ErrorCode::invalid_argument);
    // A raw request for another connection's slot, or as a producer without a transactional
    // id, is refused.
    CHECK(code_of([&] {
              c.add_partition_to_txn({c.topic("t")->metadata.topic_id, 0, p.producer_id(),
                                      p.producer_epoch(), 63, 1000});
          }) == ErrorCode::invalid_argument);
    CHECK(code_of([&] { (void)c.end_txn(idempotent.producer_id(), 0, true); }) ==
          ErrorCode::invalid_txn_state);
}

TEST_CASE("a transaction past its timeout is aborted, and its producer fenced", "[transactions]") {
    DaemonFixture d("txn-timeout");
    kbus::Client c(d.options());
    c.create_topic("t", 1);
    kbus::Producer slow(c, {.transactional_id = "slow", .transaction_timeout = 300ms});
    slow.begin_transaction();
    send_to(slow, "t", 0, "late");
    std::this_thread::sleep_for(2s);
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "next");
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"next"});
    try {
        slow.commit_transaction();
        FAIL("a timed-out transaction committed");
    } catch (const kbus::Error& e) {
        CHECK(e.code() == kbus::ErrorCode::producer_fenced);
    }
    // Fenced is for good, as in Kafka: every transactional call says so, not "none begun".
    CHECK(code_of([&] { slow.abort_transaction(); }) == kbus::ErrorCode::producer_fenced);
    CHECK(code_of([&] { slow.begin_transaction(); }) == kbus::ErrorCode::producer_fenced);
    CHECK(code_of([&] { send_to(slow, "t", 0, "zombie"); }) == kbus::ErrorCode::producer_fenced);
    // A new instance of the id carries on.
    kbus::Producer again(c, {.transactional_id = "slow"});
    again.begin_transaction();
    send_to(again, "t", 0, "again");
    again.commit_transaction();
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"again", "next"});
}

TEST_CASE("a producer killed mid-transaction leaves nothing a read_committed consumer sees",
          "[transactions]") {
    DaemonFixture d("txn-killed");
    {
        kbus::Client c(d.options());
        c.create_topic("t", 2);
    }
    pid_t child = child_until_killed([&] {
                      auto& p = *new kbus::Producer(*new kbus::Client(d.options()),
                                                    {.transactional_id = "doomed"});
                      p.begin_transaction();
                      for (int i = 0; i < 10; ++i)
                          send_to(p, "t", i % 2, "doomed-" + std::to_string(i));
                      return char(1);
                  }).first;
    (void)end_child(child, SIGKILL);
    kbus::Client c(d.options());
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "after0");
    send_to(plain, "t", 1, "after1");
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"after0", "after1"});
    CHECK(read_all(c, "t", kbus::IsolationLevel::read_uncommitted).size() == 12);
}

TEST_CASE("kbusd killed or stopped with a transaction open aborts it at its restart",
          "[transactions]") {
    const bool hard = GENERATE(true, false);
    DaemonFixture d(hard ? "txn-kbusd-kill" : "txn-kbusd-term");
    kbus::Client c(d.options());
    c.create_topic("t", 2);
    kbus::Producer p(c, {.transactional_id = "survivor"});
    p.begin_transaction();
    for (int i = 0; i < 6; ++i)
        send_to(p, "t", i % 2, "open-" + std::to_string(i));
    if (hard)
        d.kill_hard();
    else
        CHECK(d.stop() == 0);
    d.restart();
    kbus::Client c2(d.options());
    kbus::Producer plain(c2);
    send_to(plain, "t", 0, "after");
    CHECK(values_of(read_all(c2, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"after"});
    // The producer outlived kbusd: it is fenced, not left writing into an aborted transaction.
    CHECK(code_of([&] { p.commit_transaction(); }) == kbus::ErrorCode::producer_fenced);
    // The log agrees: every data batch of the producer is followed by its ABORT marker.
    wait_spilled(c2, "t");
    for (const char* dir : {"/t-0", "/t-1"}) {
        bool sound = false;
        const auto batches = kbus::test::batches_on_disk(d.data_dir() + dir, &sound);
        REQUIRE(sound);
        int aborts = 0;
        for (const auto& f : batches)
            if (f.control) aborts += f.marker == kbus::log::ControlType::abort ? 1 : 0;
        CHECK(aborts >= 1);
    }
}

TEST_CASE("a transaction open across a restart stays hidden though its first record is old",
          "[transactions]") {
    // Further back than the 10,000 offsets of the log's tail kbusd reads at its start: the
    // coordinator's note of where the partition ended when it was added reaches back to it.
    const bool hard = GENERATE(true, false);
    DaemonFixture d(hard ? "txn-old-kill" : "txn-old-term");
    kbus::Client c(d.options());
    // A small ring: the reader after the restart finds the old records on disk only, where the
    // .txnindex entry of the ABORT is what hides them.
    c.create_topic("t", 1, {{"ring.bytes", "65536"}});
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "before");
    kbus::Producer p(c, {.transactional_id = "long-open"});
    p.begin_transaction();
    send_to(p, "t", 0, "open-first");
    constexpr int others = 12'000;
    for (int i = 0; i < others; ++i)
        send_to(plain, "t", 0, "x");
    send_to(p, "t", 0, "open-last");
    if (hard)
        d.kill_hard();
    else
        CHECK(d.stop() == 0);
    d.restart();
    kbus::Client c2(d.options());
    const auto seen = read_all(c2, "t", kbus::IsolationLevel::read_committed);
    CHECK(seen.size() == std::size_t(others) + 1);
    CHECK(std::none_of(seen.begin(), seen.end(),
                       [](const Seen& s) { return s.value.rfind("open-", 0) == 0; }));
    CHECK(code_of([&] { p.commit_transaction(); }) == kbus::ErrorCode::producer_fenced);
}

TEST_CASE("a restart after a reboot aborts a transaction the log holds, and serves at once",
          "[transactions]") {
    DaemonFixture d("txn-reboot");
    std::int64_t producer_id = -1;
    {
        kbus::Client c(d.options());
        c.create_topic("t", 1);
        kbus::Producer p(c, {.transactional_id = "rebooted"});
        producer_id = p.producer_id();
        p.begin_transaction();
        send_to(p, "t", 0, "open-0");
        send_to(p, "t", 0, "open-1");
        wait_spilled(c, "t");  // in the log, with no marker
        d.kill_hard();
        for (const std::string& shm : d.shared_memory_dirs())  // what a reboot takes too
            std::filesystem::remove_all(shm);
        d.restart();
    }  // (the producer, fenced by then, cannot abort its transaction itself)
    kbus::Client c(d.options());
    const auto started = std::chrono::steady_clock::now();
    (void)c.describe_topic("t");
    CHECK(std::chrono::steady_clock::now() - started < 2s);  // the control thread is not stuck
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "after");
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"after"});
    wait_spilled(c, "t");
    bool sound = false;
    const auto batches = kbus::test::batches_on_disk(d.data_dir() + "/t-0", &sound);
    REQUIRE(sound);
    int aborts = 0;
    for (const auto& f : batches)
        aborts +=
            f.control && f.producer_id == producer_id && f.marker == kbus::log::ControlType::abort;
    CHECK(aborts == 1);
    // From the log alone too (a clean restart, no ring left): the .txnindex hides them.
    CHECK(d.stop() == 0);
    d.restart();
    kbus::Client c2(d.options());
    CHECK(values_of(read_all(c2, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"after"});
}

TEST_CASE("a read_committed consumer is at its end at a transaction still open", "[transactions]") {
    DaemonFixture d("txn-at-end");
    kbus::Client c(d.options());
    c.create_topic("t", 1);
    kbus::Producer plain(c);
    send_to(plain, "t", 0, "done");
    kbus::Producer p(c, {.transactional_id = "slowpoke"});
    p.begin_transaction();
    send_to(p, "t", 0, "pending");
    kbus::Consumer con(c, isolation(kbus::IsolationLevel::read_committed));
    con.assign("t", 0, kbus::OffsetSpec::beginning());
    std::vector<std::string> got;
    for (int i = 0; i < 200 && !con.at_end(); ++i)
        for (const auto& m : con.poll(10ms))
            got.emplace_back(m.value().str());
    CHECK(con.at_end());  // as kcat -e stops at the last stable offset
    CHECK(got == std::vector<std::string>{"done"});
    // Bad timeouts are refused when the producer is made, before it takes an epoch.
    CHECK(code_of([&] {
              kbus::Producer x(c, {.transactional_id = "x", .transaction_timeout = 0ms});
          }) == kbus::ErrorCode::invalid_argument);
    CHECK(code_of([&] {
              kbus::Producer x(c, {.transactional_id = "x", .transaction_timeout = 16min});
          }) == kbus::ErrorCode::invalid_argument);
    CHECK(code_of([&] { kbus::Producer x(c, {.transactional_id = std::string(40000, 'i')}); }) ==
          kbus::ErrorCode::invalid_argument);
}

TEST_CASE("a new instance of a transactional id aborts what the old one left open",
          "[transactions]") {
    DaemonFixture d("txn-new-instance");
    kbus::Client c(d.options());
    c.create_topic("t", 1);
    kbus::Producer old_one(c, {.transactional_id = "app"});
    old_one.begin_transaction();
    send_to(old_one, "t", 0, "old");
    kbus::Producer new_one(c, {.transactional_id = "app"});
    new_one.begin_transaction();
    send_to(new_one, "t", 0, "new");
    new_one.commit_transaction();
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed)) ==
          std::vector<std::string>{"new"});
    CHECK(code_of([&] { send_to(old_one, "t", 0, "zombie"); }) == kbus::ErrorCode::producer_fenced);
    CHECK(code_of([&] { old_one.commit_transaction(); }) == kbus::ErrorCode::producer_fenced);
}

TEST_CASE("a group's offsets commit with the transaction, and only with it", "[transactions]") {
    DaemonFixture d("txn-offsets");
    kbus::Client c(d.options());
    c.create_topic("in", 1);
    c.create_topic("out", 1);
    kbus::Producer feed(c);
    for (int i = 0; i < 10; ++i)
        send_to(feed, "in", 0, "in-" + std::to_string(i));
    kbus::ConsumerOptions o;
    o.group_id = "copier";
    o.enable_auto_commit = false;
    kbus::Consumer con(c, o);
    con.subscribe("in", kbus::OffsetSpec::beginning());
    std::vector<std::string> read;
    for (int i = 0; i < 500 && read.size() < 10; ++i)
        for (const auto& m : con.poll(10ms))
            read.emplace_back(m.value().str());
    REQUIRE(read.size() == 10);
    const std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>> next{{{"in", 0}, 10}};
    auto committed = [&] {
        const auto offsets = kbus::group::committed(c, "copier", "in");
        return offsets.empty() ? -1 : offsets.front().second;
    };

    kbus::Producer p(c, {.transactional_id = "copier-out"});
    p.begin_transaction();
    for (const auto& v : read)
        send_to(p, "out", 0, "copied " + v);
    p.send_offsets_to_transaction(next, con.group_metadata());
    p.abort_transaction();
    CHECK(committed() == -1);  // aborted: the group's offsets stay

    p.begin_transaction();
    for (const auto& v : read)
        send_to(p, "out", 0, "copied " + v);
    p.send_offsets_to_transaction(next, con.group_metadata());
    CHECK(committed() == -1);  // not before the commit
    p.commit_transaction();
    CHECK(committed() == 10);
    CHECK(read_all(c, "out", kbus::IsolationLevel::read_committed).size() == 10);

    // A member fenced by a rebalance (an older generation) is refused when it sends them.
    kbus::ConsumerGroupMetadata stale = con.group_metadata();
    stale.generation_id += 7;
    p.begin_transaction();
    CHECK(code_of([&] { p.send_offsets_to_transaction(next, stale); }) ==
          kbus::ErrorCode::illegal_generation);
    p.abort_transaction();
    // Offsets alone, without a record, make a transaction too.
    p.begin_transaction();
    p.send_offsets_to_transaction({{{"in", 0}, 4}}, con.group_metadata());
    p.commit_transaction();
    CHECK(committed() == 4);
}

namespace {

// In a child process: a transaction over both partitions of "t", decided COMMIT in its
// transaction word (as commit_transaction decides it) and then left, no marker written: the
// producer dies between its decision and its markers. Returns the child's pid once decided.
pid_t decide_and_vanish(const DaemonFixture& d) {
    const auto [child, decided] = child_until_killed([&] {
        auto& c = *new kbus::Client(d.options());
        auto& p = *new kbus::Producer(c, {.transactional_id = "half-done"});
        p.begin_transaction();
        send_to(p, "t", 0, "decided-0");
        send_to(p, "t", 1, "decided-1");
        std::int32_t slot = 0;
        while (slot + 1 < std::int32_t(kbus::control::producer_fence_slots) &&
               c.producer_fence(slot).producer_id.load() != p.producer_id())
            ++slot;
        kbus::detail::TransactionEnd end(c.transaction_word(slot), p.producer_id(),
                                         p.producer_epoch(), true);
        return char(end.decide() ? 1 : 0);
    });
    REQUIRE(decided == 1);
    return child;
}

}  // namespace

TEST_CASE("a commit its producer decided stands when the producer or kbusd dies before markers",
          "[transactions]") {
    const bool kbusd_dies = GENERATE(false, true);
    DaemonFixture d(kbusd_dies ? "txn-decided-kbusd" : "txn-decided-producer");
    {
        kbus::Client c(d.options());
        c.create_topic("t", 2);
    }
    pid_t child = decide_and_vanish(d);
    if (kbusd_dies) d.kill_hard();  // the decision is in shared memory only
    (void)end_child(child, SIGKILL);
    if (kbusd_dies) d.restart();
    // kbusd writes the COMMIT markers itself: at the producer's connection closing, or from the
    // word at its restart; nothing of the transaction is aborted.
    kbus::Client c(d.options());
    CHECK(values_of(read_all(c, "t", kbus::IsolationLevel::read_committed, 1500ms)) ==
          std::vector<std::string>{"decided-0", "decided-1"});
    if (kbusd_dies) {
        INFO(d.log_text());
        CHECK(d.log_text().find("committed after the restart") != std::string::npos);
    }
    wait_spilled(c, "t");
    for (const char* dir : {"/t-0", "/t-1"}) {
        bool sound = false;
        const auto batches = kbus::test::batches_on_disk(d.data_dir() + dir, &sound);
        REQUIRE(sound);
        REQUIRE(!batches.empty());
        CHECK(batches.back().marker == kbus::log::ControlType::commit);
    }
}

TEST_CASE("a read_committed reader of the log is not at its end where a full list of aborts stops",
          "[transactions]") {
    // More aborted transactions than one fetch names (FetchReply::max_fetch_aborted): the fetch
    // stops at the cut, which is no transaction still open. The README's loop reads on to the end.
    DaemonFixture d("txn-many-aborts");
    const int aborts = int(kbus::protocol::FetchReply::max_fetch_aborted) + 100;
    {
        kbus::Client c(d.options());
        c.create_topic("t", 1);
        kbus::Producer p(c, {.transactional_id = "indecisive"});
        for (int i = 0; i < aborts; ++i) {  // committed records on both sides of the cut
            p.begin_transaction();
            send_to(p, "t", 0, "aborted");
            p.abort_transaction();
            p.begin_transaction();
            send_to(p, "t", 0, "kept");
            p.commit_transaction();
        }
        wait_spilled(c, "t");
    }
    CHECK(d.stop() == 0);  // no ring left: read from the log alone
    d.restart();
    kbus::Client c(d.options());
    kbus::Consumer con(c, isolation(kbus::IsolationLevel::read_committed));
    con.subscribe("t", kbus::OffsetSpec::beginning());
    std::vector<std::string> got;
    for (int polls = 0; !con.at_end() && polls < 10'000; ++polls)
        for (const auto& m : con.poll(10ms))
            got.emplace_back(m.value().str());
    CHECK(con.at_end());
    CHECK(got.size() == std::size_t(aborts));
    CHECK(std::count(got.begin(), got.end(), "kept") == aborts);
}
