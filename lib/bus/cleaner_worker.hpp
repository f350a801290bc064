// kbusd's log cleaner thread (compacted topics, cleanup.policy=compact). Every
// log.cleaner.backoff.ms it looks at each partition of such a topic and cleans the dirtiest one
// that is due: its dirty ratio at least min.cleanable.dirty.ratio, or its oldest dirty record
// older than max.compaction.lag.ms. One partition at a time, as long as some are due.
//
// Locks: a partition's spill mutex is held to take its cleanable section and for each swap
// (renames and a directory sync), never while the cleaner reads or writes segment bytes, so the
// spill of that partition waits only for the swap and the other partitions never wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "bus/bus.hpp"
#include "config/broker_config.hpp"
#include "log/log_cleaner.hpp"
#include "logging/log_sink.hpp"

namespace kbus::bus {

class CleanerWorker {
  public:
    CleanerWorker(Bus& bus, config::CleanerConfig config, logging::LogSink sink)
        : bus_(bus),
          config_(config),
          sink_(std::move(sink)),
          throttle_(config.io_max_bytes_per_second),
          failures_(sink_, 60'000'000'000) {}

    // Passes until `stop` is set, sleeping log.cleaner.backoff.ms when nothing is due.
    void run(const std::atomic<bool>& stop);
    // Cleans the dirtiest due partition, if any; true if it cleaned one.
    bool clean_one(std::int64_t now_ms, const std::atomic<bool>* stop = nullptr);

  private:
    struct Candidate {
        std::shared_ptr<Partition> partition;
        log::CleanableSection section;
        config::TopicConfig config;
        double ratio = 0;
    };
    void yield_to_other_threads() const;
    [[nodiscard]] std::optional<Candidate> dirtiest_due(std::int64_t now_ms) const;
    bool clean(Candidate& c, std::int64_t now_ms, const std::atomic<bool>* stop);

    Bus& bus_;
    config::CleanerConfig config_;
    logging::LogSink sink_;
    log::IoThrottle throttle_;
    std::set<std::string> uncleanable_;  // "topic-partition": refused until kbusd restarts
    logging::RateLimitedLog failures_;   // a failing pass's line, once a minute per partition
};

}  // namespace kbus::bus
