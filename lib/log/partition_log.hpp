// One partition's log on disk: <data dir>/<topic>-<partition>/, a run of segments. Appends go to
// the active (last) segment, which rolls at segment.bytes or segment.ms; flush.messages and
// flush.ms decide when to fdatasync; retention deletes whole closed segments from the oldest.
// Recovery at open checks what an unclean shutdown may have torn and cuts the log there.
//
// Thread-safe: the spill thread appends, syncs and applies retention while the control and Kafka
// threads read. One mutex guards the segment list; a sync (the slow part of a write) runs
// outside it, and the log's start and end offsets are readable without it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/topic_config.hpp"
#include "log/segment.hpp"
#include "logging/log_sink.hpp"

namespace kbus::log {

class PartitionLog {
  public:
    // Opens the directory (creating it for the access policy), recovering its segments. `verify`
    // checks every batch's CRC (after an unclean shutdown); corrupt tails are cut and later
    // segments dropped.
    PartitionLog(std::string dir, const config::TopicConfig& config, bool verify,
                 logging::LogSink sink);

    // Acquire: each only grows, and is published (release) once what it covers is in place.
    [[nodiscard]] std::int64_t log_start_offset() const noexcept {
        return log_start_offset_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::int64_t log_end_offset() const noexcept {
        return log_end_offset_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::uint64_t size_bytes() const;
    [[nodiscard]] std::size_t segment_count() const;
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

    void set_config(const config::TopicConfig& config);

    // Appends one finished batch (base offset >= log end; a gap moves the log end, as aborted
    // records do). Rolls first if the active segment is full or too old. Throws Error(io_error).
    void append(std::string_view batch, std::int64_t now_ms);
    // Syncs if flush.messages or flush.ms says so (or always when `force`). Called by the thread
    // that appends.
    void maybe_flush(std::int64_t now_ms, bool force = false);

    // Deletes expired closed segments (retention.ms, retention.bytes) up to `high_watermark`;
    // returns how many.
    std::size_t apply_retention(std::int64_t now_ms);

    // Whole batches from the one holding `offset`, up to max_bytes (at least one batch). Empty
    // if offset is at or past the log end. Throws OffsetOutOfRange-like Error below log start.
    [[nodiscard]] std::string read(std::int64_t offset, std::size_t max_bytes) const;
    // Where read() would take its bytes from, for a reader that maps the segment itself.
    struct Extent {
        std::string path;  // the segment's .log file
        std::uint64_t position = 0;
        std::uint64_t length = 0;  // whole batches; 0: nothing at or after the offset
    };
    [[nodiscard]] Extent locate(std::int64_t offset, std::size_t max_bytes) const;
    // The first offset with a timestamp >= ts, if any (the timeindex, then the batches).
    [[nodiscard]] std::optional<std::int64_t> offset_for_timestamp(std::int64_t ts) const;

  private:
    // The segment and file position of the batch holding `offset` (or the first after it);
    // nullptr past the log end. Throws below the log start.
    [[nodiscard]] std::pair<const Segment*, std::uint64_t> find(std::int64_t offset) const;

    Segment& active() { return *segments_.rbegin()->second; }
    // Starts a segment at base_offset; the one it closes is returned for the caller to sync
    // outside the lock (nullptr if there was none).
    Segment* roll(std::int64_t base_offset);
    [[nodiscard]] std::uint64_t size_bytes_locked() const noexcept;
    void publish_offsets() noexcept;

    std::string dir_;
    config::TopicConfig config_;
    logging::LogSink sink_;
    mutable std::mutex mutex_;
    std::map<std::int64_t, std::unique_ptr<Segment>> segments_;  // by base offset
    std::atomic<std::int64_t> log_start_offset_{0};
    std::atomic<std::int64_t> log_end_offset_{0};
    // The appending thread's own bookkeeping (not under the mutex).
    std::int64_t unflushed_messages_ = 0;
    std::int64_t last_flush_ms_ = 0;
};

}  // namespace kbus::log
