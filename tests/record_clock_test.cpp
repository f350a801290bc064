// The producers' timestamp clock reuses a wall-clock reading for up to 100 us of TSC ticks: it
// must never run ahead of the wall clock, nor fall more than a millisecond behind it.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "kbus/detail/record_clock.hpp"

using kbus::detail::RecordClock;
using kbus::detail::wall_clock_ms;

TEST_CASE("record clock: stays within a millisecond of the wall clock, through calibration") {
    RecordClock clock;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    long calls = 0;
    while (std::chrono::steady_clock::now() < until) {  // spans calibration (1 ms) and after
        const std::int64_t before = wall_clock_ms();
        const std::int64_t t = clock.now_ms();
        const std::int64_t after = wall_clock_ms();
        REQUIRE(t <= after);
        REQUIRE(t >= before - 1);
        ++calls;
    }
    CHECK(calls > 1000);
}

TEST_CASE("record clock: follows the wall clock across sleeps") {
    RecordClock clock;
    std::int64_t last = clock.now_ms();
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        const std::int64_t t = clock.now_ms();
        CHECK(t >= last + 2);
        CHECK(t >= wall_clock_ms() - 1);
        last = t;
    }
}
