// Log compaction (cleanup.policy=compact), Kafka's cleaner, one partition's log at a time.
//
// A pass works on the log's cleanable section: its closed, synced segments, older than
// min.compaction.lag.ms, the ones past the cleaner checkpoint being dirty (never cleaned):
//   1. the key map: each key's newest offset in the dirty segments;
//   2. every segment of the section, clean and dirty, rewritten in groups of at most
//      segment.bytes, keeping a record unless a newer record of its key exists. Keyless records
//      go (a compacted topic refuses them; any that came in before the policy changed have no
//      key to keep them by), and so do tombstones (null values) older than delete.retention.ms
//      in segments already cleaned once. Offsets stay as they were, with gaps. Batches of
//      aborted transactions go whole (and never count in the key map), as do markers whose
//      transaction has no record left, past delete.retention.ms (cleaner_transactions.hpp), an
//      ABORT's .txnindex entry with it; other control batches stay whole;
//   3. each group written to a staging directory and handed to the log to swap in
//      (PartitionLog::swap_in_cleaned), atomically by rename and recovered after a crash.
// A segment with a batch the cleaner cannot read (framing, CRC, a codec) is never rewritten: it
// is logged and stays as it is; what could be read of it still counts in the key map, unless
// recovery knew of damage in it (then none of it does: a base offset is outside the CRC).
// The pass reads and writes through an IoThrottle (log.cleaner.io.max.bytes.per.second), never
// under the log's lock: producers and readers go on meanwhile.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/topic_config.hpp"
#include "log/batch_builder.hpp"
#include "log/cleaner_transactions.hpp"
#include "log/segment.hpp"
#include "logging/log_sink.hpp"

namespace kbus::log {

// A closed segment as the cleaner sees it (a copy taken under the log's lock).
struct CleanableSegment {
    std::int64_t base_offset = 0;
    std::int64_t next_offset = 0;
    std::string path;  // its .log
    std::uint64_t size_bytes = 0;
    std::int64_t first_timestamp = -1;  // of its first batch (max.compaction.lag.ms)
    bool damaged = false;               // known corrupt regions: read around, never rewritten
};

// What one pass may clean: segments[0, first_dirty) were cleaned before, the rest are dirty.
struct CleanableSection {
    std::string dir;                         // the partition's directory
    std::vector<CleanableSegment> segments;  // oldest first, contiguous
    std::size_t first_dirty = 0;
    std::int64_t end_offset = 0;  // the first offset not in the section: the next checkpoint
    // The aborted transactions the section overlaps (the .txnindex's), oldest first.
    std::vector<AbortedTransaction> aborted;

    [[nodiscard]] std::uint64_t dirty_bytes() const noexcept;
    [[nodiscard]] std::uint64_t total_bytes() const noexcept;
    // Dirty bytes over all bytes (0 when empty): min.cleanable.dirty.ratio's measure.
    [[nodiscard]] double dirty_ratio() const noexcept {
        const std::uint64_t total = total_bytes();
        return total == 0 ? 0.0 : double(dirty_bytes()) / double(total);
    }
};

// A run of segments rewritten as one, in staging_dir, ready to swap in.
struct CleanedGroup {
    std::vector<CleanableSegment> replaced;  // oldest first; the new one keeps the first's base
    std::string staging_dir;
    std::unique_ptr<Segment> segment;  // written, synced and sealed, in staging_dir
    // ABORT markers it no longer holds: their .txnindex entries go before it swaps in.
    std::vector<AbortedTransaction> dropped_aborted;
};

// Limits the bytes a pass reads and writes per second, sleeping as it goes.
class IoThrottle {
  public:
    explicit IoThrottle(std::int64_t bytes_per_second) : rate_(bytes_per_second) {}
    // Accounts for `bytes`, sleeping as long as the rate asks; a stop (if given) cuts it short.
    void pace(std::uint64_t bytes, const std::atomic<bool>* stop = nullptr);

  private:
    std::int64_t rate_;
    std::uint64_t window_start_ns_ = 0;
    std::uint64_t window_bytes_ = 0;
};

struct CleanerStats {
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_written = 0;
    std::uint64_t records_kept = 0;
    std::uint64_t records_removed = 0;  // superseded, keyless, or expired tombstones
    std::uint64_t keyless_removed = 0;
    std::uint64_t tombstones_removed = 0;
    std::uint64_t aborted_removed = 0;  // records of aborted transactions
    std::uint64_t markers_removed = 0;  // markers with nothing of their transaction left
    std::size_t groups_swapped = 0;
    std::size_t segments_skipped = 0;  // unreadable: left as they were
    bool key_map_full = false;         // the first dirty segment has more keys than the map holds
    // Where the cleaner checkpoint may move (it never moves back): the section's end, or the
    // first group that was not swapped in, whose segments are then dirty again.
    std::int64_t cleaned_to = 0;
};

class LogCleaner {
  public:
    // Memory per key in the key map (a 96-bit digest of the key and an offset, in a hash
    // node): log.cleaner.dedupe.buffer.size over this is how many keys a pass may map.
    static constexpr std::size_t key_map_entry_bytes = 64;

