// Exclusive producers (ProducerOptions::exclusive) and fence-free commits over a real kbusd:
// ownership across producers and processes, an owner's death, and the marks that make
// producers fence for blocking consumers.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;

namespace {

kbus::SendOptions to(std::int32_t partition) {
    kbus::SendOptions o;
    o.partition = partition;
    return o;
}

template <class F>
std::string owned_error(F&& f) {
    try {
        f();
    } catch (const kbus::Error& e) {
        if (e.code() == kbus::ErrorCode::partition_owned) return e.what();
        throw;
    }
    return {};
}

std::int64_t high_watermark(kbus::Client& c, const std::string& topic, std::int32_t partition) {
    return c.describe_topic(topic).partitions.at(std::size_t(partition)).high_watermark;
}

// Reads partition p from the beginning until `count` records came (or 10 s of silence).
std::vector<std::string> read_values(kbus::Client& c, const std::string& topic, std::int32_t p,
                                     std::size_t count) {
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign(topic, p, kbus::OffsetSpec::beginning());
    std::vector<std::string> values;
    for (int idle = 0; values.size() < count && idle < 1000;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            REQUIRE(m.offset() == std::int64_t(values.size()));  // dense, in order
            values.emplace_back(m.value().str());
        }
    }
    return values;
}

}  // namespace

TEST_CASE("an exclusive producer owns what it sends to: other producers are refused, not mixed in",
          "[exclusive]") {
    DaemonFixture d("owned");
    kbus::Client c(d.options());
    c.create_topic("owned", 2);
    kbus::Producer shared(c), rival(c, {.exclusive = true});
    (void)shared.send("owned", "k", "shared-0", to(0));
    {
        kbus::Producer owner(c, {.exclusive = true});
        for (int i = 1; i <= 1000; ++i)
            CHECK(owner.send("owned", "k", "owned-" + std::to_string(i), to(0)).offset == i);
        const std::string refused =
            owned_error([&] { (void)shared.send("owned", "k", "intruder", to(0)); });
        CHECK_THAT(refused, Catch::Contains("partition 0 of topic 'owned'") &&
                                Catch::Contains("exclusive producer (pid " +
                                                std::to_string(::getpid()) + ")"));
        CHECK_FALSE(owned_error([&] { (void)rival.send("owned", "k", "rival", to(0)); }).empty());
        CHECK_FALSE(owned_error([&] { (void)shared.try_send("owned", "k", "x", to(0)); }).empty());
        CHECK_FALSE(owned_error([&] {
                        const kbus::BatchRecord r[] = {{"k", "batch"}};
                        (void)shared.send_batch("owned", r, to(0));
                    }).empty());
        (void)shared.send("owned", "k", "other partition", to(1));  // not owned
        CHECK(owner.send("owned", "k", "owned-1001", to(0)).offset == 1001);
        CHECK(high_watermark(c, "owned", 0) == 1002);  // the ownership bit is not an offset
    }
    // The owner is gone: everyone may send again, offsets go on.
    CHECK(shared.send("owned", "k", "shared-1002", to(0)).offset == 1002);
    const std::vector<std::string> values = read_values(c, "owned", 0, 1003);
    REQUIRE(values.size() == 1003);
    CHECK(values.front() == "shared-0");
    for (int i = 1; i <= 1001; ++i)
        CHECK(values[std::size_t(i)] == "owned-" + std::to_string(i));
    CHECK(values.back() == "shared-1002");
}

