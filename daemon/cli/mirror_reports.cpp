#include "mirror_reports.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "cli/bus_stats_view.hpp"

namespace kbus::cli {
namespace {

constexpr std::string_view status_prefix = "mirror-", status_suffix = ".status";

// One rule line's fields as JSON members.
std::string rule_json(const std::string& line) {
    std::string j = "{\"direction\":" + json_quoted(line.substr(0, line.find(' ')));
    const auto error_at = line.find(" last_error=");
    std::istringstream fields(line.substr(line.find(' ') + 1, error_at - line.find(' ')));
    for (std::string field; fields >> field;) {
        const auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
        j += ",\"" + key + "\":" + (key == "rule" ? json_quoted(value) : value);
    }
    if (error_at != std::string::npos) {
        const std::string e = line.substr(error_at + 12);
        j += ",\"last_error\":" + (e == "-" ? std::string("null") : json_quoted(e));
    }
    return j + "}";
}

}  // namespace

std::string mirror_status_path(const std::string& run_dir, const std::string& group) {
    return run_dir + "/" + std::string(status_prefix) + group + std::string(status_suffix);
}

std::vector<MirrorReport> mirror_reports(const std::string& run_dir) {
    namespace fs = std::filesystem;
    std::vector<MirrorReport> reports;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(status_prefix) || !name.ends_with(status_suffix)) continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        const auto written = fs::last_write_time(entry.path(), ec);
        MirrorReport r;
        r.group = name.substr(status_prefix.size(),
                              name.size() - status_prefix.size() - status_suffix.size());
        r.age_s =
            ec ? 0
               : std::chrono::duration<double>(fs::file_time_type::clock::now() - written).count();
        r.text = text.str();
        reports.push_back(std::move(r));
    }
    std::sort(reports.begin(), reports.end(),
              [](const auto& a, const auto& b) { return a.group < b.group; });
    return reports;
}

std::string mirrors_table(const std::vector<MirrorReport>& reports) {
    std::string out;
    for (const auto& r : reports) {
        char head[200];
        std::snprintf(head, sizeof head, "\nMIRROR %s (reported %.1f s ago%s)\n", r.group.c_str(),
                      r.age_s, r.stale() ? "; STALE: the mirror is not running" : "");
        out += head + r.text;
    }
    return out;
}

std::string mirrors_json(const std::vector<MirrorReport>& reports) {
    std::string j = ",\"mirrors\":[";
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const auto& r = reports[i];
        j += (i ? "," : "") + std::string("{\"group\":") + json_quoted(r.group) +
             ",\"age_s\":" + std::to_string(r.age_s) +
             ",\"stale\":" + (r.stale() ? "true" : "false") + ",\"rules\":[";
        std::istringstream lines(r.text);
        bool first = true;
        for (std::string line; std::getline(lines, line);) {
            if (!line.starts_with("out ") && !line.starts_with("in ")) continue;
            j += (first ? "" : ",") + rule_json(line);
            first = false;
        }
        j += "]}";
    }
    return j + "]";
}

}  // namespace kbus::cli
