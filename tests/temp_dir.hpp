// A directory of its own for one unit test (per process, so parallel runs never share one),
// removed with everything in it when the test ends; and a log sink that keeps the lines.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "log/partition_log.hpp"

namespace kbus::testing {

struct TempDir {
    std::string path;
    // `create`: make the directory now (some code under test must create it itself).
    explicit TempDir(const std::string& name, bool create = false) {
        path = (std::filesystem::temp_directory_path() /
                ("kbus-unit-" + std::to_string(::getpid()) + "-" + name))
                   .string();
        std::filesystem::remove_all(path);
        if (create) std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

inline std::vector<std::string> logged;
inline logging::LogSink sink() {
    return
        [](const std::string& level, const std::string& m) { logged.push_back(level + " " + m); };
}

}  // namespace kbus::testing
