// kbus_compare's output: the table as it goes, the targets checked against the systems
// measured beside kbus, a JSON list for scripts and PNG charts drawn by gnuplot.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "peer.hpp"

namespace kbus::compare {

struct Row {
    std::string system;
    std::size_t payload = 0;
    std::optional<LatencyHistogram> latency;
    std::optional<double> msgs_per_s;
    std::vector<std::string> errors;
    [[nodiscard]] std::optional<double> mb_per_s() const {
        if (!msgs_per_s) return std::nullopt;
        return *msgs_per_s * double(payload) / 1e6;
    }
};

inline void print_header(bool quick) {
    std::printf("\nround trip (ns, two processes on cores 0 and 1) and one-way stream%s\n",
                quick ? " (--quick: fewer samples)" : "");
    std::printf("%-20s %8s %9s %9s %9s %9s %10s %12s %10s\n", "system", "payload", "p50", "p99",
                "p99.9", "p99.99", "max", "msgs/s", "MB/s");
}

inline void print_row(const Row& r, bool with_errors = true) {
    std::printf("%-20s %8zu ", r.system.c_str(), r.payload);
    if (r.latency)
        std::printf(
            "%9llu %9llu %9llu %9llu %10llu ", (unsigned long long)r.latency->percentile(50),
            (unsigned long long)r.latency->percentile(99),
            (unsigned long long)r.latency->percentile(99.9),
            (unsigned long long)r.latency->percentile(99.99), (unsigned long long)r.latency->max());
    else
        std::printf("%9s %9s %9s %9s %10s ", "-", "-", "-", "-", "-");
    if (r.msgs_per_s)
        std::printf("%12.0f %10.1f\n", *r.msgs_per_s, *r.mb_per_s());
    else
        std::printf("%12s %10s\n", "-", "-");
    if (with_errors)
        for (const std::string& e : r.errors)
            std::printf("    %s failed: %s\n", r.system.c_str(), e.c_str());
    std::fflush(stdout);
}

namespace detail {

inline const Row* find(const std::vector<Row>& rows, const std::string& system,
                       std::size_t payload) {
    for (const Row& r : rows)
        if (r.system == system && r.payload == payload) return &r;
    return nullptr;
}

inline std::optional<double> p50(const std::vector<Row>& rows, const std::string& system,
                                 std::size_t payload) {
    const Row* r = find(rows, system, payload);
    if (r == nullptr || !r->latency) return std::nullopt;
    return double(r->latency->percentile(50));
}

// A figure as people read it: nanoseconds as whole numbers ("60900 ns", the table's unit),
// rates in millions ("6.71 M msgs/s"); never printf's scientific notation.
inline std::string readable(double v, const std::string& unit) {
    char buf[64];
    if (unit == " msgs/s")
        std::snprintf(buf, sizeof buf, "%.2f M msgs/s", v / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.0f%s", v, unit.c_str());
    return buf;
}

// One target: prints its figures and whether it holds; a target whose baseline was not
// measured says so instead.
inline void check(const char* what, std::optional<double> value, std::optional<double> limit,
                  bool at_most, const char* unit = "") {
    if (!value || !limit) {
        std::printf("  [n/a ] %s: not measured in this run\n", what);
        return;
    }
    const double v = value.value_or(0), l = limit.value_or(0);
    const bool ok = at_most ? v <= l : v >= l;
    std::printf("  [%s] %s: %s against %s %s\n", ok ? " ok " : "MISS", what,
                readable(v, unit).c_str(), at_most ? "at most" : "at least",
                readable(l, unit).c_str());
}

inline bool has_latency(const Row* r) {
    return r != nullptr && r->latency.has_value();
}

inline std::optional<double> times(std::optional<double> v, double k) {
    if (!v) return std::nullopt;
    return *v * k;
}

}  // namespace detail

inline void print_checks(const std::vector<Row>& rows) {
    using detail::check;
    using detail::p50;
    using detail::times;
    std::printf("\ntargets (ratios within this run):\n");
    const auto kbus64 = p50(rows, "kbus busy-poll", 64);
    check("64 B busy-poll p50 vs 2x raw cache line", kbus64,
          times(p50(rows, "raw cache line", 64), 2), true, " ns");
    check("64 B busy-poll p50 vs 1/4 of iceoryx", kbus64, times(p50(rows, "iceoryx", 64), 0.25),
          true, " ns");
    if (const Row* r = detail::find(rows, "kbus busy-poll", 64); r && r->latency) {
        const Row* raw = detail::find(rows, "raw cache line", 64);
        check("64 B busy-poll p99.9 vs 2x the raw cache line's",
              double(r->latency->percentile(99.9)),
              raw && raw->latency ? times(double(raw->latency->percentile(99.9)), 2) : std::nullopt,
              true, " ns");
    }
    check("1 MiB busy-poll p50 vs 2x the 64 B one", p50(rows, "kbus busy-poll", 1048576),
          times(kbus64, 2), true, " ns");
    check("futex (no spin) p50 vs unix socket", p50(rows, "kbus futex", 64),
          p50(rows, "unix socket", 64), true, " ns");
    check("blocking (spin, then futex) p50 vs unix socket", p50(rows, "kbus blocking", 64),
          p50(rows, "unix socket", 64), true, " ns");
    const Row* k = detail::find(rows, "kbus busy-poll", 64);
    static const std::optional<double> not_measured;
    const std::optional<double>& rate = k != nullptr ? k->msgs_per_s : not_measured;
    check("64 B stream 1->1 vs 20 M msgs/s", rate, 20e6, false, " msgs/s");
    if (const Row* b = detail::find(rows, "kbus send_batch 64", 64); b && b->msgs_per_s)
        check("64 B stream 1->1 in runs of 64 (send_batch) vs 20 M msgs/s", b->msgs_per_s, 20e6,
              false, " msgs/s");
    const Row* x = detail::find(rows, "kbus exclusive", 64);
    if (x && x->msgs_per_s)
        check("64 B stream 1->1, exclusive producer, vs 20 M msgs/s", x->msgs_per_s, 20e6, false,
              " msgs/s");
    if (const Row* raw = detail::find(rows, "raw spsc ring", 64); raw && raw->msgs_per_s) {
        for (const Row* r : {k, x})
            if (r && r->msgs_per_s)
                std::printf(
                    "  [info] 64 B stream record by record (%s): %.0f%% of the raw spsc "
                    "ring's %s\n",
                    r->system.c_str(), 100.0 * *r->msgs_per_s / *raw->msgs_per_s,
                    detail::readable(*raw->msgs_per_s, " msgs/s").c_str());
    }
    // Aeron, when measured (--aeron-dir): the peer low-latency users weigh kbus against.
    const Row* aeron = detail::find(rows, "aeron ipc", 64);
    const Row* aeron_x = detail::find(rows, "aeron exclusive", 64);
    if (detail::has_latency(k) && detail::has_latency(aeron))
        check("64 B busy-poll p99.9 vs aeron ipc's", double(k->latency->percentile(99.9)),
              double(aeron->latency->percentile(99.9)), true, " ns");
    if (aeron && aeron->msgs_per_s)
        check("64 B stream record by record vs aeron ipc (concurrent publication)", rate,
              aeron->msgs_per_s, false, " msgs/s");
    if (aeron_x && aeron_x->msgs_per_s) {
        check("64 B stream, exclusive producer, vs aeron exclusive", x ? x->msgs_per_s : rate,
              aeron_x->msgs_per_s, false, " msgs/s");
        const Row* xb = detail::find(rows, "kbus exclusive send_batch 64", 64);
        check("64 B stream in runs of 64 (exclusive send_batch) vs 2x aeron exclusive",
              xb ? xb->msgs_per_s : not_measured, times(aeron_x->msgs_per_s, 2), false, " msgs/s");
    }
    // The same streams with a consumer that waits for 16 KiB a poll (fetch.min.bytes): no
    // target of their own, the ratio to Aeron's matching publication.
    for (const auto& [line, peer] : {std::pair{"kbus fetch.min.bytes 16384", aeron},
                                     std::pair{"kbus exclusive fetch.min.bytes 16384", aeron_x}})
        if (const Row* f = detail::find(rows, line, 64);
            f && f->msgs_per_s && peer && peer->msgs_per_s)
            std::printf("  [info] 64 B stream record by record (%s): %.2fx %s's %s\n", line,
                        *f->msgs_per_s / *peer->msgs_per_s, peer->system.c_str(),
                        detail::readable(*peer->msgs_per_s, " msgs/s").c_str());
    for (const Row& r : rows)
        if (r.payload == 64 && r.msgs_per_s && r.system.rfind("kbus", 0) != 0 &&
            r.system.rfind("raw", 0) != 0 && r.system.rfind("aeron", 0) != 0) {
            const std::string what = "64 B stream vs 5x " + r.system;
            check(what.c_str(), rate, *r.msgs_per_s * 5, false, " msgs/s");
        }
}

inline bool write_json(const std::vector<Row>& rows, const std::string& path) {
    std::ofstream out(path);
    if (!out) {
        std::fprintf(stderr, "kbus_compare: cannot write %s\n", path.c_str());
        return false;
    }
    auto number = [](std::optional<double> v) {
        return v ? std::to_string(*v) : std::string("null");
    };
    auto pct = [](const Row& r, double p) -> std::optional<double> {
        if (!r.latency) return std::nullopt;
        return p >= 100 ? double(r.latency->max()) : double(r.latency->percentile(p));
    };
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        out << "  {\"system\": \"" << r.system << "\", \"payload_bytes\": " << r.payload
            << ", \"rtt_p50_ns\": " << number(pct(r, 50))
            << ", \"rtt_p99_ns\": " << number(pct(r, 99))
            << ", \"rtt_p999_ns\": " << number(pct(r, 99.9))
            << ", \"rtt_p9999_ns\": " << number(pct(r, 99.99))
            << ", \"rtt_max_ns\": " << number(pct(r, 100))
            << ", \"msgs_per_s\": " << number(r.msgs_per_s)
            << ", \"mb_per_s\": " << number(r.mb_per_s()) << "}" << (i + 1 < rows.size() ? "," : "")
            << "\n";
    }
    out << "]\n";
    std::printf("wrote %s\n", path.c_str());
    return bool(out);
}

// Two charts: latency percentiles per system at 64 B (log scale), and stream throughput
// against payload size per system (log-log).
inline bool write_plots(const std::vector<Row>& rows, const std::string& dir) {
    std::filesystem::create_directories(dir);
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        std::fprintf(stderr,
                     "kbus_compare: gnuplot not found (apt install gnuplot-nox): no charts\n");
        return false;
    }
    {
        std::ofstream d(dir + "/latency_64.dat");
        d << "# system p50 p99 p99.9\n";
        for (const Row& r : rows)
            if (r.payload == 64 && r.latency)
                d << '"' << r.system << "\" " << r.latency->percentile(50) << ' '
                  << r.latency->percentile(99) << ' ' << r.latency->percentile(99.9) << "\n";
    }
    std::map<std::string, std::vector<const Row*>> by_system;
    for (const Row& r : rows)
        if (r.msgs_per_s) by_system[r.system].push_back(&r);
    std::ofstream g(dir + "/charts.gp");
    g << "set terminal pngcairo size 1000,600 noenhanced\n"
         "set output '"
      << dir << "/latency_64B.png'\n"
      << "set title 'Round trip, 64 B payload, two processes on two cores (lower is better)'\n"
         "set style data histogram\nset style histogram cluster gap 1\n"
         "set style fill solid border -1\nset logscale y\nset ylabel 'ns'\n"
         "set xtics rotate by -20\nset key top left\nset grid ytics\n"
         "plot '"
      << dir << "/latency_64.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', "
      << "'' using 4 title 'p99.9'\n";
    g << "reset\nset terminal pngcairo size 1000,600 noenhanced\nset output '" << dir
      << "/throughput.png'\n"
         "set title 'One-way stream throughput against payload size (higher is better)'\n"
         "set logscale xy\nset xlabel 'payload bytes'\nset ylabel 'MB/s'\nset grid\n"
         "set key bottom right\nplot ";
    bool first = true;
    int n = 0;
    for (const auto& [system, list] : by_system) {
        const std::string file = dir + "/throughput_" + std::to_string(n++) + ".dat";
        std::ofstream d(file);
        for (const Row* r : list)
            d << r->payload << ' ' << *r->mb_per_s() << "\n";
        g << (first ? "" : ", ") << "'" << file << "' using 1:2 with linespoints title '" << system
          << "'";
        first = false;
    }
    g << "\n";
    g.close();
    const std::string cmd = "gnuplot '" + dir + "/charts.gp'";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "kbus_compare: gnuplot failed on %s/charts.gp\n", dir.c_str());
        return false;
    }
    std::printf("wrote %s/latency_64B.png and %s/throughput.png\n", dir.c_str(), dir.c_str());
    return true;
}

}  // namespace kbus::compare
