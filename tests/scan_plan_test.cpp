// Which partitions a consumer's gather pass reads: all of a few; of many, the active ones every
// pass and the rest a slice at a time, so a record anywhere is still found within a bound.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <vector>

#include "kbus/detail/scan_plan.hpp"

using kbus::detail::ScanPlan;

namespace {

// One pass in which the sources in `giving` have records: which sources it read, in order.
std::vector<std::size_t> pass(ScanPlan& plan, const std::set<std::size_t>& giving,
                              bool everything = false, std::size_t room = SIZE_MAX) {
    std::vector<std::size_t> read;
    std::size_t taken = 0;
    plan.pass(
        everything,
        [&](std::size_t i) {
            read.push_back(i);
            if (!giving.contains(i)) return std::size_t(0);
            ++taken;
            return std::size_t(1);
        },
        [&] { return taken >= room; });
    return read;
}

}  // namespace

TEST_CASE("a consumer of a few partitions reads every one on every pass, round robin",
          "[scan-plan]") {
    ScanPlan plan;
    plan.resize(ScanPlan::read_all_up_to);
    const auto first = pass(plan, {});
    const auto second = pass(plan, {});
    CHECK(first.size() == ScanPlan::read_all_up_to);
    CHECK(second.size() == ScanPlan::read_all_up_to);
    CHECK(second.front() == (first.front() + 1) % ScanPlan::read_all_up_to);
    CHECK(std::set<std::size_t>(first.begin(), first.end()).size() == first.size());
}

TEST_CASE("a consumer of many partitions reads the active ones every pass and a slice of the rest",
          "[scan-plan]") {
    ScanPlan plan;
    plan.resize(1000);
    // The first pass after an assignment reads everything, and finds the 10 active ones.
    std::set<std::size_t> active;
    for (std::size_t i = 0; i < 10; ++i)
        active.insert(i * 97);
    CHECK(pass(plan, active).size() == 1000);
    CHECK(plan.hot_count() == 10);
    // 10 records a pass: one cold partition read per 256 records found, besides them.
    std::size_t cold_reads = 0;
    for (int round = 0; round < 256; ++round) {
        const auto read = pass(plan, active);
        REQUIRE(read.size() >= 10);
        cold_reads += read.size() - 10;
        for (std::size_t a : active)
            CHECK(std::count(read.begin(), read.end(), a) == 1);
    }
    CHECK(cold_reads == 2560 / ScanPlan::records_per_cold_read);
    // A record on a cold partition is found once the slices come round to it, and turns hot.
    std::size_t passes = 0;
    active.insert(500);
    const std::size_t bound = 990 * ScanPlan::records_per_cold_read / 10 + 1;
    for (; passes < 2 * bound; ++passes) {
        const auto read = pass(plan, active);
        if (std::count(read.begin(), read.end(), 500) != 0) break;
    }
    CHECK(passes < bound);
    CHECK(plan.hot_count() == 11);
    // A pass that found nothing makes the next one read a whole slice of cold partitions.
    (void)pass(plan, {});
    CHECK(pass(plan, {}).size() == 11 + ScanPlan::cold_slice_max);
    CHECK(plan.last_active()[500] > plan.last_active()[1]);
}

TEST_CASE("a hot partition that stops giving cools, and a pass after a sleep reads everything",
          "[scan-plan]") {
    ScanPlan plan;
    plan.resize(200);
    (void)pass(plan, {3, 4});
    REQUIRE(plan.hot_count() == 2);
    for (std::uint64_t i = 0; i <= ScanPlan::cools_after_passes + ScanPlan::cool_check_every; ++i)
        (void)pass(plan, {4});
    CHECK(plan.hot_count() == 1);
    plan.read_everything_next();
    CHECK(pass(plan, {}).size() == 200);
    CHECK(pass(plan, {}).size() == 1 + ScanPlan::cold_slice_max);
    CHECK(pass(plan, {}, true).size() == 200);  // the pass before a sleep
}

TEST_CASE("a full batch of hot records does not starve the cold partitions", "[scan-plan]") {
    ScanPlan plan;
    plan.resize(500);
    std::set<std::size_t> active{1, 2, 3};
    (void)pass(plan, active, false, 2);  // everything, stopping at 2 records
    std::set<std::size_t> seen;
    for (int round = 0; round < 100000 && !seen.contains(400); ++round)
        for (std::size_t i : pass(plan, {1, 2, 3, 400}, false, 2))
            seen.insert(i);
    CHECK(seen.contains(400));
}

TEST_CASE("a pass stops when the batch is full, and a smaller assignment drops what is gone",
          "[scan-plan]") {
    ScanPlan plan;
    plan.resize(300);
    CHECK(pass(plan, {10, 20, 30}, false, 2).size() < 300);
    plan.resize(300);
    (void)pass(plan, {10, 20, 30, 250});
    CHECK(plan.hot_count() == 4);
    plan.resize(100);
    CHECK(plan.hot_count() == 3);
    for (std::size_t i : pass(plan, {}))
        CHECK(i < 100);
    plan.clear();
    CHECK(pass(plan, {1}).empty());
}
