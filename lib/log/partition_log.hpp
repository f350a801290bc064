// One partition's log on disk: <data dir>/<topic>-<partition>/, a run of segments. Appends go to
// the active (last) segment, which rolls at segment.bytes or segment.ms; flush.messages and
// flush.ms decide when to fdatasync; retention deletes whole closed segments from the oldest.
// Recovery at open checks what an unclean shutdown may have torn and cuts the log there.
//
// Damage is contained (Kafka's recovery point): the log keeps, in recovery-point-offset-checkpoint,
// the offset below which it is known to be on disk, advanced after each sync (a roll syncs the
// closed segment, flush.ms / flush.messages and a clean stop the active one). Recovery cuts only
// a torn tail: the first bad batch at or past that point. A bad batch below it is corruption: it
// costs that batch alone, is logged once with its file, bytes and offsets, and is remembered as a
// corrupt region that every read steps over; later segments are never deleted for it. A read or
// fetch of offsets the damage cost throws Error(corrupt_record) naming them.
//
// Thread-safe: the spill thread appends, syncs and applies retention while the control and Kafka
// threads read. One mutex guards the segment list; a sync (the slow part of a write) runs
// outside it, and the log's start and end offsets are readable without it.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/topic_config.hpp"
#include "log/log_cleaner.hpp"
#include "log/segment.hpp"
#include "log/transaction_index.hpp"
#include "logging/log_sink.hpp"

namespace kbus::log {

struct TimestampAndOffset {
    std::int64_t timestamp = -1;
    std::int64_t offset = -1;
};

class PartitionLog {
  public:
    // Opens the directory (creating it for the access policy), recovering its segments. `verify`
    // checks every batch's CRC (after an unclean shutdown); a torn tail past the recovery point
    // is cut and later segments dropped, damage below it is stepped over.
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
    [[nodiscard]] config::TopicConfig config() const;

    // Appends one finished batch (base offset >= log end; a gap moves the log end, as aborted
    // records do). Rolls first if the active segment is full or too old. Throws Error(io_error).
    void append(std::string_view batch, std::int64_t now_ms);
    // Syncs if flush.messages or flush.ms says so (or always when `force`). Called by the thread
    // that appends.
    void maybe_flush(std::int64_t now_ms, bool force = false);
    // When flush.ms next makes maybe_flush sync (wall-clock ms), if records wait for a sync.
    // Called by the thread that appends.
    [[nodiscard]] std::optional<std::int64_t> flush_due_ms() const;

    // Deletes expired closed segments (retention.ms, retention.bytes) up to `high_watermark`;
    // returns how many.
    std::size_t apply_retention(std::int64_t now_ms);

    // Kafka's DeleteRecords: offsets below `offset` are gone for readers at once (the log start
    // moves there, kept in log-start-offset-checkpoint so that a restart keeps it); the segments
    // wholly below it go at the next retention pass. Error(offset_out_of_range) past the log end.
    // Returns the log start after it.
    std::int64_t delete_records_before(std::int64_t offset);
    [[nodiscard]] std::string start_checkpoint_path() const {
        return dir_ + "/log-start-offset-checkpoint";
    }

    // Whole batches from the one holding `offset`, up to max_bytes (at least one batch), never
    // across damage. Empty if offset is at or past the log end. Throws Error(offset_out_of_range)
    // below log start, and Error(corrupt_record) if damage cost `offset` (or lies between it and
    // the next batch).
    [[nodiscard]] std::string read(std::int64_t offset, std::size_t max_bytes) const;
    // Where read() would take its bytes from, for a reader that maps the segment itself.
    struct Extent {
        std::string path;  // the segment's .log file
        std::uint64_t position = 0;
        std::uint64_t length = 0;  // whole batches; 0: nothing at or after the offset
        std::uint64_t inode = 0;   // of the file now: the cleaner may replace it by another
    };
    // `below`: no batch from that offset on (a read_committed reader's last stable offset).
    [[nodiscard]] Extent locate(
        std::int64_t offset, std::size_t max_bytes,
        std::int64_t below = std::numeric_limits<std::int64_t>::max()) const;
    // The first offset with a timestamp >= ts, if any (the timeindex, then the batches).
    [[nodiscard]] std::optional<std::int64_t> offset_for_timestamp(std::int64_t ts) const;
    // The newest timestamp in the log and the first offset that carries it (nullopt: none).
    [[nodiscard]] std::optional<TimestampAndOffset> max_timestamp_record() const;

