// What `kbus mirror` reports per rule (records, records/s, lag, skipped, last error), kept by
// the direction threads and written once a second to a status file that `kbus mirror --status`
// prints:
//   out rule=ord.* records=3500 records_per_s=1200 lag=0 skipped=0 last_error=-
// records counts what the rule took from its source: copied, or skipped as our own coming back.
// lag is what the rule's source partitions hold beyond what reached the other side (-1 until
// known): for out, the bus's high watermarks less the mirror's commits; for in, Kafka's high
// watermarks less the mirror's consumer positions.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "mirror/mirror_config.hpp"

namespace kbusd::mirror {

inline void log_line(const std::string& level, const std::string& message) {
    std::fprintf(stderr, "kbus mirror %s %s\n", level.c_str(), message.c_str());
}

struct RuleStatus {
    std::string pattern;
    std::atomic<std::uint64_t> records{0};
    std::atomic<std::uint64_t> skipped{0};  // our own records coming back
    std::atomic<std::int64_t> lag{-1};
    std::mutex mutex;
    std::string last_error;                    // guarded by mutex
    std::uint64_t records_at_last_report = 0;  // the status writer's alone
};

// One direction's rules. Counters are atomics (the status writer reads them from its own
// thread); the topic-to-rule cache belongs to the direction's thread.
class DirectionStatus {
  public:
    DirectionStatus(std::string name, const std::vector<kbus::mirror::TopicRule>& rules)
        : name_(std::move(name)), rules_(rules) {
        for (const auto& r : rules) {
            statuses_.push_back(std::make_unique<RuleStatus>());
            statuses_.back()->pattern = r.pattern;
        }
    }

    [[nodiscard]] bool empty() const noexcept { return statuses_.empty(); }

    // The first rule that takes the topic (a topic of this direction always has one).
    RuleStatus& of(const std::string& topic) {
        if (auto it = by_topic_.find(topic); it != by_topic_.end()) return *it->second;
        std::size_t i = 0;
        while (i + 1 < rules_.size() && !std::regex_match(topic, rules_[i].regex))
            ++i;
        return *(by_topic_[topic] = statuses_[i].get());
    }

    // Logged, and kept as the last error of the topic's rule (of every rule when no topic).
    // Only the direction's thread passes a topic (the cache is its own).
    void error(const std::string& what, const std::string* topic = nullptr) {
        log_line("ERROR", name_ + ": " + what);
        RuleStatus* only = topic ? &of(*topic) : nullptr;
        for (const auto& s : statuses_)
            if (!only || s.get() == only) keep_error(*s, what);
    }

    // Kept as every rule's last error without a log line of its own (librdkafka's log already
    // said it); safe from any thread.
    void keep_error(const std::string& what) {
        for (const auto& s : statuses_)
            keep_error(*s, what);
    }

    // Sets every rule's lag from per-topic figures (topics without one count as 0).
    void set_lags(const std::map<std::string, std::int64_t>& lag_by_topic) {
        std::map<RuleStatus*, std::int64_t> sums;
        for (const auto& s : statuses_)
            sums[s.get()] = 0;
        for (const auto& [topic, lag] : lag_by_topic)
            sums[&of(topic)] += lag;
        for (const auto& [s, lag] : sums)
            s->lag.store(lag, std::memory_order_relaxed);  // a figure for humans: no ordering
    }

    // One line per rule, records/s over the `seconds` since the last report.
    void report(std::ostream& out, double seconds) {
        for (const auto& s : statuses_) {
            const std::uint64_t now = s->records.load(std::memory_order_relaxed);
            std::lock_guard lock(s->mutex);
            out << name_ << " rule=" << s->pattern << " records=" << now << " records_per_s="
                << std::uint64_t(double(now - s->records_at_last_report) / seconds)
                << " lag=" << s->lag.load(std::memory_order_relaxed)
                << " skipped=" << s->skipped.load(std::memory_order_relaxed)
                << " last_error=" << (s->last_error.empty() ? "-" : s->last_error) << "\n";
            s->records_at_last_report = now;
        }
    }

  private:
    static void keep_error(RuleStatus& s, const std::string& what) {
        std::lock_guard lock(s.mutex);
        s.last_error = what;
    }

    std::string name_;
    const std::vector<kbus::mirror::TopicRule>& rules_;
    std::vector<std::unique_ptr<RuleStatus>> statuses_;
    std::map<std::string, RuleStatus*> by_topic_;
};

// Written whole to a temporary file and renamed, so a reader never sees half of it.
inline void write_status_file(const std::string& path, const kbus::mirror::MirrorConfig& c,
                              DirectionStatus& out, DirectionStatus& in, double seconds) {
    std::ostringstream s;
    s << "bootstrap.servers=" << c.bootstrap_servers << " group.id=" << c.group_id << "\n";
    out.report(s, seconds);
    in.report(s, seconds);
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << s.str();
    std::rename(tmp.c_str(), path.c_str());
}

}  // namespace kbusd::mirror
