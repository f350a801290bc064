// One log segment: <base>.log (RecordBatch v2 batches back to back), <base>.index (sparse:
// relative offset -> file position, every index.interval.bytes) and <base>.timeindex (max
// timestamp so far -> relative offset), exactly Kafka's files. The daemon's spill appends; recovery
// re-reads the batches, checks their CRCs and cuts a torn tail.
//
// Files and descriptors: a partition's first segment has no file until its first append (an idle
// partition is an empty directory, and holds no descriptor). The active segment holds its .log
// open once it has records; a closed one lets it go once synced, and each read of it opens the
// file for that read alone; no segment holds its indexes open. So a partition in use costs one
// descriptor, however many segments it has. Index entries live in memory and reach their files
// at each sync, at the roll and at a clean stop; after an unclean stop recovery rebuilds them.
//
// Damage that is not a torn tail (a bad batch below the recovery point: bytes that had reached
// the disk) is stepped over, never cut: the segment remembers it as a corrupt region (its bytes
// and the offsets it cost), and every walk over the batches jumps from its start to its end.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kbus/log/record_batch.hpp"
#include "log/file.hpp"

namespace kbus::log {

// Largest batch a reader of segments accepts: a corrupt length must not make recovery (or the
// cleaner) read gigabytes.
inline constexpr std::size_t max_batch_bytes = 256u << 20;

// "<dir>/<20-digit base offset><suffix>", as Kafka names segment files.
[[nodiscard]] std::string segment_file_name(const std::string& dir, std::int64_t base_offset,
                                            const char* suffix);
// The other way: the base offset of a file named "<20 digits><suffix>", or -1.
[[nodiscard]] std::int64_t segment_base_of(const std::string& file_name, std::string_view suffix);

// Bytes of a .log that hold no batch to trust (a CRC mismatch, a broken length or magic), from
// a bad batch's start to the next position where a valid batch starts (or the file's end). The
// offsets it cost are those between the batch before it and the batch after it; none if
// last_offset < first_offset.
struct CorruptRegion {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    std::int64_t first_offset = 0;
    std::int64_t last_offset = -1;
    std::string reason;  // what the bad batch had wrong
};

// What recovery knows of the disk: offsets below `recovery_point` were synced before the last
// stop, so damage there is corruption (stepped over), while at or past it a bad batch is a torn
// write (cut). `next_base`: the base offset of the segment after this one (-1: this is the last).
struct RecoveryLimits {
    std::int64_t recovery_point = 0;
    std::int64_t next_base = -1;
};

struct RecoveryResult {
    bool truncated = false;
    std::uint64_t valid_bytes = 0;       // where the log was cut (or its size)
    std::string reason;                  // what the first bad batch had wrong
    std::vector<CorruptRegion> regions;  // corruption found (and kept) below the recovery point
};

class Segment {
  public:
    // A new, empty segment (leftover files emptied): its .log made now, or at its first append
    // (a partition's first segment), its indexes as they fill.
    static Segment create(const std::string& dir, std::int64_t base_offset, bool make_log_file);
    // An existing segment: recovered (every batch read, CRCs checked when `verify`, indexes
    // rebuilt) or, when !verify, trusted with its indexes loaded if they are sane. Either way a
    // batch whose framing is broken is found; what happens to it is the limits' call.
    static Segment open(const std::string& dir, std::int64_t base_offset, bool verify,
                        std::int32_t index_interval_bytes, const RecoveryLimits& limits,
                        RecoveryResult& result);