    // Damage in a segment file, and the offsets it cost.
    struct Damage {
        std::string path;  // the segment's .log file
        CorruptRegion region;
    };
    // The damage that costs `offset` (or lies between it and the next batch), if known; with
    // `check`, the batch that holds it is checked too (framing and CRC), and damage found there
    // is remembered and logged once. nullopt: sound there, or outside the log.
    [[nodiscard]] std::optional<Damage> damage_at(std::int64_t offset, bool check);
    // One line for an error or a log: which offsets the damage cost, where, and where reading
    // resumes.
    [[nodiscard]] std::string describe(const Damage& d) const;
    // The offset below which the log is known to be on disk. The appending thread's.
    [[nodiscard]] std::int64_t recovery_point() const noexcept {
        // Relaxed: it only grows; a reader on another thread (the cleaner's section, under the
        // spill lock, or describe) that sees an older value cleans or counts less, never more.
        return recovery_point_.load(std::memory_order_relaxed);
    }
    // Where that point is kept: Kafka's name, one file per partition directory.
    [[nodiscard]] std::string checkpoint_path() const {
        return dir_ + "/recovery-point-offset-checkpoint";
    }

    // ---- transactions ----
    // An aborted transaction whose ABORT marker was just appended (the spill's): into the
    // .txnindex of the segment that holds the marker. Once per marker (a retried append's second
    // note is ignored). Throws Error(io_error).
    void append_aborted(const AbortedTransaction& t);
    // The aborted transactions overlapping offsets from..to, oldest first (a read_committed
    // fetch's list, Kafka's aborted_transactions).
    [[nodiscard]] std::vector<AbortedTransaction> aborted_transactions(std::int64_t from,
                                                                       std::int64_t to) const;
    // The first offset of the oldest transaction the log holds records of but no marker for
    // (the spill's, as it writes them); nullopt: none open.
    void set_first_open_transaction(std::optional<std::int64_t> offset) noexcept {
        // Release: pairs with last_stable_offset's acquire (a reader's fetch, another thread).
        first_open_transaction_.store(offset.value_or(no_open_transaction),
                                      std::memory_order_release);
    }
    // Kafka's last stable offset: below it every transaction is decided (the log's end when none
    // is open). A read_committed reader reads below it only.
    [[nodiscard]] std::int64_t last_stable_offset() const noexcept {
        return std::min(first_open_transaction_.load(std::memory_order_acquire), log_end_offset());
    }

    // ---- compaction (partition_log_cleaning.cpp) ----
    // The segments a cleaner pass may work on: closed, synced (below the recovery point) and
    // older than min.compaction.lag.ms, those from the cleaner checkpoint on being dirty.
    // nullopt when there is none. Called with the appending thread kept out (the partition's
    // spill lock), as is swap_in_cleaned.
    [[nodiscard]] std::optional<CleanableSection> cleanable_section(std::int64_t now_ms) const;
    // Replaces the group's segments with its cleaned one: renames into place (a crash at any
    // instant leaves the old segments or the new one, recovery finishes a swap it finds begun),
    // then the segment list, under the lock. False, and nothing changed, if a segment of the
    // group is gone or changed since the section was taken (retention).
    [[nodiscard]] bool swap_in_cleaned(CleanedGroup& group);
    // The cleaner checkpoint (Kafka's cleaner-offset-checkpoint, one per partition here): offsets
    // below it were cleaned. Moves forward only.
    void set_cleaned_to(std::int64_t offset);
    [[nodiscard]] std::int64_t cleaned_to() const noexcept {
        return cleaned_to_.load(std::memory_order_acquire);  // pairs with set_cleaned_to's store
    }
    [[nodiscard]] std::string cleaner_checkpoint_path() const {
        return dir_ + "/cleaner-offset-checkpoint";
    }

