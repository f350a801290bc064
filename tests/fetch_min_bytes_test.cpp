// ConsumerOptions::fetch_min_bytes and fetch_max_wait (Kafka's fetch.min.bytes and
// fetch.max.wait.ms): a poll that finds records waits until they hold enough bytes, at most
// fetch_max_wait, and never waits for more than a quarter of a ring can hold.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;

namespace {
constexpr std::size_t frame_overhead = 48;  // what the option counts a record beyond its value

std::size_t bytes_of(const kbus::Batch& b) {
    std::size_t n = 0;
    for (const kbus::Message& m : b)
        n += frame_overhead + m.key().size() + m.value().size();
    return n;
}

void send_values(kbus::Producer& p, const std::string& topic, int count, std::size_t size) {
    const std::string value(size, 'v');
    for (int i = 0; i < count; ++i)
        p.send(topic, nullptr, value);
}

// A producer running beside the consumer, in a process of its own. A thread would share the ring
// with the consumer in one address space, where TSan cannot see the daemon's part in their
// ordering (a lap is freed only after the consumer released it) and reports the reuse as a race.
class ProducerProcess {
  public:
    template <class Body>
    ProducerProcess(const DaemonFixture& d, Body body) : pid_(::fork()) {
        if (pid_ != 0) return;
        int code = 0;
        try {
            kbus::Client c(d.options());
            kbus::Producer p(c);
            body(p);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "producer: %s\n", e.what());
            code = 1;
        }
        std::_Exit(code);
    }
    ProducerProcess(const ProducerProcess&) = delete;
    ProducerProcess& operator=(const ProducerProcess&) = delete;
    ~ProducerProcess() {
        if (pid_ > 0) (void)join();
    }
    // True if it sent everything and exited cleanly.
    bool join() {
        int status = 0;
        const bool ok =
            ::waitpid(pid_, &status, 0) == pid_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        pid_ = -1;
        return ok;
    }

  private:
    pid_t pid_;
};

// A consumer that waits for a gigabyte a poll, for as long as an hour, and for up to 100000
// records: only the quarter-ring cap (or a partition drained from disk) ends a fill in time.
kbus::ConsumerOptions filling_for_an_hour() {
    return {.wait = kbus::WaitMode::busy_poll,
            .max_poll_records = 100'000,
            .fetch_min_bytes = std::size_t(1) << 30,
            .fetch_max_wait = std::chrono::milliseconds(3'600'000)};
}

// Reads `records` from offset 0, in order. While at least `cap_records` are still to come, a fill
// must end without a timeout (polls of an hour), and `full` checks each batch; the rest, short of
// the cap, come at polls' timeouts (`no_empty`: the records are all there, none may come back
// empty).
template <class Full>
void read_filled(kbus::Consumer& consumer, int records, int cap_records, bool no_empty, Full full) {
    int total = 0;
    while (records - total >= cap_records) {
        const kbus::Batch& b = consumer.poll(std::chrono::hours(1));
        REQUIRE(!b.empty());
        CHECK(b[0].offset() == total);
        full(b);
        total += int(b.size());
    }
    while (total < records) {
        const kbus::Batch& b = consumer.poll(100ms);
        if (no_empty) REQUIRE(!b.empty());
        if (b.empty()) continue;
        CHECK(b[0].offset() == total);
        total += int(b.size());
    }
    CHECK(total == records);
}
}  // namespace

TEST_CASE("fetch.min.bytes: a poll returns once the records hold enough bytes, all of them",
          "[consumer]") {
    DaemonFixture d("fetch-min");
    kbus::Client c(d.options());
    c.create_topic("f", 1);
    const auto mode =
        GENERATE(kbus::WaitMode::busy_poll, kbus::WaitMode::blocking, kbus::WaitMode::yielding);
    kbus::Consumer consumer(c, {.wait = mode, .fetch_min_bytes = 5 * (frame_overhead + 100)});
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    // A producer that sends one record a millisecond: a poll that returned at the first record
    // (fetch.min.bytes 1) would hold one or two.
    ProducerProcess producer(d, [](kbus::Producer& p) {
        for (int i = 0; i < 20; ++i) {
            send_values(p, "f", 1, 100);
            std::this_thread::sleep_for(1ms);
        }
    });
    const kbus::Batch& first = consumer.poll(30s);
    const std::size_t got = first.size();
    CHECK(got >= 5);
    CHECK(bytes_of(first) >= 5 * (frame_overhead + 100));
    CHECK(first[0].offset() == 0);
    CHECK(producer.join());
    std::size_t total = got;
    while (total < 20) {
        const kbus::Batch& b = consumer.poll(30s);  // what is left: 20 - got records
        REQUIRE(!b.empty());
        CHECK(b[0].offset() == std::int64_t(total));
        total += b.size();
    }
    CHECK(total == 20);
}

