// SpillWorker, the spill thread's loop over the whole bus, driven pass by pass with the clock
// passed in: records of every partition reach their logs, producer limits follow, retired
// partitions are left alone, retention runs at its interval, and drain writes what lingers.
#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "bus/spill_worker.hpp"
#include "kbus/control_descriptor.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;

namespace {

constexpr std::uint64_t t0 = 1'000'000'000'000;  // monotonic ns
constexpr std::uint64_t linger = spill::SpillOptions{}.linger_ns;

struct Worker {
    TestBus t;
    control::Doorbell doorbell{};
    bus::SpillWorker worker;

    explicit Worker(const std::string& name, std::int64_t retention_interval_ms = 300'000)
        : t("spill-worker-" + name),
          worker(*t.bus, doorbell, retention_interval_ms, t.log.sink()) {}

    std::shared_ptr<bus::Partition> p(const std::string& topic, std::int32_t i = 0) {
        return t.bus->partition(topic, i);
    }
};

std::int64_t log_end(bus::Partition& p) {
    return p.log().log_end_offset();
}
std::uint64_t limit(bus::Partition& p) {
    return p.ring().header().limit.producer_limit.load();
}

}  // namespace

TEST_CASE("a pass takes the committed records of every partition into its log once they linger",
          "[spill-worker]") {
    Worker w("pass");
    w.t.create("a", 3);
    w.t.create("b");
    produce(*w.p("a", 0), 5);
    produce(*w.p("a", 1), 3);
    produce(*w.p("b"), 7);
    CHECK_FALSE(w.worker.pass(t0, 1000));  // the first look starts the linger
    CHECK(log_end(*w.p("a", 0)) == 0);
    CHECK(w.worker.pass(t0 + linger, 1000));
    CHECK(log_end(*w.p("a", 0)) == 5);
    CHECK(log_end(*w.p("a", 1)) == 3);
    CHECK(log_end(*w.p("a", 2)) == 0);
    CHECK(log_end(*w.p("b")) == 7);
    for (const auto& p : w.t.bus->partitions()) {
        const ring::RingHeader& h = p->ring().header();
        CHECK(h.spill.spill_offset.load() == p->high_watermark());
        CHECK(h.spill.spill_position.load() == ring::load_tail(h));
    }
    CHECK_FALSE(w.worker.pass(t0 + 2 * linger, 1000));  // nothing left
    // A topic created later is in the next pass.
    w.t.create("c");
    produce(*w.p("c"), 2);
    w.worker.pass(t0 + 3 * linger, 1000);
    CHECK(w.worker.pass(t0 + 4 * linger, 1000));
    CHECK(log_end(*w.p("c")) == 2);
}

TEST_CASE("a partition's producer limit moves once its records are spilled", "[spill-worker]") {
    Worker w("limit");
    w.t.create("t", 2);
    const auto p0 = w.p("t", 0);
    produce(*p0, 45, "big", 1000);  // 47 KiB of frames: past the limit's half-ring headroom
    const std::uint64_t tail = ring::load_tail(p0->ring().header());
    REQUIRE(tail > 40 * 1024);
    CHECK(limit(*p0) == 64 * 1024);
    CHECK(w.worker.pass(t0, 1000));  // an eighth of the ring waits: no linger
    CHECK(log_end(*p0) == 45);
    CHECK(limit(*p0) == tail + 32 * 1024);
    CHECK(limit(*w.p("t", 1)) == 0);  // the other one, never produced to: no room until reserved
    // Producers can now write past the first lap.
    produce(*p0, 20, "more", 1000);
    CHECK(p0->high_watermark() == 65);
}

TEST_CASE("a retired partition is left alone", "[spill-worker]") {
    Worker w("retired");
    w.t.create("t", 2);
    const auto gone = w.p("t", 0);
    produce(*gone, 4);
    produce(*w.p("t", 1), 4);
    gone->retire();
    w.worker.pass(t0, 1000);
    w.worker.pass(t0 + linger, 1000);
    CHECK(log_end(*gone) == 0);
    CHECK(gone->ring().header().spill.spill_offset.load() == 0);
    CHECK(log_end(*w.p("t", 1)) == 4);
    CHECK_FALSE(bus::SpillWorker::step(*gone, t0 + 2 * linger, 1000));
    gone->request_flush();
    CHECK_FALSE(bus::SpillWorker::step(*gone, t0 + 3 * linger, 1000));
    CHECK(log_end(*gone) == 0);
}

TEST_CASE("retention runs once per retention check interval", "[spill-worker]") {
    Worker w("retention", 1000);
    // Each batch in a segment of its own, and no closed segment worth keeping.
    w.t.create("t", 1, {{"segment.bytes", "100"}, {"retention.bytes", "0"}});
    const auto p = w.p("t");
    std::uint64_t now = t0;
    auto batch = [&](std::int64_t now_ms) {  // one record, spilled in a batch of its own
        produce(*p, 1, "r", 200);
        now += 10 * linger;
        const bool first = w.worker.pass(now, now_ms);
        now += 10 * linger;
        const bool second = w.worker.pass(now, now_ms);
        REQUIRE((first || second));
    };
    auto idle_pass = [&](std::int64_t now_ms) { w.worker.pass(now += 10 * linger, now_ms); };
    for (int i = 0; i < 3; ++i)
        batch(100 + i);
    REQUIRE(p->log().segment_count() == 3);
    idle_pass(999);  // not yet an interval since the start
    CHECK(p->log().segment_count() == 3);
    CHECK(p->log().log_start_offset() == 0);
    idle_pass(1000);
    CHECK(p->log().segment_count() == 1);  // never the active one
    CHECK(p->log().log_start_offset() == 2);
    batch(1500);
    batch(1600);
    idle_pass(1999);
    CHECK(p->log().segment_count() == 3);
    CHECK(p->log().log_start_offset() == 2);
    idle_pass(2000);
    CHECK(p->log().segment_count() == 1);
    CHECK(p->log().log_start_offset() == 4);
}

TEST_CASE("a flush request writes what the ring has at once, linger or not", "[spill-worker]") {
    Worker w("flush");
    w.t.create("t");
    const auto p = w.p("t");
    produce(*p, 2);
    CHECK(p->request_flush());
    CHECK_FALSE(p->request_flush());  // asked already
    CHECK(w.worker.pass(t0, 1000));
    CHECK(log_end(*p) == 2);
    CHECK_FALSE(p->take_flush_request());  // answered
}

TEST_CASE("drain writes the records that linger, and syncs them", "[spill-worker]") {
    Worker w("drain");
    w.t.create("t", 2);
    const auto p = w.p("t", 1);
    produce(*p, 4);
    CHECK_FALSE(w.worker.pass(t0, 1000));  // lingering
    CHECK(bus::SpillWorker::drain(*p, w.t.log.sink()));
    CHECK(log_end(*p) == 4);
    CHECK(p->ring().header().spill.spill_position.load() == ring::load_tail(p->ring().header()));
    CHECK(bus::SpillWorker::drain(*p, w.t.log.sink()));  // nothing left: still drained
    CHECK(bus::SpillWorker::drain(*w.p("t", 0), w.t.log.sink()));
}

TEST_CASE("drain on a failing disk says so, and the records stay on the ring", "[spill-worker]") {
    Worker w("drain-fails");
    w.t.create("t");
    const auto p = w.p("t");
    produce(*p, 1, "first");
    REQUIRE(bus::SpillWorker::drain(*p, w.t.log.sink()));
    produce(*p, 3, "later");
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit tight = old;
    tight.rlim_cur = p->log().size_bytes();
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    const bool drained = bus::SpillWorker::drain(*p, w.t.log.sink());
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_FALSE(drained);
    CHECK(w.t.log.count("ERROR", "could not all be written") == 1);
    CHECK(log_end(*p) == 1);
    CHECK(p->ring().header().spill.spill_offset.load() == 1);
    CHECK(bus::SpillWorker::drain(*p, w.t.log.sink()));
    CHECK(log_end(*p) == 4);
}

TEST_CASE("run spills on its own until stopped", "[spill-worker]") {
    Worker w("run");
    w.t.create("t");
    const auto p = w.p("t");
    std::atomic<bool> stop{false};
    std::thread spill([&] { w.worker.run(stop); });
    produce(*p, 10);
    w.doorbell.ring();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log_end(*p) < 10 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    w.doorbell.ring();
    spill.join();
    CHECK(log_end(*p) == 10);
}

TEST_CASE("topics created, written and deleted while the worker runs", "[spill-worker]") {
    Worker w("churn");
    std::atomic<bool> stop{false};
    std::thread spill([&] { w.worker.run(stop); });
    for (int round = 0; round < 20; ++round) {
        const std::string name = "t" + std::to_string(round);
        w.t.create(name, 2);
        const auto p = w.p(name, round % 2);
        produce(*p, 10);
        w.doorbell.ring();
        if (round % 2 == 0) {  // wait for this one's spill before it goes
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (log_end(*p) < 10 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            CHECK(log_end(*p) == 10);
        }
        w.t.bus->remove(name);  // whatever the worker is doing with it
    }
    stop = true;
    w.doorbell.ring();
    spill.join();
    CHECK(w.t.bus->partitions().empty());
    CHECK(w.t.shm.objects().empty());
}

TEST_CASE("an idle bus asks for the longest sleep, a lingering record for its linger's end",
          "[spill-worker]") {
    Worker w("deadlines");
    w.t.create("a", 2);
    CHECK_FALSE(w.worker.pass(t0, 1000));
    CHECK(w.worker.next_due_ns() == t0 + bus::SpillWorker::longest_sleep_ns);
    produce(*w.p("a", 1), 3);
    // The first look starts the linger. (A few hundred bytes in 50 ms: far too slow a tail for
    // its rate to set an earlier deadline.)
    const std::uint64_t t1 = t0 + 50'000'000;
    CHECK_FALSE(w.worker.pass(t1, 1000));
    CHECK(w.worker.next_due_ns() == t1 + linger);
    CHECK(w.worker.pass(t1 + linger, 1000));
    CHECK(log_end(*w.p("a", 1)) == 3);
    // Written, and nothing new: back to the longest sleep (the tail stood still since).
    CHECK_FALSE(w.worker.pass(t1 + 20 * linger, 1000));
    CHECK_FALSE(w.worker.pass(t1 + 40 * linger, 1000));
    CHECK(w.worker.next_due_ns() == t1 + 40 * linger + bus::SpillWorker::longest_sleep_ns);
}

TEST_CASE("a retention check due sooner than the longest sleep wakes the worker for it",
          "[spill-worker]") {
    Worker w("retention-deadline", 30);
    w.t.create("a");
    CHECK_FALSE(w.worker.pass(t0, 1000));
    CHECK(w.worker.next_due_ns() <= t0 + 30'000'000);
}
