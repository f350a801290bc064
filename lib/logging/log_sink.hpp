// Where kbusd's parts write their log lines: one sink (the daemon's stderr, or a test's buffer),
// and a limiter that keeps one cause from flooding it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace kbus::logging {

// level: "INFO", "WARN" or "ERROR"; message: one line, no trailing newline.
using LogSink = std::function<void(const std::string& level, const std::string& message)>;

// At most one line per key per interval; the next line that passes says how many were held
// back. Keys name a cause and, where one peer can repeat it, the peer ("refused uid 1001",
// "kafka garbage 127.0.0.1:5000"). Thread-safe.
class RateLimitedLog {
  public:
    explicit RateLimitedLog(LogSink sink, std::uint64_t interval_ns = 1'000'000'000)
        : sink_(std::move(sink)), interval_ns_(interval_ns) {}

    // Writes the line unless this key wrote one within the interval. `now_ns`: a monotonic clock.
    void write(const std::string& key, const std::string& level, const std::string& message,
               std::uint64_t now_ns);

  private:
    struct Entry {
        std::uint64_t last_ns = 0;
        std::uint64_t held_back = 0;
    };
    LogSink sink_;
    std::uint64_t interval_ns_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
};

}  // namespace kbus::logging