  private:
    // At open: a swap that a crash interrupted is finished (its .swap renamed into place over
    // what it replaces), a staging directory left behind is removed; the checkpoint is read.
    void finish_interrupted_swaps();
    void read_cleaner_checkpoint();

    // The segment and file position of the batch holding `offset` (or the first after it);
    // nullptr past the log end. Throws below the log start, and corrupt_record at damage.
    [[nodiscard]] std::pair<const Segment*, std::uint64_t> find(std::int64_t offset) const;
    struct Spot {
        Segment* segment = nullptr;
        std::uint64_t position = 0;
        std::optional<Damage> damage;
    };
    // Under the lock: where `offset` is read, or the damage that stands there. Damage found on
    // the way (a header no batch can have, or with `check_crc` a CRC mismatch) is remembered
    // even by a read: regions are what the disk holds, not state of the log's own.
    [[nodiscard]] Spot spot_of(std::int64_t offset, bool check_crc) const;
    void report_damage(const std::string& path, const CorruptRegion& r) const;

    // Recovery at open.
    [[nodiscard]] std::vector<std::int64_t> list_segments();
    [[nodiscard]] std::int64_t read_recovery_point(bool verify);
    void recover(const std::vector<std::int64_t>& bases, bool verify, std::int64_t recovery_point);
    void log_recovered(const Segment& s, const RecoveryResult& r);
    void settle_recovery_point(bool verify, std::int64_t recovery_point);
    // After a sync that covered every offset below `offset` (the appending thread).
    void advance_recovery_point(std::int64_t offset) noexcept;
    void write_checkpoint(const std::string& path, std::int64_t offset);
    [[nodiscard]] static std::optional<std::int64_t> read_offset_file(const std::string& path,
                                                                      bool& readable);
    void read_start_checkpoint();

    Segment& active() { return *segments_.rbegin()->second; }
    // Starts a segment at base_offset; the one it closes is returned for the caller to sync
    // outside the lock (nullptr if there was none).
    Segment* roll(std::int64_t base_offset);
    [[nodiscard]] std::uint64_t size_bytes_locked() const noexcept;
    // Under the lock: removes the segments retention expires from the list (oldest first, never
    // the active one) and hands them over, their files still there.
    [[nodiscard]] std::vector<std::unique_ptr<Segment>> take_expired(std::int64_t now_ms);
    void publish_offsets() noexcept;
    void sync_closed_segment();

    std::string dir_;
    config::TopicConfig config_;
    logging::LogSink sink_;
    // Damage found while serving (rate-limited per partition) and checkpoint write failures.
    mutable logging::RateLimitedLog limited_log_;
    mutable std::mutex mutex_;
    std::map<std::int64_t, std::unique_ptr<Segment>> segments_;  // by base offset
    std::atomic<std::int64_t> log_start_offset_{0};
    std::atomic<std::int64_t> log_end_offset_{0};
    std::int64_t deleted_before_ = 0;          // the DeleteRecords floor, under mutex_
    std::mutex delete_mutex_;                  // one DeleteRecords at a time (its checkpoint write)
    std::atomic<std::int64_t> cleaned_to_{0};  // the cleaner checkpoint
    TransactionIndex txn_index_;               // under mutex_
    static constexpr std::int64_t no_open_transaction = std::numeric_limits<std::int64_t>::max();
    std::atomic<std::int64_t> first_open_transaction_{no_open_transaction};
    // The appending thread's own bookkeeping (not under the mutex).
    std::int64_t unflushed_messages_ = 0;
    std::int64_t last_flush_ms_ = 0;
    // As last written to the checkpoint. The appending thread's; atomic because describe's dirty
    // ratio reads it from the control thread (cleanable_section).
    std::atomic<std::int64_t> recovery_point_{0};
    // A segment the last roll closed and no sync has covered yet (-1: none), and its end.
    std::int64_t unsynced_closed_base_ = -1;
    std::int64_t unsynced_closed_end_ = 0;
};

}  // namespace kbus::log
