#include "log/log_cleaner.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "kbus/detail/clock.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/error.hpp"
#include "log/batch_builder.hpp"
#include "log/compression.hpp"
#include "log/file.hpp"
#include "security/access_policy.hpp"

namespace kbus::log {
namespace fs = std::filesystem;
namespace {

std::string_view as_chars(BytesView b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A segment file's batches, front to back, each checked (framing and CRC) with its records
// inflated. next() is false at the end, or at a batch it cannot read (then `why` says what).
class BatchWalk {
  public:
    // Batches must hold offsets in [first, limit), increasing: the CRC does not cover a
    // batch's base offset, and a flipped one would otherwise supersede every key in the map.
    BatchWalk(const std::string& path, std::int64_t first, std::int64_t limit)
        : file_(path, false), map_(file_.fd(), file_.size()), expected_(first), limit_(limit) {}

    bool next(BatchView& batch, std::span<const std::byte>& records) {
        if (pos_ >= map_.size) return false;
        const BatchView b({map_.data + pos_, map_.size - pos_});
        const BatchCheck c = b.check(true, max_batch_bytes);
        if (c != BatchCheck::ok)
            return fail(std::string(to_string(c)) + " at byte " + std::to_string(pos_));
        if (b.base_offset() < expected_ || b.last_offset() >= limit_)
            return fail("offsets " + std::to_string(b.base_offset()) + ".." +
                        std::to_string(b.last_offset()) + " outside the segment's at byte " +
                        std::to_string(pos_));
        expected_ = b.last_offset() + 1;
        records = b.records_bytes();
        if (b.compression_codec() != 0) {
            try {
                decompress(b.compression_codec(), records, inflated_, max_batch_bytes);
            } catch (const Error& e) {
                return fail(std::string(e.what()) + " at byte " + std::to_string(pos_));
            }
            records = {reinterpret_cast<const std::byte*>(inflated_.data()), inflated_.size()};
        }
        batch = b;
        pos_ += b.total_bytes();
        return true;
    }
    [[nodiscard]] const std::string& why() const noexcept { return why_; }

  private:
    bool fail(std::string why) {
        why_ = std::move(why);
        pos_ = map_.size;
        return false;
    }
    File file_;
    ReadOnlyMapping map_;
    std::uint64_t pos_ = 0;
    std::int64_t expected_;
    std::int64_t limit_;
    std::string inflated_;
    std::string why_;
};

RecordIterator records_of(const BatchView& b, std::span<const std::byte> records) {
    return {records, b.record_count(), b.base_offset(), b.base_timestamp(),
            b.log_append_time() ? b.max_timestamp() : -1};
}

std::string malformed_in(const BatchView& b) {
    return "a malformed record in the batch at offset " + std::to_string(b.base_offset());
}

// Where segment i's offsets must end: the next segment's base (or the section's end).
std::int64_t limit_of(const CleanableSection& section, std::size_t i) {
    return i + 1 < section.segments.size() ? section.segments[i + 1].base_offset
                                           : section.end_offset;
}

// A control batch's marker type (nullopt: no record, or a type Kafka does not define).
std::optional<ControlType> marker_type_of(const BatchView& b, std::span<const std::byte> records) {
    RecordIterator it = records_of(b, records);
    RecordView r;
    return it.next(r) ? control_type(r.key) : std::nullopt;
}

config::Compression codec_of(const BatchView& b) {
    return static_cast<config::Compression>(b.compression_codec());
}

}  // namespace

std::uint64_t CleanableSection::dirty_bytes() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = first_dirty; i < segments.size(); ++i)
        n += segments[i].size_bytes;
    return n;
}

std::uint64_t CleanableSection::total_bytes() const noexcept {
    std::uint64_t n = 0;
    for (const CleanableSegment& s : segments)
        n += s.size_bytes;
    return n;
}

