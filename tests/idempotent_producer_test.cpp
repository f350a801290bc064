// Idempotent and transactional producers on shared memory, over a real kbusd: producer ids and
// epochs from the daemon, each record's stamp carried through the ring to the log's batches
// (Kafka's producer fields, read back from the segment files), and a newer instance with the
// same transactional id fencing the one before it, across a kbusd restart too.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "segment_batches.hpp"

using namespace std::chrono_literals;

using kbus::test::wait_spilled;

namespace {

kbus::SendOptions on_partition_0() {
    kbus::SendOptions o;
    o.partition = 0;
    return o;
}

kbus::ErrorCode code_of_send(kbus::Producer& p, const std::string& topic) {
    try {
        (void)p.send(topic, "k", "v", on_partition_0());
    } catch (const kbus::Error& e) {
        return e.code();
    }
    return kbus::ErrorCode::ok;
}

}  // namespace

TEST_CASE("an idempotent producer's records reach the log with its id, epoch and sequences",
          "[idempotence]") {
    DaemonFixture d("idem-stamps");
    kbus::Client c(d.options());
    c.create_topic("events", 1);
    kbus::Producer plain(c);
    kbus::Producer a(c, {.enable_idempotence = true});
    kbus::Producer b(c, {.enable_idempotence = true});
    REQUIRE(a.producer_id() >= 0);
    CHECK(a.producer_epoch() == 0);
    CHECK(b.producer_id() != a.producer_id());
    CHECK(plain.producer_id() == -1);

    // Interleaved: runs of one producer's records, then another's, in one partition.
    std::map<std::int64_t, std::int32_t> sent_by_a;  // offset -> its sequence
    std::int32_t a_sequence = 0;
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 5; ++i)
            sent_by_a[a.send("events", "k", "a", on_partition_0()).offset] = a_sequence++;
        const kbus::BatchRecord run[] = {{.key = "k", .value = "b1"}, {.key = "k", .value = "b2"}};
        (void)b.send_batch("events", run, on_partition_0());
        (void)plain.send("events", "k", "plain", on_partition_0());
    }
    wait_spilled(c, "events");

    bool sound = false;
    const auto batches = kbus::test::batches_on_disk(d.data_dir() + "/events-0", &sound);
    REQUIRE(sound);
    std::int64_t records = 0;
    std::map<std::int64_t, std::int32_t> next_sequence;  // per producer id
    for (const auto& f : batches) {
        records += f.records;
        if (f.producer_id < 0) {
            CHECK(f.base_sequence == -1);
            CHECK(f.producer_epoch == -1);
            continue;
        }
        REQUIRE((f.producer_id == a.producer_id() || f.producer_id == b.producer_id()));
        CHECK(f.producer_epoch == 0);
        // A batch holds one producer's consecutive sequences, following its previous batch.
        CHECK(f.base_sequence == next_sequence[f.producer_id]);
        next_sequence[f.producer_id] = f.base_sequence + f.records;
        if (f.producer_id == a.producer_id()) CHECK(sent_by_a.at(f.base_offset) == f.base_sequence);
    }
    CHECK(records == 20 * 8);
    CHECK(next_sequence[a.producer_id()] == 100);
    CHECK(next_sequence[b.producer_id()] == 40);
}

TEST_CASE("a producer with a transactional id fences the instance before it, across restarts",
          "[idempotence]") {
    DaemonFixture d("idem-fence");
    std::int64_t id = -1;
    {
        kbus::Client c(d.options());
        c.create_topic("t", 1);
        kbus::Producer first(c, {.transactional_id = "app-1"});
        id = first.producer_id();
        first.begin_transaction();
        CHECK(code_of_send(first, "t") == kbus::ErrorCode::ok);
        kbus::Producer second(c, {.transactional_id = "app-1"});  // aborts first's transaction
        CHECK(second.producer_id() == id);
        CHECK(second.producer_epoch() == first.producer_epoch() + 1);
        second.begin_transaction();
        CHECK(code_of_send(first, "t") == kbus::ErrorCode::producer_fenced);
        CHECK(code_of_send(second, "t") == kbus::ErrorCode::ok);
        // Another transactional id is another producer, fencing nobody.
        kbus::Producer other(c, {.transactional_id = "app-2"});
        other.begin_transaction();
        CHECK(other.producer_id() != id);
        CHECK(code_of_send(second, "t") == kbus::ErrorCode::ok);
        CHECK(code_of_send(other, "t") == kbus::ErrorCode::ok);
        try {
            (void)first.send("t", "k", "v", on_partition_0());
        } catch (const kbus::Error& e) {
            CHECK(std::string(e.what()).find("app-1") != std::string::npos);
        }
        second.commit_transaction();
        other.commit_transaction();
    }
    CHECK(d.stop() == 0);  // SIGTERM, as an operator stops it
    d.restart();
    kbus::Client c(d.options());
    kbus::Producer third(c, {.transactional_id = "app-1"});
    CHECK(third.producer_id() == id);
    CHECK(third.producer_epoch() == 2);  // the restarted kbusd kept the epoch it had granted
    third.begin_transaction();
    CHECK(code_of_send(third, "t") == kbus::ErrorCode::ok);
    third.commit_transaction();
    // Every record of a producer reached the log once, stamped with the epoch it was sent at.
    wait_spilled(c, "t");
    bool sound = false;
    const auto batches = kbus::test::batches_on_disk(d.data_dir() + "/t-0", &sound);
    REQUIRE(sound);
    std::map<std::int16_t, int> records_by_epoch;
    for (const auto& f : batches)  // data records (markers are control batches)
        if (f.producer_id == id && !f.control) records_by_epoch[f.producer_epoch] += f.records;
    for (const auto& [epoch, n] : records_by_epoch)
        UNSCOPED_INFO("epoch " << epoch << ": " << n);
    CHECK(records_by_epoch == std::map<std::int16_t, int>{{0, 1}, {1, 2}, {2, 1}});
}

