// A partition directory as kafka-python's RecordBatch parser reads it (kafka_segment_reader.py,
// Debian's python3-kafka): a reader of control batches and .txnindex entries kbus did not write.
#pragma once

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace kbus::test {

// One line per batch and per aborted-transaction entry, as the script prints them.
inline std::vector<std::string> independent_segment_lines(const std::string& partition_dir) {
    const std::string script =
        (std::filesystem::path(__FILE__).parent_path() / "kafka_segment_reader.py").string();
    const std::string command = "/usr/bin/python3 '" + script + "' '" + partition_dir + "' 2>&1";
    FILE* out = ::popen(command.c_str(), "r");
    if (out == nullptr) throw std::runtime_error("cannot run " + command);
    std::vector<std::string> lines;
    std::string line;
    for (int ch; (ch = std::fgetc(out)) != EOF;) {
        if (ch != '\n') {
            line += char(ch);
            continue;
        }
        lines.push_back(line);
        line.clear();
    }
    if (::pclose(out) != 0)
        throw std::runtime_error(command + " failed: " + (lines.empty() ? "" : lines.back()));
    return lines;
}

}  // namespace kbus::test