// A window of a tenth of a second: a pass sleeps once it has moved a tenth of its rate in it,
// in slices of at most 20 ms, so that a stop is not kept waiting by a slow rate.
void IoThrottle::pace(std::uint64_t bytes, const std::atomic<bool>* stop) {
    if (rate_ == std::numeric_limits<std::int64_t>::max()) return;
    const std::uint64_t now = detail::monotonic_ns();
    if (window_start_ns_ == 0 || now - window_start_ns_ >= 100'000'000) {
        window_start_ns_ = now;
        window_bytes_ = 0;
    }
    window_bytes_ += bytes;
    const std::uint64_t due_ns = window_bytes_ * 1'000'000'000 / std::uint64_t(rate_);
    const std::uint64_t until = window_start_ns_ + due_ns;
    for (std::uint64_t t = now; t < until; t = detail::monotonic_ns()) {
        // Relaxed: a flag looked at between sleeps; whoever sets it joins the thread after.
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(std::min<std::uint64_t>(until - t, 20'000'000)));
    }
}

CleanerStats LogCleaner::clean(const CleanableSection& section, const SwapIn& swap_in,
                               const std::atomic<bool>* stop) {
    stop_ = stop;
    stats_ = {};  // cleaned_to 0 until the key map is built: the checkpoint cannot move
    newest_.clear();
    const std::string staging = section.dir + "/cleaner";
    try {
        std::vector<bool> unreadable(section.segments.size(), false);
        for (std::size_t i = 0; i < section.segments.size(); ++i)
            unreadable[i] = section.segments[i].damaged;
        const std::size_t covered = build_key_map(section, unreadable);
        if (stats_.key_map_full) return stats_;  // cleaned_to stays 0: nothing moves
        stats_.cleaned_to = section.end_offset;
        if (covered < section.segments.size())
            stats_.cleaned_to = section.segments[covered].base_offset;
        // An ABORT marker goes only when the walk reads every segment its records could be in.
        CleanerTransactions transactions(
            section.aborted,
            std::none_of(unreadable.begin(), unreadable.begin() + std::ptrdiff_t(covered),
                         [](bool u) { return u; }));
        for (std::size_t from = 0; from < covered && !stopped();) {
            if (unreadable[from]) {
                ++from;
                continue;
            }
            const std::size_t to = group_end(section, from, covered, unreadable);
            fs::remove_all(staging);
            fs::create_directories(staging);
            security::access_policy().apply_to_path(staging, true);  // as the partition's dir
            CleanedGroup group;
            group.staging_dir = staging;
            if (rewrite_group(section, from, to, group, transactions) && !stopped() &&
                swap_in(group))
                ++stats_.groups_swapped;
            else  // left as it was: its records count as dirty again next time
                stats_.cleaned_to = std::min(stats_.cleaned_to, section.segments[from].base_offset);
            fs::remove_all(staging);
            if (stopped()) break;
            from = to;
        }
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(staging, ignored);
        throw;
    }
    if (stopped()) stats_.cleaned_to = 0;  // the checkpoint stays: the next pass does it all
    return stats_;
}

// Consecutive readable segments from `from`, together at most segment.bytes (at least one), and
// spanning fewer offsets than an index's relative offset can hold.
std::size_t LogCleaner::group_end(const CleanableSection& section, std::size_t from,
                                  std::size_t covered, const std::vector<bool>& unreadable) const {
    const auto limit = std::uint64_t(config_.segment_bytes);
    const std::int64_t base = section.segments[from].base_offset;
    std::size_t to = from + 1;
    std::uint64_t bytes = section.segments[from].size_bytes;
    while (to < covered && !unreadable[to] && bytes + section.segments[to].size_bytes <= limit &&
           section.segments[to].next_offset - base < std::numeric_limits<std::int32_t>::max()) {
        bytes += section.segments[to].size_bytes;
        ++to;
    }
    return to;
}

