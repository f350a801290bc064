// What the machine itself takes from a busy core: a loop that only reads the clock, pinned to
// each of the two cores the runs use, notes every gap over 5 us (an interrupt, a timer tick, the
// hypervisor). On a VM whose tick costs tens of microseconds, a round trip of R ns is hit by one
// with a chance of about R x (gaps per second, both cores): that, not the system measured, is
// what its p99.9 shows once the chance passes 0.1%. Printed before the table, so that a tail can
// be read against it.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace kbus::compare {

struct CoreJitter {
    std::size_t gaps = 0;  // over 5 us
    double lost_us = 0;
    double median_us = 0;
};

inline CoreJitter measure_core_jitter(int cpu, std::chrono::milliseconds span) {
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        (void)::sched_setaffinity(0, sizeof set, &set);
    }
    using clock = std::chrono::steady_clock;
    std::vector<double> gaps;
    const auto start = clock::now();
    auto last = start;
    for (auto now = start; now - start < span; now = clock::now()) {
        const double gap = std::chrono::duration<double, std::micro>(now - last).count();
        if (gap > 5) gaps.push_back(gap);
        last = now;
    }
    CoreJitter j;
    j.gaps = gaps.size();
    for (const double g : gaps)
        j.lost_us += g;
    if (!gaps.empty()) {
        std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
        j.median_us = gaps[gaps.size() / 2];
    }
    return j;
}

// Both cores at once (threads pinned as the runs' processes are), for `span`.
inline void print_machine_jitter(std::pair<int, int> cpus, std::chrono::milliseconds span) {
    CoreJitter a, b;
    std::thread other([&] { b = measure_core_jitter(cpus.second, span); });
    a = measure_core_jitter(cpus.first, span);
    other.join();
    const double seconds = std::chrono::duration<double>(span).count();
    const double per_s = double(a.gaps + b.gaps) / seconds;
    std::printf(
        "machine: a busy core loses %.1f%% of its time to %.0f gaps/s over 5 us (median %.0f us); "
        "with both cores' gaps, a p99.9 shows them once a round trip takes over %.0f ns\n",
        (a.lost_us + b.lost_us) / 2 / (seconds * 1e6) * 100, per_s / 2,
        std::max(a.median_us, b.median_us), per_s > 0 ? 1e-3 / per_s * 1e9 : 0.0);
}

}  // namespace kbus::compare
