#include "cli/top_screen.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/bus_stats_view.hpp"

namespace kbus::cli {
namespace {

// Fixed columns after the topic name: " PART  HIGH WATER   PRODUCED/S   CONSUMED/S  RING%  ..."
constexpr int partition_fixed = 5 + 12 + 10 + 10 + 7 + 10 + 5;
// After the group and topic names: state, members, partition, committed, lag.
constexpr int group_fixed = 12 + 5 + 5 + 12 + 10;

std::string padded(const std::string& s, int width) {
    std::string out = fit(s, width);
    out.resize(std::size_t(std::max(width, 0)), ' ');
    return out;
}

std::string printf_line(const char* format, auto... args) {
    char line[512];
    std::snprintf(line, sizeof line, format, args...);
    return line;
}

void partition_rows(const stats::BusStats& now, const stats::BusStats& before, int width,
                    std::vector<std::string>& out) {
    const int name = std::max(8, width - partition_fixed);
    out.push_back(padded("TOPIC", name) + printf_line("%5s%12s%10s%10s%7s%10s%5s", "PART",
                                                      "HIGH WATER", "PROD/S", "CONS/S", "RING%",
                                                      "SPILL LAG", "RDRS"));
    for (std::size_t i = 0; i < now.partitions.size(); ++i) {
        const auto& p = now.partitions[i];
        const PartitionRates r = rates_of(now, i, before);
        const double fill =
            p.ring_bytes ? 100.0 * double(p.ring_fill_bytes) / double(p.ring_bytes) : 0;
        out.push_back(padded(p.topic, name) +
                      printf_line("%5d%12lld%10.0f%10.0f%6.1f%%%10lld%5zu", p.partition,
                                  (long long)p.high_watermark, r.produced_per_s, r.consumed_per_s,
                                  fill, (long long)p.spill_lag(), p.readers.size()));
    }
}

void group_rows(const stats::BusStats& now, int width, std::vector<std::string>& out) {
    if (now.groups.empty()) return;
    const int names = std::max(16, width - group_fixed);
    const int group = names / 2, topic = names - group;
    out.emplace_back();
    out.push_back(padded("GROUP", group) + padded(" TOPIC", topic) +
                  printf_line("%-12s%5s%5s%12s%10s", " STATE", "MBRS", "PART", "COMMITTED", "LAG"));
    for (const auto& g : now.groups)
        out.push_back(padded(g.group, group) + padded(" " + g.topic, topic) +
                      padded(" " + g.state, 12) +
                      printf_line("%5u%5d%12lld%10lld", g.members, g.partition,
                                  (long long)g.committed, (long long)g.lag));
}

}  // namespace

std::string fit(const std::string& s, int width) {
    if (width <= 0) return {};
    if (int(s.size()) <= width) return s;
    return s.substr(0, std::size_t(width - 1)) + "~";
}

std::vector<std::string> top_body(const stats::BusStats& now, const stats::BusStats& before,
                                  const std::vector<std::string>& mirror_lines, int width) {
    std::vector<std::string> out;
    partition_rows(now, before, width, out);
    group_rows(now, width, out);
    for (const auto& line : mirror_lines)
        out.push_back(line);
    for (auto& line : out)
        line = fit(line, width);
    return out;
}

std::vector<std::string> top_screen(const std::string& title, const std::vector<std::string>& body,
                                    int width, int height, int& scroll) {
    std::vector<std::string> screen;
    if (height <= 0 || width <= 0) return screen;
    screen.push_back(fit(title, width));
    const int room = height - 2;  // the title and a blank line
    if (room <= 0) return screen;
    screen.emplace_back();
    const int lines = int(body.size());
    const bool fits = lines <= room;
    const int shown = fits ? lines : room - 1;  // the last line says where the view is
    scroll = fits ? 0 : std::clamp(scroll, 0, lines - shown);
    for (int i = 0; i < shown; ++i)
        screen.push_back(body[std::size_t(scroll + i)]);
    if (!fits)
        screen.push_back(fit(printf_line("-- lines %d-%d of %d: arrows or j/k scroll, q quits --",
                                         scroll + 1, scroll + shown, lines),
                             width));
    return screen;
}

}  // namespace kbus::cli