    [[nodiscard]] std::int64_t base_offset() const noexcept { return base_offset_; }
    [[nodiscard]] std::int64_t next_offset() const noexcept { return next_offset_; }
    [[nodiscard]] std::uint64_t size_bytes() const noexcept { return size_; }
    // How far the kernel was asked to start writing the .log back (start_writeback_behind).
    [[nodiscard]] std::uint64_t writeback_requested_to() const noexcept { return writeback_from_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    // Largest record timestamp (-1 if none), and the first batch's timestamp (for segment.ms).
    [[nodiscard]] std::int64_t max_timestamp() const noexcept { return max_timestamp_; }
    [[nodiscard]] std::int64_t first_timestamp() const noexcept { return first_timestamp_; }
    [[nodiscard]] const std::string& log_path() const noexcept { return log_.path(); }

    // Appends one checked batch whose base offset is >= next_offset(): write_batch, then
    // account_batch.
    void append(const BatchView& batch, std::int32_t index_interval_bytes);
    // The two halves of append, for a log whose readers share a lock with it: the bytes go to
    // the file past size_bytes(), where no reader looks (write_batch, without the lock); then
    // size, offsets, timestamps and index entries take them in (account_batch, under it).
    void write_batch(const BatchView& batch);
    void account_batch(const BatchView& batch, std::int32_t index_interval_bytes);
    void flush();
    // The segment stops taking appends: a last time index entry, as Kafka writes on roll.
    void seal();
    // Deletes the three files.
    void remove();
    // A closed, synced segment gives its .log's descriptor back: reads open the file for
    // themselves from now on. Under the log's lock, as every read is.
    void let_go_of_descriptor() noexcept { log_.close(); }
    // A segment written in another directory (the cleaner's staging one) whose files were renamed
    // into `dir`: its paths follow them. Its descriptor is let go (reads open the new path).
    void relocate(const std::string& dir);

    // File position of the batch that holds `offset` (or the first batch after it), found
    // through the offset index and then batch headers; size_bytes() if none. Steps over corrupt
    // regions that end below `offset`; stops at one that covers it or comes first (its begin),
    // and at a header that cannot be a batch (a position that is no region's begin).
    [[nodiscard]] std::uint64_t position_of(std::int64_t offset) const;
    // The first offset whose timestamp is >= ts, if this segment has one.
    [[nodiscard]] std::optional<std::int64_t> offset_for_timestamp(std::int64_t ts) const;
    // The length of the whole batches from `position`: at least one (if any), up to max_bytes,
    // ending before a corrupt region or a header that cannot be a batch, and before a batch
    // whose base offset is `below` or more (a read_committed fetch stops at the stable offset).
    [[nodiscard]] std::size_t whole_batches_bytes(
        std::uint64_t position, std::size_t max_bytes,
        std::int64_t below = std::numeric_limits<std::int64_t>::max()) const;
    // Reads whole batches from `position`, at least one (if any), up to max_bytes.
    [[nodiscard]] std::string read(std::uint64_t position, std::size_t max_bytes) const;

    // Known damage: the region that starts at `position`, or the one that costs `offset`.
    [[nodiscard]] const CorruptRegion* region_at(std::uint64_t position) const noexcept;
    [[nodiscard]] const CorruptRegion* region_holding(std::int64_t offset) const noexcept;
    [[nodiscard]] const std::vector<CorruptRegion>& regions() const noexcept { return regions_; }
    // Checks the batch that holds `offset` (or the first after it) by its framing and its CRC;
    // if it is bad, the damage is remembered as a region (regions() grows) and returned, as is a
    // known region the walk meets first.
    // nullopt: that batch is sound, or there is none.
    [[nodiscard]] std::optional<CorruptRegion> check_batch_for(std::int64_t offset);
    // Recovery found the log shorter than its recovery point: offsets up to `offset` are
    // remembered as lost (an empty region), and the segment's next offset moves there.
    void extend_to(std::int64_t offset);

  private:
    // For the length of a read (under the log's lock): the .log of a segment that let its
    // descriptor go, opened and closed again. A no-op while the segment holds it (and while it
    // has no records: the appending thread may be opening it then, outside the lock).
    class OpenForReading {
      public:
        explicit OpenForReading(const Segment& s)
            : file_(s.log_), opened_(s.size_ > 0 && !s.log_.is_open()) {
            if (opened_) file_.open(false);
        }
        ~OpenForReading() {
            if (opened_) file_.close();
        }
        OpenForReading(const OpenForReading&) = delete;
        OpenForReading& operator=(const OpenForReading&) = delete;

      private:
        File& file_;
        bool opened_;
    };

    Segment(const std::string& dir, std::int64_t base_offset, bool open_log);
    void add_index_entries(std::int64_t last_offset, std::uint64_t position);
    void start_writeback_behind(std::uint64_t written_end) noexcept;
    void add_time_entry();
    void rebuild(bool verify, std::int32_t index_interval_bytes, const RecoveryLimits& limits,
                 RecoveryResult& result);
    [[nodiscard]] BatchCheck check_recovered(const BatchView& b, bool verify,
                                             std::int64_t expected_min,
                                             const RecoveryLimits& limits) const;
    // After a bad batch at `pos` (the batches before it end at `expected`): where the damage
    // ends, and the offsets it cost; nullopt when it should be cut as a torn tail instead.
    // `covers` (when set) is an offset the region must hold: a reader asked for it, and a region
    // ending before it would send the reader back to the same bad batch forever.
    [[nodiscard]] std::optional<CorruptRegion> damage_at(
        const std::byte* map, std::uint64_t size, std::uint64_t pos, std::int64_t expected,
        std::int64_t next_offset_bound, std::optional<std::int64_t> covers = std::nullopt) const;
    void add_region(const CorruptRegion& r);
    [[nodiscard]] bool header_sane(const char* header, std::uint64_t position) const noexcept;
    [[nodiscard]] static std::optional<std::int64_t> first_at_or_after(const BatchView& b,
                                                                       std::int64_t ts);
    [[nodiscard]] const CorruptRegion* region_containing(std::uint64_t position) const noexcept;
    bool load_indexes();
    // Both index files rewritten whole (recovery), or only the entries not yet on file.
    void write_indexes();
    void write_index_tails(bool sync);
    void write_index_tails_if_possible(bool sync) noexcept;
    [[nodiscard]] std::string index_path() const {
        return segment_file_name(dir_, base_offset_, ".index");
    }
    [[nodiscard]] std::string time_index_path() const {
        return segment_file_name(dir_, base_offset_, ".timeindex");
    }

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
    std::uint64_t writeback_from_ = 0;  // where the next start_writeback begins
    std::int64_t max_timestamp_ = -1;
    std::int64_t offset_of_max_timestamp_ = -1;
    std::int64_t first_timestamp_ = -1;
    // Opened at the first append, or at open() if the file holds records; mutable for
    // OpenForReading (reads are const).
    mutable File log_;
    std::size_t index_entries_on_file_ = 0;
    std::size_t time_entries_on_file_ = 0;
    bool indexes_unsynced_ = false;  // entries written since the last sync
    std::vector<IndexEntry> index_entries_;
    std::vector<TimeEntry> time_entries_;
    std::vector<CorruptRegion> regions_;  // by begin; the log's mutex guards them
};

}  // namespace kbus::log