TEST_CASE("fetch.max.wait: a poll short of fetch.min.bytes returns what it has once it passes",
          "[consumer]") {
    DaemonFixture d("fetch-wait");
    kbus::Client c(d.options());
    c.create_topic("f", 1);
    const auto mode =
        GENERATE(kbus::WaitMode::busy_poll, kbus::WaitMode::blocking, kbus::WaitMode::yielding);
    kbus::Consumer consumer(c, {.wait = mode,
                                .fetch_min_bytes = 1 << 20,
                                .fetch_max_wait = std::chrono::milliseconds(50)});
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    kbus::Producer p(c);
    send_values(p, "f", 3, 10);
    const auto t0 = std::chrono::steady_clock::now();
    const kbus::Batch& b = consumer.poll(30s);
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(b.size() == 3);
    CHECK(waited >= 50ms);  // it did wait for more: the 3 records were there from the start
    // A poll's own timeout, shorter than fetch.max.wait, still bounds it: what it has comes back.
    kbus::Consumer impatient(c, {.wait = mode, .fetch_min_bytes = 1 << 20});
    impatient.assign("f", 0, kbus::OffsetSpec::beginning());
    CHECK(impatient.poll(20ms).size() == 3);
    // Nothing there: an empty batch at the timeout, as without the option.
    CHECK(consumer.poll(20ms).empty());
    // A negative fetch.max.wait is no wait (not a wait as long as the poll's: an hour here).
    kbus::Consumer eager(c, {.wait = mode,
                             .fetch_min_bytes = 1 << 20,
                             .fetch_max_wait = std::chrono::milliseconds(-5)});
    eager.assign("f", 0, kbus::OffsetSpec::beginning());
    CHECK(eager.poll(std::chrono::hours(1)).size() == 3);
}

TEST_CASE("fetch.min.bytes past a quarter of the ring: polls fill to that, producers go on",
          "[consumer]") {
    DaemonFixture d("fetch-cap");
    kbus::Client c(d.options());
    constexpr std::size_t ring = 65536;
    c.create_topic("f", 1, {{"ring.bytes", std::to_string(ring)}});
    // Uncapped, the held batch would stop the producer at the ring's end and the poll would wait
    // its hour (the test's time-out fails it first).
    kbus::Consumer consumer(c, filling_for_an_hour());
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    constexpr int records = 2000;  // 2000 x 148 bytes: four and a half rings
    constexpr int cap_records = ring / 4 / (frame_overhead + 100) + 1;
    ProducerProcess producer(d, [](kbus::Producer& p) { send_values(p, "f", records, 100); });
    // Joined only after the last poll: the producer may still wait for the room it frees.
    read_filled(consumer, records, cap_records, false,
                [](const kbus::Batch& b) { CHECK(bytes_of(b) >= ring / 4); });
    CHECK(producer.join());
}

TEST_CASE("fetch.min.bytes in a group: what a poll holds is returned before the group's turn",
          "[consumer]") {
    DaemonFixture d("fetch-group");
    kbus::Client c(d.options());
    c.create_topic("g", 2);
    kbus::ConsumerOptions o{.fetch_min_bytes = 1 << 20, .fetch_max_wait = 5s};
    o.group_id = "filling";
    o.auto_commit_interval = 5000ms;  // only the revocation commits
    std::mutex mutex;
    std::set<std::int64_t> delivered;  // partition 0's offsets, by either member
    std::atomic<bool> stop{false};
    const auto member = [&](kbus::Consumer& con) {
        for (const kbus::Message& m : con.poll(3s)) {
            std::lock_guard lock(mutex);
            CHECK(delivered.insert(m.offset()).second);  // never twice
        }
    };
    kbus::Consumer a(c, o);
    a.subscribe(std::vector<std::string>{"g"});
    for (int i = 0; i < 100 && !a.in_group(); ++i)
        member(a);
    REQUIRE(a.in_group());
    kbus::Producer p(c);
    for (int i = 0; i < 3; ++i)
        p.send("g", nullptr, "r", {.headers = {}, .timestamp = {}, .partition = 0});
    // A second member joins while a's poll is filling: a's next heartbeat starts a rebalance, in
    // which a commits its positions and gives its partitions up. The three records it gathered
    // must go out of its poll first, not be committed unseen and dropped.
    std::atomic<bool> b_in_group{false};
    std::thread b_thread([&] {
        kbus::Client cb(d.options());
        kbus::Consumer b(cb, o);
        b.subscribe(std::vector<std::string>{"g"});
        while (!stop) {
            member(b);
            b_in_group = b.in_group();
        }
    });
    // Both members poll until the group is stable again with the two of them.
    for (int i = 0; i < 100 && !(b_in_group && a.in_group()); ++i)
        member(a);
    stop = true;
    b_thread.join();
    CHECK(delivered == std::set<std::int64_t>{0, 1, 2});
    a.close();
    const auto committed = kbus::group::committed(c, "filling", "g");
    CHECK(std::count(committed.begin(), committed.end(),
                     std::pair<std::int32_t, std::int64_t>{0, 3}) == 1);
}