TEST_CASE("an exclusive owner in another process: refused while it streams, let go when killed",
          "[exclusive][integration]") {
    DaemonFixture d("owner-dies");
    {
        kbus::Client c(d.options());
        c.create_topic("streamed", 1, {{"ring.bytes", "262144"}});
    }
    constexpr int records = 20000;
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        const int rc = 1;
        try {
            kbus::Client c(d.options());
            kbus::Producer owner(c, {.exclusive = true});
            (void)owner.send("streamed", "k", "0");  // owns the partition from here
            char b = 1;
            (void)!::write(ready[1], &b, 1);
            for (int i = 1; i < records; ++i)
                (void)owner.send("streamed", "k", std::to_string(i));
            b = 2;
            (void)!::write(ready[1], &b, 1);
            ::pause();  // killed while it still owns the partition
        } catch (...) {
        }
        char b = 3;
        (void)!::write(ready[1], &b, 1);
        ::_exit(rc);
    }
    kbus::Client c(d.options());
    char b = 0;
    REQUIRE(::read(ready[0], &b, 1) == 1);
    REQUIRE(b == 1);
    kbus::Producer rival(c);
    int refusals = 0;
    for (bool streaming = true; streaming; ++refusals) {
        CHECK_FALSE(owned_error([&] { (void)rival.send("streamed", "k", "intruder"); }).empty());
        pollfd p{ready[0], POLLIN, 0};
        streaming = ::poll(&p, 1, 0) == 0;
    }
    REQUIRE(::read(ready[0], &b, 1) == 1);
    CHECK(b == 2);
    CHECK(refusals > 0);
    CHECK_FALSE(owned_error([&] { (void)rival.send("streamed", "k", "intruder"); }).empty());
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // The kernel dropped the dead owner's lease: this producer clears its bit and goes on.
    CHECK(rival.send("streamed", "k", "after").offset == records);
    kbus::Producer heir(c, {.exclusive = true});
    CHECK(heir.send("streamed", "k", "heir").offset == records + 1);
    const std::vector<std::string> values = read_values(c, "streamed", 0, records + 2);
    REQUIRE(values.size() == std::size_t(records + 2));
    for (int i = 0; i < records; ++i)
        REQUIRE(values[std::size_t(i)] == std::to_string(i));
    CHECK(values[records] == "after");
    CHECK(values[records + 1] == "heir");
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST_CASE("a forked child of an exclusive owner neither claims beside it nor lets go for it",
          "[exclusive]") {
    DaemonFixture d("fork");
    kbus::Client c(d.options());
    c.create_topic("forked", 1);
    kbus::Producer owner(c, {.exclusive = true});
    (void)owner.send("forked", "k", "0");
    const pid_t child = ::fork();
    if (child == 0) {
        int rc = 1;
        {
            kbus::Producer copy = std::move(owner);  // destroyed in the child: must not let go
            try {
                (void)copy.send("forked", "k", "child");
            } catch (const kbus::Error& e) {
                rc = e.code() == kbus::ErrorCode::partition_owned ? 0 : 2;
            }
        }
        ::_exit(rc);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WEXITSTATUS(status) == 0);  // refused in the child
    kbus::Producer rival(c);
    CHECK_FALSE(owned_error([&] { (void)rival.send("forked", "k", "intruder"); }).empty());
    for (int i = 1; i < 100; ++i)
        CHECK(owner.send("forked", "k", std::to_string(i)).offset == i);
    const std::vector<std::string> values = read_values(c, "forked", 0, 100);
    REQUIRE(values.size() == 100);
    for (int i = 0; i < 100; ++i)
        CHECK(values[std::size_t(i)] == std::to_string(i));
}

// Producers fence their commits only while a blocking consumer is assigned to the ring: the
// consumer's mark counts it (busy-polling consumers never sleep, and leave no mark), and goes
// with it. A sleeping consumer is woken for every record of a paced producer.
TEST_CASE("blocking consumers mark the ring while assigned, and are woken for every commit",
          "[exclusive]") {
    DaemonFixture d("marks", {"--override", "kbus.spill.enable=false"});
    kbus::Client c(d.options());
    c.create_topic("paced", 1);
    const auto topic = c.topic("paced");
    const std::atomic<std::uint32_t>& marks =
        c.ring(*topic, 0, false).header().wake.blocking_readers;
    CHECK(marks.load() == 0);
    {
        kbus::Consumer busy(c, {.wait = kbus::WaitMode::busy_poll});
        busy.assign("paced", 0, kbus::OffsetSpec::end());
        CHECK(marks.load() == 0);
    }
    constexpr int records = 200;
    {
        kbus::Consumer sleeper(c, {.wait = kbus::WaitMode::blocking, .spin_before_sleep = 0us});
        sleeper.assign("paced", 0, kbus::OffsetSpec::end());
        CHECK(marks.load() == 1);
        std::thread producer([&] {
            kbus::Producer p(c, {.exclusive = true});
            for (int i = 0; i < records; ++i) {
                std::this_thread::sleep_for(500us);  // the consumer is asleep by then
                (void)p.send("paced", "k", std::to_string(i), to(0));
            }
        });
        int got = 0;
        for (int idle = 0; got < records && idle < 5; ++idle)
            for (const auto& m : sleeper.poll(2s)) {
                CHECK(m.value().str() == std::to_string(got++));
                idle = 0;
            }
        producer.join();
        CHECK(got == records);
    }
    CHECK(marks.load() == 0);
}
