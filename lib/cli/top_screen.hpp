// What `kbus top` draws, laid out for a window of any size: a title line that always stays, then
// the partitions' and groups' tables and the mirrors' reports, which scroll under it when they do
// not fit. Columns have fixed widths except the names, which take what the window leaves (at 80
// columns a topic name gets 21 characters; longer ones are cut, marked with '~'). Kept apart
// from the terminal library so that the layout can be checked without a terminal.
#pragma once

#include <string>
#include <vector>

#include "kbus/bus_stats.hpp"

namespace kbus::cli {

// The scrolling part: column headers and rows, every line at most `width` characters.
[[nodiscard]] std::vector<std::string> top_body(const stats::BusStats& now,
                                                const stats::BusStats& before,
                                                const std::vector<std::string>& mirror_lines,
                                                int width);

// The whole screen, at most `height` lines of at most `width` characters: the title, then the
// body from line `scroll` (clamped so that the last page is full), and a last line that says
// where the view is when the body does not fit.
[[nodiscard]] std::vector<std::string> top_screen(const std::string& title,
                                                  const std::vector<std::string>& body, int width,
                                                  int height, int& scroll);

// `s` cut to `width` characters, the cut marked with '~'.
[[nodiscard]] std::string fit(const std::string& s, int width);

}  // namespace kbus::cli