std::size_t LogCleaner::build_key_map(const CleanableSection& section,
                                      std::vector<bool>& unreadable) {
    CleanerTransactions transactions(section.aborted, false);
    std::optional<AbortedTransaction> ignored;
    for (std::size_t i = section.first_dirty; i < section.segments.size(); ++i) {
        if (unreadable[i]) continue;  // known damage: none of its offsets is trusted
        const CleanableSegment& s = section.segments[i];
        BatchWalk walk(s.path, s.base_offset, limit_of(section, i));
        BatchView b;
        std::span<const std::byte> records;
        while (walk.next(b, records)) {
            if (stopped()) return i;  // kbusd stops: the groups before i are not even begun
            throttle_.pace(b.total_bytes(), stop_);
            stats_.bytes_read += b.total_bytes();
            if (b.is_control()) {  // told all the same: it ends a transaction
                (void)transactions.marker_removable(b, marker_type_of(b, records), ignored);
                continue;
            }
            // An aborted transaction's records supersede nothing: readers never see them.
            if (transactions.aborted(b)) continue;
            RecordIterator it = records_of(b, records);
            RecordView r;
            while (it.next(r)) {
                if (r.key.is_null()) continue;
                const KeyDigest d = digest_of(r.key);
                if (newest_.size() >= max_keys_ && !newest_.contains(d)) {
                    // Full: segment i is not cleaned this pass (what it mapped is still right:
                    // those records stay, and the older ones they supersede may go).
                    stats_.key_map_full = i == section.first_dirty;
                    return i;
                }
                std::int64_t& newest = newest_.try_emplace(d, r.offset).first->second;
                newest = std::max(newest, r.offset);
            }
            if (it.malformed()) {
                report_unreadable(s, malformed_in(b));
                unreadable[i] = true;
                break;
            }
        }
        if (!walk.why().empty()) {
            report_unreadable(s, walk.why());
            unreadable[i] = true;
        }
    }
    return section.segments.size();
}

LogCleaner::KeyDigest LogCleaner::digest_of(BytesView key) noexcept {
    return {std::hash<std::string_view>()(as_chars(key)), detail::crc32c(key.data(), key.size()),
            std::uint32_t(key.size())};
}

bool LogCleaner::keep(const RecordView& r, bool cleaned_before) {
    if (r.key.is_null()) {
        ++stats_.keyless_removed;
        return false;
    }
    const auto newest = newest_.find(digest_of(r.key));
    if (newest != newest_.end() && newest->second > r.offset) return false;
    // A tombstone stays for delete.retention.ms after it was first cleaned, so that a consumer
    // reading from the start within that time sees the delete; its record time stands in for
    // the time of that first clean.
    if (r.value.is_null() && cleaned_before &&
        now_ms_ - r.timestamp > config_.delete_retention_ms) {
        ++stats_.tombstones_removed;
        return false;
    }
    return true;
}

bool LogCleaner::rewrite_group(const CleanableSection& section, std::size_t from, std::size_t to,
                               CleanedGroup& group, CleanerTransactions& transactions) {
    const std::int64_t base = section.segments[from].base_offset;
    group.segment = std::make_unique<Segment>(Segment::create(group.staging_dir, base, true));
    Segment& out = *group.segment;
    for (std::size_t i = from; i < to; ++i) {
        const CleanableSegment& s = section.segments[i];
        group.replaced.push_back(s);
        const bool cleaned_before = i < section.first_dirty;
        BatchWalk walk(s.path, s.base_offset, limit_of(section, i));
        BatchView b;
        std::span<const std::byte> records;
        while (walk.next(b, records)) {
            if (stopped()) return false;
            throttle_.pace(b.total_bytes(), stop_);
            stats_.bytes_read += b.total_bytes();
            const std::optional<std::int32_t> kept =
                kept_of(b, records, cleaned_before, transactions, group.dropped_aborted);
            if (!kept) {
                report_unreadable(s, malformed_in(b));
                return false;
            }
            if (*kept > 0) write_kept(out, b, *kept);
        }
        if (!walk.why().empty()) {
            report_unreadable(s, walk.why());
            return false;
        }
    }
    out.seal();
    out.flush();
    out.let_go_of_descriptor();
    return true;
}

