// What every kbus benchmark binary shares: pinning, and a main that makes the figures honest by
// default (repeated, interleaved at random so drift hits every benchmark alike, medians reported)
// and hands the runs to a reporter that prints the ratios at the end.
#pragma once

#include <benchmark/benchmark.h>
#include <sched.h>

#include <map>
#include <string>
#include <vector>

namespace kbus::bench {

inline void pin_this_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)::sched_setaffinity(0, sizeof set, &set);
}

// Keeps every benchmark's medians (its counters, and "real_time" in the benchmark's unit) for
// the summary a subclass prints in Finalize().
class MedianReporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            // A single repetition has no aggregates: its one run is its median.
            const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
            if (r.aggregate_name != "median" && !single) continue;
            auto& m = medians_[r.run_name.function_name + "/" + r.run_name.args];
            for (const auto& [name, counter] : r.counters)
                m[name] = counter.value;
            m["real_time"] = r.GetAdjustedRealTime();
        }
    }

  protected:
    // 0 when the benchmark did not run (filtered out) or has no such counter.
    [[nodiscard]] double median(const std::string& benchmark, const std::string& counter) const {
        const auto b = medians_.find(benchmark);
        if (b == medians_.end()) return 0;
        const auto c = b->second.find(counter);
        return c == b->second.end() ? 0 : c->second;
    }

  private:
    std::map<std::string, std::map<std::string, double>> medians_;
};

inline int run_benchmarks(int argc, char** argv, benchmark::BenchmarkReporter& reporter) {
    std::vector<char*> args(argv, argv + argc);
    std::string reps = "--benchmark_repetitions=5",
                interleave = "--benchmark_enable_random_interleaving=true",
                aggregates = "--benchmark_report_aggregates_only=true";
    args.insert(args.begin() + 1, {reps.data(), interleave.data(), aggregates.data()});
    int n = int(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}

}  // namespace kbus::bench
