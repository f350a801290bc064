// A topic of thousands of partitions over a real kbusd (issue 19: "a bus holds 10,000
// partitions"): idle partitions hold no file descriptor, a producer sending to every partition in
// turn and a consumer of all of them both work, and so does the same log after a restart.
// 10,000 partitions in the Release suite, 2,000 under the sanitizers (KBUS_TEST_RECORDS < 1M).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"

namespace {

std::int32_t wide_partitions() {
    const char* records = std::getenv("KBUS_TEST_RECORDS");
    return records != nullptr && std::strtoll(records, nullptr, 10) >= 1'000'000 ? 10000 : 2000;
}

std::size_t open_descriptors(pid_t pid) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        ++n;
    return n;
}

// Every partition's one record, read by a busy-polling consumer of the whole topic: the
// partitions it came from, each exactly once, with offset 0 and the value sent there.
std::set<std::int32_t> read_one_each(const kbus::ClientOptions& options, std::int32_t partitions) {
    kbus::Client c(options);
    kbus::ConsumerOptions co;
    co.wait = kbus::WaitMode::busy_poll;
    kbus::Consumer consumer(c, co);
    consumer.subscribe("wide", kbus::OffsetSpec::beginning());
    REQUIRE(consumer.assignment_size() == std::size_t(partitions));
    std::set<std::int32_t> seen;
    for (int polls = 0; seen.size() < std::size_t(partitions) && polls < 100000; ++polls)
        for (const kbus::Message& m : consumer.poll(std::chrono::milliseconds(10))) {
            CHECK(m.offset() == 0);
            CHECK(m.value().str() == "p" + std::to_string(m.partition()));
            CHECK(seen.insert(m.partition()).second);
        }
    return seen;
}

}  // namespace

TEST_CASE("a topic of thousands of partitions: idle ones hold no descriptor, every one works",
          "[wide]") {
    const std::int32_t partitions = wide_partitions();
    DaemonFixture d("wide", {"--override", "kbus.max.partitions=" + std::to_string(partitions)});
    kbus::ClientOptions options = d.options();
    options.request_timeout = std::chrono::minutes(2);
    kbus::Client c(options);
    const std::size_t before = open_descriptors(d.pid);
    c.create_topic("wide", partitions, {{"ring.bytes", "65536"}});
    CHECK(open_descriptors(d.pid) < before + 16);  // not one per idle partition

    // A producer sending to every partition in turn: each ring reserved at its first record.
    {
        kbus::Producer p(c);
        kbus::SendOptions at;
        for (std::int32_t i = 0; i < partitions; ++i) {
            at.partition = i;
            REQUIRE(p.send("wide", kbus::BytesView(), "p" + std::to_string(i), at).offset == 0);
        }
    }
    CHECK(read_one_each(options, partitions).size() == std::size_t(partitions));
    // Once spilled, each used partition holds its segment's .log open, and nothing more.
    for (int i = 0; i < 500 && c.describe_topic("wide").partitions.back().spill_offset < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(open_descriptors(d.pid) <= before + std::size_t(partitions) + 16);

    // After a restart (SIGTERM, as systemctl restart sends) the log of every partition is read.
    REQUIRE(d.stop() == 0);
    d.restart();
    CHECK(read_one_each(options, partitions).size() == std::size_t(partitions));
}