TEST_CASE("fetch.min.bytes counts a record's headers, as the ring space it takes", "[consumer]") {
    DaemonFixture d("fetch-headers");
    kbus::Client c(d.options());
    constexpr std::size_t ring = 65536;
    c.create_topic("h", 1, {{"ring.bytes", std::to_string(ring)}});
    // Records of 10 bytes under a 1000-byte header: counted without it, a quarter of the ring
    // would take some 280 of them, four rings, and the held batch would stop the producer until
    // the consumer is detached (batch_invalidated).
    kbus::Consumer consumer(c, filling_for_an_hour());
    consumer.assign("h", 0, kbus::OffsetSpec::beginning());
    constexpr int records = 600;
    ProducerProcess producer(d, [](kbus::Producer& p) {
        const std::string header_value(1000, 'h');
        const kbus::HeaderView headers[] = {{"trace", kbus::BytesView(header_value)}};
        for (int i = 0; i < records; ++i)
            p.send("h", nullptr, "0123456789",
                   {.headers = headers, .timestamp = {}, .partition = 0});
    });
    const int cap_records = int(ring / 4 / (frame_overhead + 10 + 1000)) + 1;
    read_filled(consumer, records, cap_records, false,
                [](const kbus::Batch& b) { CHECK(b[0].header_bytes() > 1000); });
    CHECK(producer.join());
}

TEST_CASE("fetch.min.bytes reading from disk: a poll returns each run it fetched, not waiting",
          "[consumer]") {
    DaemonFixture d("fetch-disk");
    kbus::Client c(d.options());
    c.create_topic("old", 1, {{"ring.bytes", "65536"}});
    kbus::Producer p(c);
    constexpr int records = 3000;  // 3 MB through a 64 KiB ring: most of it read back from disk
    send_values(p, "old", records, 1000);
    // Waiting an hour for a gigabyte: a poll that took what one fetch from disk brought can take
    // no more before the next poll, so it must return then, not wait (the test's time-out).
    kbus::Consumer consumer(c, filling_for_an_hour());
    consumer.assign("old", 0, kbus::OffsetSpec::beginning());
    int from_disk = 0;
    read_filled(consumer, records, int(65536 / 4 / (frame_overhead + 1000)) + 2, true,
                [&](const kbus::Batch& b) { from_disk += b[0].from_ring() ? 0 : 1; });
    CHECK(from_disk > 0);
}