TEST_CASE("a destroyed idempotent producer gives its ring slot back", "[idempotence]") {
    DaemonFixture d("idem-release");
    kbus::Client c(d.options());
    c.create_topic("r", 1);
    // More producers, one after another on one client, than a partition has slots: each slot
    // is retired when its producer goes and free again once the spill wrote its record.
    for (int i = 0; i < int(kbus::ring::producer_slot_count) + 10; ++i) {
        kbus::Producer p(c, {.enable_idempotence = true});
        REQUIRE(code_of_send(p, "r") == kbus::ErrorCode::ok);
        wait_spilled(c, "r");
    }
    // At once, the partition takes no more than its slots.
    std::vector<std::unique_ptr<kbus::Producer>> alive;
    for (std::uint32_t i = 0; i < kbus::ring::producer_slot_count; ++i) {
        alive.push_back(
            std::make_unique<kbus::Producer>(c, kbus::ProducerOptions{.enable_idempotence = true}));
        REQUIRE(code_of_send(*alive.back(), "r") == kbus::ErrorCode::ok);
    }
    wait_spilled(c, "r");
    kbus::Producer one_more(c, {.enable_idempotence = true});
    CHECK(code_of_send(one_more, "r") == kbus::ErrorCode::resource_exhausted);
}

TEST_CASE("a producer moved over lets go of what it held, and one moved from lets go of nothing",
          "[idempotence][transactions]") {
    DaemonFixture d("idem-move");
    kbus::Client c(d.options());
    c.create_topic("r", 1);
    // Each assignment gives the old producer's slot back, as its destructor does: more
    // assignments than the partition has slots.
    kbus::Producer p(c, {.enable_idempotence = true});
    for (int i = 0; i < int(kbus::ring::producer_slot_count) + 10; ++i) {
        p = kbus::Producer(c, {.enable_idempotence = true});
        REQUIRE(code_of_send(p, "r") == kbus::ErrorCode::ok);
        wait_spilled(c, "r");
    }
    // A transaction goes with its producer: the moved-from one, destroyed, aborts nothing.
    std::optional<kbus::Producer> first(std::in_place, c,
                                        kbus::ProducerOptions{.transactional_id = "mover"});
    first->begin_transaction();
    (void)first->send("r", "k", "committed", on_partition_0());
    kbus::Producer second(std::move(*first));
    first.reset();
    second.commit_transaction();
    // A producer assigned over its open transaction aborts it, as its destructor does.
    kbus::Producer third(c, {.transactional_id = "overwritten"});
    third.begin_transaction();
    (void)third.send("r", "k", "aborted", on_partition_0());
    third = kbus::Producer(c, {.enable_idempotence = true});

    kbus::ConsumerOptions o;
    o.isolation_level = kbus::IsolationLevel::read_committed;
    kbus::Consumer con(c, o);
    con.assign("r", 0, kbus::OffsetSpec::beginning());
    std::vector<std::string> values;
    const auto end = std::int64_t(c.describe_topic("r").partitions.at(0).high_watermark);
    // The ABORT marker is there: a read_committed reader gets to the end, not stuck before it.
    for (int i = 0; i < 500 && con.position("r", 0) < end; ++i)
        for (const auto& m : con.poll(10ms))
            if (m.value().str() != "v") values.emplace_back(m.value().str());
    CHECK(con.position("r", 0) == end);
    CHECK(values == std::vector<std::string>{"committed"});
}

TEST_CASE(
    "an idempotent producer rides through a SIGKILL of kbusd, numbered on, and is fenced "
    "after it",
    "[idempotence]") {
    DaemonFixture d("idem-kill");
    kbus::Client c(d.options());
    c.create_topic("k", 1);
    kbus::Producer p(c, {.transactional_id = "app-k"});
    auto send_five_in_a_transaction = [&] {
        p.begin_transaction();
        for (int i = 0; i < 5; ++i)
            REQUIRE(code_of_send(p, "k") == kbus::ErrorCode::ok);
        p.commit_transaction();
    };
    send_five_in_a_transaction();
    wait_spilled(c, "k");
    send_five_in_a_transaction();
    d.kill_hard();  // what the spill had not taken stays in the ring, for the next kbusd
    d.restart();
    // The producer goes on through the adopted ring: its slot and epoch still stand, and the
    // new kbusd takes its transaction (the slot's process is the producer's).
    send_five_in_a_transaction();
    kbus::Client c2(d.options());
    wait_spilled(c2, "k");
    kbus::Producer next(c2, {.transactional_id = "app-k"});
    CHECK(next.producer_id() == p.producer_id());
    CHECK(next.producer_epoch() == p.producer_epoch() + 1);
    CHECK(code_of_send(p, "k") == kbus::ErrorCode::producer_fenced);
    // All 15 acknowledged records on disk once, stamped, their sequences 0..14 without a gap.
    bool sound = false;
    const auto batches = kbus::test::batches_on_disk(d.data_dir() + "/k-0", &sound);
    REQUIRE(sound);
    std::int32_t next_sequence = 0;
    int commits = 0;
    for (const auto& b : batches) {
        CHECK(b.producer_id == p.producer_id());
        CHECK(b.transactional);
        if (b.control) {
            commits += b.marker == kbus::log::ControlType::commit ? 1 : 0;
            continue;
        }
        CHECK(b.base_sequence == next_sequence);
        next_sequence = b.base_sequence + b.records;
    }
    CHECK(next_sequence == 15);
    CHECK(commits == 3);
}
