// A latency histogram in the HDR style: every sample is counted, in buckets whose width grows
// with the value so that the relative error stays below 1/128 (0.8%) from 1 ns to 18 minutes, in
// a fixed 36 KB. Percentiles are the bucket's highest value (never flattering), the maximum is
// exact. Trivially copyable, so a benchmark's child process can hand it over in shared memory.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace kbus::bench {

class LatencyHistogram {
  public:
    // 2^sub_bucket_bits linear buckets per power of two: the precision.
    static constexpr unsigned sub_bucket_bits = 7;
    static constexpr std::uint64_t sub_buckets = std::uint64_t(1) << sub_bucket_bits;
    static constexpr unsigned value_bits = 40;  // up to 2^40 ns (18 minutes); larger is clamped
    static constexpr std::uint64_t max_trackable = (std::uint64_t(1) << value_bits) - 1;
    static constexpr std::size_t bucket_count =
        std::size_t(value_bits - sub_bucket_bits + 1) * sub_buckets;

    void record(std::uint64_t value) noexcept {
        const std::uint64_t v = std::min(value, max_trackable);
        ++counts_[index_of(v)];
        ++count_;
        max_ = std::max(max_, v);
        min_ = std::min(min_, v);
    }

    void merge(const LatencyHistogram& other) noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i)
            counts_[i] += other.counts_[i];
        count_ += other.count_;
        max_ = std::max(max_, other.max_);
        min_ = std::min(min_, other.min_);
    }

    void reset() noexcept { *this = LatencyHistogram{}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return count_ == 0 ? 0 : max_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }

    // The smallest bucket top that at least `percent`% of the samples are at or below (0 when
    // empty); never above the exact maximum.
    [[nodiscard]] std::uint64_t percentile(double percent) const noexcept {
        if (count_ == 0) return 0;
        const double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * double(count_));
        const std::uint64_t rank = std::max<std::uint64_t>(1, std::uint64_t(wanted));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(highest_value_in(i), max_);
        }
        return max_;
    }

    // Bucket layout, public so a test can check it: values below 2 * sub_buckets have a bucket
    // each; above, each power of two is split into sub_buckets equal parts.
    [[nodiscard]] static std::size_t index_of(std::uint64_t v) noexcept {
        const unsigned width = unsigned(std::bit_width(v));
        const unsigned shift = width > sub_bucket_bits + 1 ? width - sub_bucket_bits - 1 : 0;
        return std::size_t(shift * sub_buckets + (v >> shift));
    }
    [[nodiscard]] static std::uint64_t lowest_value_in(std::size_t index) noexcept {
        const std::uint64_t shift = index < 2 * sub_buckets ? 0 : index / sub_buckets - 1;
        return (index - shift * sub_buckets) << shift;
    }
    [[nodiscard]] static std::uint64_t highest_value_in(std::size_t index) noexcept {
        const std::uint64_t shift = index < 2 * sub_buckets ? 0 : index / sub_buckets - 1;
        return ((index - shift * sub_buckets + 1) << shift) - 1;
    }

  private:
    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = ~std::uint64_t(0);
};

}  // namespace kbus::bench