std::optional<std::int32_t> LogCleaner::kept_of(const BatchView& b,
                                                std::span<const std::byte> records,
                                                bool cleaned_before,
                                                CleanerTransactions& transactions,
                                                std::vector<AbortedTransaction>& dropped) {
    if (b.is_control()) {
        // As a tombstone: kept for delete.retention.ms, its own time standing in for the first
        // clean that found it removable.
        std::optional<AbortedTransaction> entry;
        const bool removable =
            transactions.marker_removable(b, marker_type_of(b, records), entry) && cleaned_before &&
            now_ms_ - b.max_timestamp() > config_.delete_retention_ms;
        if (removable && entry) dropped.push_back(*entry);
        stats_.markers_removed += removable ? 1 : 0;
        return removable ? 0 : b.record_count();
    }
    if (transactions.aborted(b)) {
        stats_.aborted_removed += std::uint64_t(b.record_count());
        stats_.records_removed += std::uint64_t(b.record_count());
        return 0;
    }
    return filter_batch(b, records, cleaned_before);
}

std::optional<std::int32_t> LogCleaner::filter_batch(const BatchView& b,
                                                     std::span<const std::byte> records,
                                                     bool cleaned_before) {
    builder_.clear();
    RecordIterator it = records_of(b, records);
    RecordView r;
    std::int32_t kept = 0;
    while (it.next(r)) {
        if (!keep(r, cleaned_before)) {
            ++stats_.records_removed;
            continue;
        }
        headers_.clear();
        for (RecordHeaderIterator h(r.headers, r.header_count); !h.done(); ++h)
            headers_.push_back(*h);
        builder_.add(r.offset, r.timestamp, r.key, r.value, headers_);
        ++kept;
    }
    if (it.malformed()) return std::nullopt;
    stats_.records_kept += std::uint64_t(kept);
    return kept;
}

// A rebuilt batch keeps its idempotent producer's id and epoch, its transactional bit, and the
// sequence its first kept record had (the base sequence moved by the records dropped before it, as
// the base offset did).
void LogCleaner::keep_producer_fields(const BatchView& b) {
    if (b.producer_id() < 0 || builder_.empty()) return;
    const std::int32_t sequence =
        b.base_sequence() < 0
            ? -1
            : sequence_after(b.base_sequence(), builder_.base_offset() - b.base_offset());
    builder_.set_producer(b.producer_id(), b.producer_epoch(), sequence);
    builder_.set_flags(std::int16_t(b.attributes() & transactional_flag));  // still a transaction's
}

// A batch kept whole (control batches always are) goes as it was: its producer fields, its
// compression, its bytes. Else the records filter_batch kept, in the batch's codec.
void LogCleaner::write_kept(Segment& out, const BatchView& b, std::int32_t kept) {
    if (kept != b.record_count()) keep_producer_fields(b);
    const std::string_view rebuilt =
        kept == b.record_count() ? std::string_view() : builder_.finish(codec_of(b));
    const BatchView written =
        rebuilt.empty()
            ? b
            : BatchView({reinterpret_cast<const std::byte*>(rebuilt.data()), rebuilt.size()});
    out.append(written, config_.index_interval_bytes);
    throttle_.pace(written.total_bytes(), stop_);
    stats_.bytes_written += written.total_bytes();
}

void LogCleaner::report_unreadable(const CleanableSegment& s, const std::string& why) {
    ++stats_.segments_skipped;
    sink_("ERROR", "log cleaner: skipping " + s.path + " (" + why +
                       "); it stays as it is, uncompacted, and nothing of it is deleted");
}

}  // namespace kbus::log
