// One log segment: <base>.log (RecordBatch v2 batches back to back), <base>.index (sparse:
// relative offset -> file position, every index.interval.bytes) and <base>.timeindex (max
// timestamp so far -> relative offset), exactly Kafka's files. The daemon's spill appends; recovery
// re-reads the batches, checks their CRCs and cuts a torn tail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kbus/log/record_batch.hpp"
#include "log/file.hpp"

namespace kbus::log {

// "<dir>/<20-digit base offset><suffix>", as Kafka names segment files.
[[nodiscard]] std::string segment_file_name(const std::string& dir, std::int64_t base_offset,
                                            const char* suffix);

struct RecoveryResult {
    bool truncated = false;
    std::uint64_t valid_bytes = 0;  // where the log was cut (or its size)
    std::string reason;             // what the first bad batch had wrong
};

class Segment {
  public:
    // A new, empty segment (its files are created, replacing leftovers).
    static Segment create(const std::string& dir, std::int64_t base_offset);
    // An existing segment: recovered (every batch read, CRCs checked when `verify`, indexes
    // rebuilt) or, when !verify, trusted with its indexes loaded if they are sane.
    static Segment open(const std::string& dir, std::int64_t base_offset, bool verify,
                        std::int32_t index_interval_bytes, RecoveryResult& result);

    [[nodiscard]] std::int64_t base_offset() const noexcept { return base_offset_; }
    [[nodiscard]] std::int64_t next_offset() const noexcept { return next_offset_; }
    [[nodiscard]] std::uint64_t size_bytes() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    // Largest record timestamp (-1 if none), and the first batch's timestamp (for segment.ms).
    [[nodiscard]] std::int64_t max_timestamp() const noexcept { return max_timestamp_; }
    [[nodiscard]] std::int64_t first_timestamp() const noexcept { return first_timestamp_; }
    [[nodiscard]] const std::string& log_path() const noexcept { return log_.path(); }

    // Appends one checked batch whose base offset is >= next_offset().
    void append(const BatchView& batch, std::int32_t index_interval_bytes);
    void flush();
    // The segment stops taking appends: a last time index entry, as Kafka writes on roll.
    void seal();
    // Deletes the three files.
    void remove();

    // File position of the batch that holds `offset` (or the first batch after it), found
    // through the offset index and then batch headers; size_bytes() if none.
    [[nodiscard]] std::uint64_t position_of(std::int64_t offset) const;
    // The first offset whose timestamp is >= ts, if this segment has one.
    [[nodiscard]] std::optional<std::int64_t> offset_for_timestamp(std::int64_t ts) const;
    // The length of the whole batches from `position`: at least one (if any), up to max_bytes.
    [[nodiscard]] std::size_t whole_batches_bytes(std::uint64_t position,
                                                  std::size_t max_bytes) const;
    // Reads whole batches from `position`, at least one (if any), up to max_bytes.
    [[nodiscard]] std::string read(std::uint64_t position, std::size_t max_bytes) const;

  private:
    Segment(const std::string& dir, std::int64_t base_offset, bool create);
    void add_index_entries(std::int64_t last_offset, std::uint64_t position);
    void rebuild(bool verify, std::int32_t index_interval_bytes, RecoveryResult& result);
    bool load_indexes();
    void write_indexes();

    struct IndexEntry {
        std::int32_t relative_offset;
        std::uint32_t position;
    };
    struct TimeEntry {
        std::int64_t timestamp;
        std::int32_t relative_offset;
    };

    std::string dir_;
    std::int64_t base_offset_ = 0;
    std::int64_t next_offset_ = 0;
    std::uint64_t size_ = 0;
    std::uint64_t bytes_since_index_ = 0;
    std::int64_t max_timestamp_ = -1;
    std::int64_t offset_of_max_timestamp_ = -1;
    std::int64_t first_timestamp_ = -1;
    File log_, index_, timeindex_;
    std::vector<IndexEntry> index_entries_;
    std::vector<TimeEntry> time_entries_;
};

}  // namespace kbus::log