TEST_CASE("fetch.min.bytes, blocking: a consumer holding part of a batch sleeps until commits",
          "[consumer]") {
    DaemonFixture d("fetch-sleep");
    kbus::Client c(d.options());
    c.create_topic("slow", 1);
    kbus::Consumer consumer(c, {.wait = kbus::WaitMode::blocking,
                                .fetch_min_bytes = 10 * (frame_overhead + 10),
                                .fetch_max_wait = 5s});
    consumer.assign("slow", 0, kbus::OffsetSpec::beginning());
    // One record every 30 ms: the poll holds part of its batch.
    ProducerProcess producer(d, [](kbus::Producer& p) {
        for (int i = 0; i < 10; ++i) {
            send_values(p, "slow", 1, 10);
            std::this_thread::sleep_for(30ms);
        }
    });
    timespec cpu0{}, cpu1{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t got = consumer.poll(10s).size();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    CHECK(producer.join());
    const double cpu =
        double(cpu1.tv_sec - cpu0.tv_sec) + double(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
    CHECK(got == 10);
    CHECK(wall > 0.2);        // it waited for the records to come...
    CHECK(cpu < 0.3 * wall);  // ...asleep: spinning all along would use the whole of it
}

TEST_CASE("a poll that throws for one partition gives back what it gathered from the others",
          "[consumer]") {
    DaemonFixture d("fetch-rewind", {"--override", "kbus.spill.enable=false"});
    kbus::Client c(d.options());
    c.create_topic("two", 2);
    kbus::Producer p(c);
    for (int i = 0; i < 5; ++i)
        p.send("two", nullptr, "one", {.headers = {}, .timestamp = {}, .partition = 1});
    for (int i = 0; i < 3; ++i)
        p.send("two", nullptr, "zero", {.headers = {}, .timestamp = {}, .partition = 0});
    // Partition 0's first frame made unreadable (a length no frame can have), in the ring itself.
    const kbus::ring::RingRef r0 = c.ring(*c.topic("two"), 0, false);
    r0.record_at(0)->frame_length = 3;
    const auto fill = GENERATE(std::size_t(1), std::size_t(1) << 20);
    kbus::Consumer consumer(
        c, {.wait = kbus::WaitMode::busy_poll, .fetch_min_bytes = fill, .fetch_max_wait = 50ms});
    consumer.assign("two", 1, kbus::OffsetSpec::beginning());  // read first, then partition 0
    consumer.assign("two", 0, kbus::OffsetSpec::beginning());
    try {
        (void)consumer.poll(1s);
        FAIL("the corrupt frame was not reported");
    } catch (const kbus::OffsetOutOfRange& e) {
        CHECK(e.partition() == 0);
    }
    // Partition 1's five records were gathered before partition 0 threw, and not returned.
    CHECK(consumer.position("two", 1) == 0);
    consumer.seek("two", 0, kbus::OffsetSpec::at(1));
    std::set<std::pair<std::int32_t, std::int64_t>> got;
    for (int i = 0; i < 10 && got.size() < 7; ++i)
        for (const kbus::Message& m : consumer.poll(100ms))
            got.emplace(m.partition(), m.offset());
    CHECK(got == std::set<std::pair<std::int32_t, std::int64_t>>{
                     {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}});
}

TEST_CASE("a poll that throws for a held batch leaves the other partitions' batches to release",
          "[consumer]") {
    DaemonFixture d("fetch-release");
    kbus::Client c(d.options());
    c.create_topic("a", 1, {{"ring.bytes", "65536"}, {"consumer.hold.timeout.ms", "100"}});
    c.create_topic("b", 1, {{"ring.bytes", "65536"}, {"consumer.hold.timeout.ms", "200"}});
    kbus::Consumer consumer(c, {.wait = kbus::WaitMode::busy_poll});
    consumer.assign("a", 0, kbus::OffsetSpec::beginning());
    consumer.assign("b", 0, kbus::OffsetSpec::beginning());
    kbus::Producer p(c);
    send_values(p, "a", 1, 10);
    send_values(p, "b", 1, 10);
    std::size_t first = 0;
    for (int i = 0; i < 50 && first < 2; ++i)
        first += consumer.poll(100ms).size();
    REQUIRE(first == 2);  // a@0 and b@0, held until the next poll
    // a's producer runs three rings past the held batch: the consumer is detached from a, and
    // its next poll reports that as it starts, before it released anything.
    send_values(p, "a", 200, 1000);
    try {
        (void)consumer.poll(10ms);
        FAIL("the invalidated batch was not reported");
    } catch (const kbus::OffsetOutOfRange& e) {
        CHECK(e.topic() == "a");
        consumer.seek("a", 0, kbus::OffsetSpec::at(e.resume_offset()));
    }
    // b's batch must still be released by the polls that follow. Two rings then go into b while
    // the consumer does not poll: tethered by a batch it no longer holds, b would be detached
    // with its cursor mid-record, and read "not ready" for good. Released, b lags and reads on.
    for (int i = 0; i < 5; ++i)
        (void)consumer.poll(10ms);
    send_values(p, "b", 130, 1000);
    std::size_t from_b = 0;
    for (int i = 0; i < 300 && from_b < 130; ++i)
        for (const kbus::Message& m : consumer.poll(10ms))
            from_b += m.topic() == "b" ? 1 : 0;
    CHECK(from_b == 130);
}

TEST_CASE("kbusd stopped or killed while a poll fills: the poll still returns what it gathered",
          "[consumer]") {
    DaemonFixture d("fetch-daemon-gone");
    const bool kill = GENERATE(false, true);  // systemctl's SIGTERM, then a crash
    kbus::Client c(d.options());
    c.create_topic("f", 1);
    kbus::Consumer consumer(c, {.wait = kbus::WaitMode::blocking,
                                .fetch_min_bytes = 1 << 20,
                                .fetch_max_wait = std::chrono::milliseconds(300)});
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    kbus::Producer p(c);
    for (int i = 0; i < 3; ++i)
        p.send("f", nullptr, "value-" + std::to_string(i));
    // The daemon goes away 100 ms into the fill; the views the poll holds point into shared
    // memory this process still maps, so they stay readable whatever became of kbusd.
    std::thread stopper([&] {
        std::this_thread::sleep_for(100ms);
        if (kill)
            d.kill_hard();
        else
            CHECK(d.stop() == 0);
    });
    const kbus::Batch& b = consumer.poll(30s);
    stopper.join();
    REQUIRE(b.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(b[std::size_t(i)].offset() == i);
        CHECK(b[std::size_t(i)].value().str() == "value-" + std::to_string(i));
    }
}
