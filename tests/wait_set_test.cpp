// Which partitions a blocking consumer sleeps on, and for how long: all of them when futex_waitv
// can take them, else the most recently active ones with a short cap.
#include <catch2/catch.hpp>
#include <vector>

#include "kbus/detail/wait_set.hpp"

using namespace kbus::detail;
using namespace std::chrono_literals;

TEST_CASE("a consumer of few partitions sleeps on all of them", "[wait-set]") {
    const std::vector<std::uint64_t> active{0, 5, 0};
    std::vector<std::size_t> out{99};
    choose_wait_set(active, 128, out);
    CHECK(out == std::vector<std::size_t>{0, 1, 2});
    CHECK(sleep_cap(3, out.size(), 100ms, 1ms) == 100ms);
}

TEST_CASE("a consumer of more partitions than it can wait on sleeps on the latest active",
          "[wait-set]") {
    std::vector<std::uint64_t> active(300, 0);
    active[250] = 9;  // the most recent
    active[7] = 3;
    active[299] = 3;
    std::vector<std::size_t> out;
    choose_wait_set(active, 4, out);
    REQUIRE(out.size() == 4);
    std::sort(out.begin(), out.end());
    // 250, then 7 and 299 (equally recent), then the lowest index among the never active.
    CHECK(out == std::vector<std::size_t>{0, 7, 250, 299});
    CHECK(sleep_cap(300, out.size(), 100ms, 1ms) == 1ms);
    CHECK(sleep_cap(300, out.size(), 500us, 1ms) == 500us);
}
