// The benchmarks' latency histogram: every figure in the README's tables comes through it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "latency_histogram.hpp"

using kbus::bench::LatencyHistogram;

TEST_CASE("histogram: buckets tile the values without gaps and within 1/128") {
    for (std::uint64_t v : {0ull, 1ull, 255ull, 256ull, 257ull, 1000ull, 65535ull, 1234567ull,
                            (1ull << 39) + 12345}) {
        const std::size_t i = LatencyHistogram::index_of(v);
        REQUIRE(i < LatencyHistogram::bucket_count);
        CHECK(LatencyHistogram::lowest_value_in(i) <= v);
        CHECK(LatencyHistogram::highest_value_in(i) >= v);
        const double width = double(LatencyHistogram::highest_value_in(i) -
                                    LatencyHistogram::lowest_value_in(i) + 1);
        CHECK(width <= std::max(1.0, double(v) / 128.0));
    }
    for (std::size_t i = 1; i < LatencyHistogram::bucket_count; ++i)
        REQUIRE(LatencyHistogram::lowest_value_in(i) ==
                LatencyHistogram::highest_value_in(i - 1) + 1);
}

TEST_CASE("histogram: percentiles of a known distribution") {
    auto h = std::make_unique<LatencyHistogram>();
    for (std::uint64_t v = 1; v <= 10000; ++v)
        h->record(v);
    CHECK(h->count() == 10000);
    CHECK(h->min() == 1);
    CHECK(h->max() == 10000);
    CHECK(h->percentile(50) >= 5000);
    CHECK(h->percentile(50) <= 5000 * 129 / 128);
    CHECK(h->percentile(99) >= 9900);
    CHECK(h->percentile(99) <= 9900 * 129 / 128);
    CHECK(h->percentile(100) == 10000);
    CHECK(h->percentile(0) == 1);
}

TEST_CASE("histogram: agrees with sorting within its precision") {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(6.5, 1.2);  // a long tail around 700 ns
    std::vector<std::uint64_t> samples;
    auto h = std::make_unique<LatencyHistogram>();
    for (int i = 0; i < 100000; ++i) {
        samples.push_back(std::uint64_t(latency(rng)));
        h->record(samples.back());
    }
    std::sort(samples.begin(), samples.end());
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
        const std::uint64_t exact = samples[std::size_t(p / 100 * double(samples.size())) - 1];
        INFO("p" << p);
        CHECK(double(h->percentile(p)) >= double(exact));
        CHECK(double(h->percentile(p)) <= double(exact) * 1.01 + 1);
    }
    CHECK(h->max() == samples.back());
}

TEST_CASE("histogram: merge, reset and values beyond the range") {
    auto a = std::make_unique<LatencyHistogram>();
    auto b = std::make_unique<LatencyHistogram>();
    a->record(100);
    b->record(300);
    b->record(std::uint64_t(1) << 50);  // clamped, still counted
    a->merge(*b);
    CHECK(a->count() == 3);
    CHECK(a->min() == 100);
    CHECK(a->max() == LatencyHistogram::max_trackable);
    CHECK(a->percentile(50) == LatencyHistogram::highest_value_in(LatencyHistogram::index_of(300)));
    a->reset();
    CHECK(a->count() == 0);
    CHECK(a->percentile(99) == 0);
    CHECK(a->max() == 0);
}