    // Swaps a group in; false if the log changed under it (retention took a segment of it).
    using SwapIn = std::function<bool(CleanedGroup&)>;

    // `key_map_bytes`: the broker's log.cleaner.dedupe.buffer.size. A pass whose dirty segments
    // hold more distinct keys maps them up to the segment where it ran out, cleans up to there,
    // and the next pass goes on; one whose first dirty segment alone has more is refused
    // (CleanerStats::key_map_full), as Kafka's cleaner refuses such a log.
    LogCleaner(const config::TopicConfig& config, std::int64_t now_ms, IoThrottle& throttle,
               logging::LogSink sink, std::size_t key_map_bytes = std::size_t(128) << 20)
        : config_(config),
          now_ms_(now_ms),
          throttle_(throttle),
          sink_(std::move(sink)),
          max_keys_(std::max<std::size_t>(1, key_map_bytes / key_map_entry_bytes)) {}

    // Cleans the section, handing each group to `swap_in` as it is written. `stop` (optional)
    // ends the pass between batches: what was swapped stays, the rest is left dirty.
    // Throws Error(io_error) if staging fails (the staging directory is removed first).
    CleanerStats clean(const CleanableSection& section, const SwapIn& swap_in,
                       const std::atomic<bool>* stop = nullptr);

  private:
    // A key as the map knows it: 96 bits of two independent hashes and its length, so that a
    // key's own size (a producer may send megabytes of key) costs the map nothing. Kafka's
    // cleaner keeps 128 bits of MD5 for the same reason.
    struct KeyDigest {
        std::uint64_t hash = 0;
        std::uint32_t crc = 0;
        std::uint32_t length = 0;
        bool operator==(const KeyDigest&) const = default;
    };
    struct DigestHash {
        std::size_t operator()(const KeyDigest& d) const noexcept { return d.hash; }
    };
    using KeyMap = std::unordered_map<KeyDigest, std::int64_t, DigestHash>;
    [[nodiscard]] static KeyDigest digest_of(BytesView key) noexcept;

    // The key map over the dirty segments; returns how many segments of the section the pass
    // covers (fewer when the map fills up). Marks unreadable segments.
    std::size_t build_key_map(const CleanableSection& section, std::vector<bool>& unreadable);
    [[nodiscard]] std::size_t group_end(const CleanableSection& section, std::size_t from,
                                        std::size_t covered,
                                        const std::vector<bool>& unreadable) const;
    // Rewrites segments[from, to) into one group; false if a batch could not be read.
    bool rewrite_group(const CleanableSection& section, std::size_t from, std::size_t to,
                       CleanedGroup& group, CleanerTransactions& transactions);
    // How many of the batch's records stay (nullopt: a malformed record): a control batch's all
    // or none, an aborted transaction's none, else filter_batch's.
    [[nodiscard]] std::optional<std::int32_t> kept_of(const BatchView& b,
                                                      std::span<const std::byte> records,
                                                      bool cleaned_before,
                                                      CleanerTransactions& transactions,
                                                      std::vector<AbortedTransaction>& dropped);
    [[nodiscard]] bool keep(const RecordView& r, bool cleaned_before);
    // What stays of a batch's records, into builder_; how many (nullopt: a malformed record).
    [[nodiscard]] std::optional<std::int32_t> filter_batch(const BatchView& b,
                                                           std::span<const std::byte> records,
                                                           bool cleaned_before);
    void write_kept(Segment& out, const BatchView& b, std::int32_t kept);
    void keep_producer_fields(const BatchView& b);
    void report_unreadable(const CleanableSegment& s, const std::string& why);
    [[nodiscard]] bool stopped() const noexcept {
        // Relaxed: a flag checked between batches; the pass's caller joins after setting it.
        return stop_ != nullptr && stop_->load(std::memory_order_relaxed);
    }

    config::TopicConfig config_;
    std::int64_t now_ms_;
    IoThrottle& throttle_;
    logging::LogSink sink_;
    const std::atomic<bool>* stop_ = nullptr;
    std::size_t max_keys_;
    KeyMap newest_;  // key -> its newest offset in the dirty segments
    BatchBuilder builder_;
    std::vector<HeaderView> headers_;
    CleanerStats stats_;
};

}  // namespace kbus::log
