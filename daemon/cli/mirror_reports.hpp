// What the mirrors of a bus last reported: each running `kbus mirror` rewrites its status file
// (mirror-<group>.status in the bus's run dir) every second. `kbus mirror --status`, `kbus
// stats` and `kbus top` read them back; a report older than a few seconds is from a mirror that
// is no longer running, and is shown as stale.
#pragma once

#include <string>
#include <vector>

namespace kbus::cli {

constexpr double mirror_report_stale_s = 5;  // five missed reports

struct MirrorReport {
    std::string group;
    double age_s = 0;
    std::string text;  // as --status prints it

    [[nodiscard]] bool stale() const { return age_s > mirror_report_stale_s; }
};

[[nodiscard]] std::string mirror_status_path(const std::string& run_dir, const std::string& group);

// Every report in the run dir, by group.
[[nodiscard]] std::vector<MirrorReport> mirror_reports(const std::string& run_dir);

// The reports under the bus's tables (kbus stats, kbus top), stale ones marked.
[[nodiscard]] std::string mirrors_table(const std::vector<MirrorReport>& reports);

// The reports as a JSON array member for kbus stats --json: ,"mirrors":[...]. A rule line ("out
// rule=P records=N ... last_error=TEXT") becomes an object whose numbers stay numbers;
// last_error (which may hold spaces) is the rest of the line.
[[nodiscard]] std::string mirrors_json(const std::vector<MirrorReport>& reports);

}  // namespace kbus::cli
