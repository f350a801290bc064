// Exclusive producers (ProducerOptions::exclusive) and fence-free commits over a real kbusd:
// ownership across producers and processes, an owner's death, and a blocking consumer that
// announces itself just as a commit it cannot see yet is made.
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

// A fence-free producer's commit may still be in its core's store buffer when a consumer that
// announced itself re-checks; the producer, having looked at `sleepers` before the announcement
// was visible, wakes nobody. Here the commit comes after the announcement and wakes nobody (a
// harsher case): the consumer must find it after its short grace sleep, not after the 100 ms it
// otherwise sleeps between looks.
TEST_CASE("a blocking consumer finds a commit that woke nobody after its grace sleep",
          "[exclusive]") {
    DaemonFixture d("grace", {"--override", "kbus.spill.enable=false"});
    kbus::Client c(d.options());
    c.create_topic("quiet", 1);
    const auto topic = c.topic("quiet");
    kbus::ring::RingWriter silent(c.ring(*topic, 0, true));
    kbus::ring::WakeLine& wake = silent.ring().header().wake;
    constexpr int rounds = 10;
    std::atomic<int> received{0};
    std::thread consumer([&] {
        kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking, .spin_before_sleep = 0us});
        con.assign("quiet", 0, kbus::OffsetSpec::beginning());
        while (received.load() < rounds)
            for (const auto& m : con.poll(5s)) {
                (void)m;
                received.fetch_add(1);
            }
    });
    int quick = 0;
    for (int round = 0; round < rounds; ++round) {
        while (wake.sleepers.load() == 0)
            std::this_thread::yield();
        const auto announced = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - announced < 50us) {
        }
        const kbus::ring::FramePlan plan = kbus::ring::frame_plan({}, 1, {});
        kbus::ring::RingClaim claim;
        REQUIRE(silent.try_claim(plan.layout, claim) == kbus::ring::ClaimStatus::claimed);
        kbus::ring::write_data_frame(silent.payload(claim), claim.position, plan, 1, {}, 1, {});
        silent.publish(claim);  // the commit store alone: no wake-up
        const auto published = std::chrono::steady_clock::now();
        while (received.load() <= round)
            std::this_thread::yield();
        if (std::chrono::steady_clock::now() - published < 30ms) ++quick;
    }
    consumer.join();
    // A preempted round may take longer; a consumer without the grace sleep takes ~100 ms in all.
    CHECK(quick >= rounds / 2);
}
