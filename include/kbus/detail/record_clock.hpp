// The producers' clock for record timestamps (Kafka's CreateTime, in milliseconds). Reading the
// wall clock costs ~30 ns in a VM (kvm-clock), a quarter of a send; the TSC costs a third of
// that. So the wall clock is read at most once per 100 us of TSC ticks and reused in between:
// a timestamp is never more than 0.1 ms behind, ten times finer than its own resolution.
// Without a constant-rate TSC (or off x86) every call reads the wall clock.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include "kbus/detail/clock.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace kbus::detail {

class RecordClock {
  public:
    [[nodiscard]] std::int64_t now_ms() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        if (refresh_ticks_ != 0) {
            const std::uint64_t t = __rdtsc();
            if (t - last_read_ticks_ < refresh_ticks_) return last_ms_;  // also false if t < last
            return read(t);
        }
        if (tsc_is_steady()) return calibrate();
#endif
        return wall_clock_ms();
    }

  private:
    static constexpr std::uint64_t refresh_ns = 100'000;

#if defined(__x86_64__) || defined(__i386__)
    std::int64_t read(std::uint64_t ticks) noexcept {
        last_read_ticks_ = ticks;
        last_ms_ = wall_clock_ms();
        return last_ms_;
    }

    /// Counts TSC ticks against the monotonic clock over the first millisecond of use, reading
    /// the wall clock every time meanwhile.
    std::int64_t calibrate() noexcept {
        const std::uint64_t t = __rdtsc(), ns = monotonic_ns();
        if (start_ns_ == 0) {
            start_ns_ = ns;
            start_ticks_ = t;
        } else if (ns - start_ns_ >= 1'000'000 && t > start_ticks_) {
            const double ticks_per_ns = double(t - start_ticks_) / double(ns - start_ns_);
            refresh_ticks_ = std::uint64_t(ticks_per_ns * double(refresh_ns));
        }
        return read(t);
    }

    /// constant_tsc: the TSC ticks at one rate whatever the core's frequency (every x86 CPU of
    /// the last fifteen years); read once per process.
    static bool tsc_is_steady() noexcept {
        static const bool steady = [] {
            std::ifstream cpuinfo("/proc/cpuinfo");
            for (std::string line; std::getline(cpuinfo, line);)
                if (line.rfind("flags", 0) == 0)
                    return line.find(" constant_tsc") != std::string::npos;
            return false;
        }();
        return steady;
    }
#endif

    std::uint64_t refresh_ticks_ = 0;  ///< 0: not calibrated (or no steady TSC)
    std::uint64_t last_read_ticks_ = 0;
    std::int64_t last_ms_ = 0;
    std::uint64_t start_ns_ = 0;
    std::uint64_t start_ticks_ = 0;
};

}  // namespace kbus::detail
