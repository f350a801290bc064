// ConsumerOptions::fetch_min_bytes and fetch_max_wait (Kafka's fetch.min.bytes and
// fetch.max.wait.ms): a poll that finds records waits until they hold enough bytes, at most
// fetch_max_wait, and never waits for more than a quarter of a ring can hold.
#include <catch2/catch.hpp>
#include <chrono>
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
}  // namespace

TEST_CASE("fetch.min.bytes: a poll returns once the records hold enough bytes, all of them",
          "[consumer]") {
    DaemonFixture d("fetch-min");
    kbus::Client c(d.options());
    c.create_topic("f", 1);
    const auto mode = GENERATE(kbus::WaitMode::busy_poll, kbus::WaitMode::blocking);
    kbus::Consumer consumer(c, {.wait = mode, .fetch_min_bytes = 5 * (frame_overhead + 100)});
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    kbus::Producer p(c);
    // A producer that sends one record a millisecond: a poll that returned at the first record
    // (fetch.min.bytes 1) would hold one or two.
    std::thread producer([&] {
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
    producer.join();
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
    const auto mode = GENERATE(kbus::WaitMode::busy_poll, kbus::WaitMode::blocking);
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
}

TEST_CASE("fetch.min.bytes past a quarter of the ring: polls fill to that, producers go on",
          "[consumer]") {
    DaemonFixture d("fetch-cap");
    kbus::Client c(d.options());
    constexpr std::size_t ring = 65536;
    c.create_topic("f", 1, {{"ring.bytes", std::to_string(ring)}});
    // Waiting for a gigabyte, for as long as an hour, and for up to 100000 records a poll:
    // uncapped, the held batch would stop the producer at the ring's end and the poll would wait
    // its hour (the test's time-out fails it first).
    kbus::Consumer consumer(c, {.wait = kbus::WaitMode::busy_poll,
                                .max_poll_records = 100'000,
                                .fetch_min_bytes = std::size_t(1) << 30,
                                .fetch_max_wait = std::chrono::milliseconds(3'600'000)});
    consumer.assign("f", 0, kbus::OffsetSpec::beginning());
    kbus::Producer p(c);
    constexpr int records = 2000;  // 2000 x 148 bytes: four and a half rings
    constexpr int cap_records = ring / 4 / (frame_overhead + 100) + 1;
    std::thread producer([&] { send_values(p, "f", records, 100); });
    int total = 0;
    while (records - total >= cap_records) {  // enough to come for the cap: no timeout needed
        const kbus::Batch& b = consumer.poll(std::chrono::hours(1));
        REQUIRE(!b.empty());
        CHECK(b[0].offset() == total);
        CHECK(bytes_of(b) >= ring / 4);
        total += int(b.size());
    }
    producer.join();
    while (total < records) {  // the rest, short of the cap: at the poll's timeout
        const kbus::Batch& b = consumer.poll(100ms);
        REQUIRE(!b.empty());
        CHECK(b[0].offset() == total);
        total += int(b.size());
    }
    CHECK(total == records);
}
