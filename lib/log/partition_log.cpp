#include "log/partition_log.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <sstream>
#include <vector>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "log/file.hpp"
#include "security/access_policy.hpp"

namespace kbus::log {
namespace fs = std::filesystem;

PartitionLog::PartitionLog(std::string dir, const config::TopicConfig& config, bool verify,
                           logging::LogSink sink)
    : dir_(std::move(dir)),
      config_(config),
      sink_(std::move(sink)),
      limited_log_(sink_),
      txn_index_(dir_) {
    fs::create_directories(dir_);
    security::access_policy().apply_to_path(dir_, true);
    finish_interrupted_swaps();
    const std::vector<std::int64_t> bases = list_segments();
    const std::int64_t recovery_point = read_recovery_point(verify);
    recover(bases, verify, recovery_point);
    if (segments_.empty()) roll(0);
    settle_recovery_point(verify, recovery_point);
    read_start_checkpoint();
    read_cleaner_checkpoint();
    publish_offsets();
    if (const std::size_t bad = txn_index_.load(log_end_offset()); bad != 0)
        sink_("WARN", dir_ + ": " + std::to_string(bad) +
                          " malformed aborted-transaction entries dropped from its .txnindex "
                          "files; their transactions' records may show to read_committed readers");
}

std::vector<std::int64_t> PartitionLog::list_segments() {
    std::vector<std::int64_t> bases;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        const std::string name = entry.path().filename().string();
        if (const std::int64_t base = segment_base_of(name, ".log"); base >= 0)
            bases.push_back(base);
        else if (name.ends_with(".tmp") || name.ends_with(".deleted"))
            fs::remove(entry.path());
    }
    std::sort(bases.begin(), bases.end());
    return bases;
}

void PartitionLog::recover(const std::vector<std::int64_t>& bases, bool verify,
                           std::int64_t recovery_point) {
    bool cut = false;
    std::int64_t expected = bases.empty() ? 0 : bases.front();
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < bases.size(); ++i) {
        const std::int64_t base = bases[i];
        // After a cut of a torn tail (or an overlap: a segment starting below where the previous
        // ended), later segments cannot follow densely: they go, as Kafka drops them after
        // truncation. A cut only happens past the recovery point, so they were never synced.
        if (cut || base < expected) {
            for (const char* suffix : {".log", ".index", ".timeindex"})
                fs::remove(segment_file_name(dir_, base, suffix));
            ++dropped;
            continue;
        }
        const RecoveryLimits limits{recovery_point, i + 1 < bases.size() ? bases[i + 1] : -1};
        RecoveryResult r;
        auto segment = std::make_unique<Segment>(
            Segment::open(dir_, base, verify, config_.index_interval_bytes, limits, r));
        log_recovered(*segment, r);
        cut = r.truncated;
        expected = segment->next_offset();
        segments_.emplace(base, std::move(segment));
    }
    if (dropped != 0)
        sink_("WARN", "removed " + std::to_string(dropped) + " segment(s) of " + dir_ +
                          " after the truncation");
    // Closed segments hold no descriptor (segment.hpp); the active one keeps its own.
    for (auto it = segments_.begin(); it != segments_.end() && std::next(it) != segments_.end();
         ++it)
        it->second->let_go_of_descriptor();
}

void PartitionLog::log_recovered(const Segment& s, const RecoveryResult& r) {
    // Each region once; a file that is mostly garbage gets a count after the first few.
    constexpr std::size_t most_lines = 10;
    std::int64_t lost = 0;
    for (std::size_t i = 0; i < r.regions.size(); ++i) {
        const CorruptRegion& region = r.regions[i];
        lost += std::max<std::int64_t>(0, region.last_offset - region.first_offset + 1);
        if (i < most_lines) sink_("ERROR", describe({s.log_path(), region}));
    }
    if (r.regions.size() > most_lines)
        sink_("ERROR", std::to_string(r.regions.size() - most_lines) +
                           " more corrupt batch(es) in " + s.log_path() + "; " +
                           std::to_string(lost) + " offset(s) lost in all");
    if (!r.truncated) return;
    const std::string why =
        recovery_point() == std::numeric_limits<std::int64_t>::max()
            ? "nothing valid after it, and no recovery point"
            : "a torn write past the recovery point " + std::to_string(recovery_point());
    sink_("WARN", "truncated " + s.log_path() + " at byte " + std::to_string(r.valid_bytes) + " (" +
                      r.reason + ": " + why + "); the log now ends at offset " +
                      std::to_string(s.next_offset()));
}

// The checkpoint as Kafka writes it (version 0, one entry: topic, partition, offset). Missing
// after a crash: nothing is known to be on disk, everything is checked as a torn zone. Missing
// after a clean stop: the stop synced everything (a log from before checkpoints existed).
std::int64_t PartitionLog::read_recovery_point(bool verify) {
    const std::int64_t unknown = verify ? 0 : std::numeric_limits<std::int64_t>::max();
    bool readable = true;
    const std::optional<std::int64_t> offset = read_offset_file(checkpoint_path(), readable);
    if (!readable)
        sink_("WARN", checkpoint_path() + " is unreadable; recovering " + dir_ +
                          " as if nothing was known to be on disk");
    recovery_point_.store(offset.value_or(unknown), std::memory_order_relaxed);
    return recovery_point();
}

// A checkpoint file as Kafka writes it: version 0, one entry (topic, partition, offset).
// nullopt when missing or (readable = false) unreadable.
std::optional<std::int64_t> PartitionLog::read_offset_file(const std::string& path,
                                                           bool& readable) {
    std::string text;
    readable = true;
    if (!read_whole_file(path, text)) return std::nullopt;
    std::istringstream in(text);
    std::string topic, partition;
    int version = -1, count = -1;
    std::int64_t offset = -1;
    if (!(in >> version >> count >> topic >> partition >> offset) || version != 0 || count != 1 ||
        offset < 0) {
        readable = false;
        return std::nullopt;
    }
    return offset;
}

// A DeleteRecords floor kept from before: never past the recovered log's end (offsets lost to a
// crash are offered again by the spill, and must not land below a start they can never reach).
void PartitionLog::read_start_checkpoint() {
    bool readable = true;
    const auto offset = read_offset_file(start_checkpoint_path(), readable);
    if (!readable) sink_("WARN", start_checkpoint_path() + " is unreadable; ignored");
    if (!offset) return;
    const std::int64_t end = active().next_offset();
    deleted_before_ = std::min(*offset, end);
    if (*offset <= end) return;
    sink_("WARN", start_checkpoint_path() + " puts the log start at " + std::to_string(*offset) +
                      ", past the log's end " + std::to_string(end) +
                      "; the log starts at its end");
    // Kept as used: left as it was, the bad start would later cut records written below it.
    try {
        write_checkpoint(start_checkpoint_path(), end);
    } catch (const std::exception& e) {
        sink_("WARN", start_checkpoint_path() + " cannot be rewritten: " + e.what());
    }
}

std::int64_t PartitionLog::delete_records_before(std::int64_t offset) {
    std::lock_guard deleting(delete_mutex_);  // the floor only moves up, one writer at a time
    const std::int64_t end = log_end_offset();
    if (offset < 0 || offset > end)
        throw Error(ErrorCode::offset_out_of_range, "cannot delete records before offset " +
                                                        std::to_string(offset) +
                                                        ": the log ends at " + std::to_string(end));
    if (offset <= log_start_offset()) return log_start_offset();
    // Durable first: a restart must not bring the records back.
    write_checkpoint(start_checkpoint_path(), offset);
    std::lock_guard lock(mutex_);
    deleted_before_ = offset;
    publish_offsets();
    sink_("INFO", "deleted records of " + dir_ + " before offset " + std::to_string(offset));
    return log_start_offset();
}

// After recovery every offset of the log is on disk or was checked batch by batch; what was
// checked is synced now, so the recovery point can move to the log end.
void PartitionLog::settle_recovery_point(bool verify, std::int64_t recovery_point) {
    Segment& last = active();
    const bool known = recovery_point != std::numeric_limits<std::int64_t>::max();
    if (known && recovery_point > last.next_offset()) {
        sink_("ERROR", "offsets " + std::to_string(last.next_offset()) + ".." +
                           std::to_string(recovery_point - 1) + " of " + dir_ +
                           " were on disk but are missing from its files: they are lost");
        last.extend_to(recovery_point);
    }
    if (verify)
        for (auto& [base, s] : segments_)
            if (s->next_offset() > this->recovery_point()) s->flush();
    // A new, empty log needs no checkpoint yet: a missing one means "nothing known" already.
    const std::int64_t end = last.next_offset();
    if (end != this->recovery_point() && end > 0) {
        recovery_point_.store(-1, std::memory_order_relaxed);  // forces the write
        advance_recovery_point(end);
    }
    recovery_point_.store(end, std::memory_order_relaxed);
}

void PartitionLog::advance_recovery_point(std::int64_t offset) noexcept {
    if (offset <= recovery_point()) return;
    try {
        write_checkpoint(checkpoint_path(), offset);
        recovery_point_.store(offset, std::memory_order_relaxed);
    } catch (const std::exception& e) {
        // The point stays where it was: the next recovery checks more than it needs to.
        limited_log_.write("checkpoint " + dir_, "WARN",
                           std::string("cannot write the recovery point: ") + e.what(),
                           detail::monotonic_ns());
    }
}

void PartitionLog::write_checkpoint(const std::string& path, std::int64_t offset) {
    const std::string name = fs::path(dir_).filename().string();
    const auto dash = name.rfind('-');
    const std::string topic = dash == std::string::npos ? name : name.substr(0, dash);
    const std::string partition = dash == std::string::npos ? "0" : name.substr(dash + 1);
    write_file_durably(path,
                       "0\n1\n" + topic + " " + partition + " " + std::to_string(offset) + "\n");
}

void PartitionLog::publish_offsets() noexcept {
    // Release: a reader that sees an offset finds the segments that hold it.
    log_start_offset_.store(std::max(segments_.begin()->first, deleted_before_),
                            std::memory_order_release);
    log_end_offset_.store(segments_.rbegin()->second->next_offset(), std::memory_order_release);
}

void PartitionLog::set_config(const config::TopicConfig& config) {
    std::lock_guard lock(mutex_);
    config_ = config;
}

config::TopicConfig PartitionLog::config() const {
    std::lock_guard lock(mutex_);
    return config_;
}

std::size_t PartitionLog::segment_count() const {
    std::lock_guard lock(mutex_);
    return segments_.size();
}

std::uint64_t PartitionLog::size_bytes() const {
    std::lock_guard lock(mutex_);
    return size_bytes_locked();
}

std::uint64_t PartitionLog::size_bytes_locked() const noexcept {
    std::uint64_t n = 0;
    for (const auto& [base, s] : segments_)
        n += s->size_bytes();
    return n;
}

Segment* PartitionLog::roll(std::int64_t base_offset) {
    if (segments_.contains(base_offset))  // never start over a segment's files
        throw Error(ErrorCode::io_error, "cannot roll " + dir_ + " to offset " +
                                             std::to_string(base_offset) +
                                             ": a segment starts there");
    Segment* closed = segments_.empty() ? nullptr : &active();
    if (closed != nullptr) closed->seal();
    segments_.emplace(base_offset, std::make_unique<Segment>(
                                       Segment::create(dir_, base_offset, closed != nullptr)));
    return closed;
}

void PartitionLog::append(std::string_view batch, std::int64_t now_ms) {
    const BatchView b({reinterpret_cast<const std::byte*>(batch.data()), batch.size()});
    Segment* closed = nullptr;
    Segment* target = nullptr;
    std::int64_t synced_end = 0;
    // A batch the log holds already: the spill retries one whose append failed past the write (a
    // closed segment's sync, or the flush after it). What failed is tried again; nothing is
    // written twice, and no segment is rolled over the one that holds it.
    if (b.last_offset() < log_end_offset()) return sync_closed_segment();
    {
        std::lock_guard lock(mutex_);
        Segment& a = active();
        const bool full = a.size_bytes() + batch.size() > std::uint64_t(config_.segment_bytes);
        // Kafka's segment.ms: the incoming batch's timestamp against the segment's first one
        // (the wall clock only when records carry no timestamp). On a compacted topic,
        // max.compaction.lag.ms too, as in Kafka (KIP-354): within it a record must reach a
        // closed segment, which only the cleaner cleans.
        const std::int64_t stamp = b.max_timestamp() >= 0 ? b.max_timestamp() : now_ms;
        const std::int64_t roll_ms =
            config_.cleanup_compact ? std::min(config_.segment_ms, config_.max_compaction_lag_ms)
                                    : config_.segment_ms;
        const bool old = a.first_timestamp() >= 0 && stamp - a.first_timestamp() > roll_ms;
        const bool relative_overflow = b.last_offset() - a.base_offset() > INT32_MAX;
        if (!a.empty() && (full || old || relative_overflow)) {
            synced_end = a.next_offset();
            closed = roll(b.base_offset());
        }
        target = &active();
    }
    // The write itself outside the lock (a write the kernel throttles for dirty pages would
    // hold every fetch of this partition): only this thread appends, rolls and deletes, and
    // readers look no further than the size the accounting below publishes.
    target->write_batch(b);
    {
        std::lock_guard lock(mutex_);
        target->account_batch(b, config_.index_interval_bytes);
        publish_offsets();
    }
    unflushed_messages_ += b.record_count();
    // A closed segment is made durable at once, outside the lock (only this thread appends,
    // rolls and deletes segments, so it stays there meanwhile). Every segment before it was
    // synced at its own roll: the whole log below its end is on disk now.
    if (closed != nullptr) {
        unsynced_closed_base_ = closed->base_offset();
        unsynced_closed_end_ = synced_end;
        sync_closed_segment();
    }
}

// The segment the last roll closed, synced (and the recovery point moved past it), unless that
// is done already or retention took it meanwhile. Throws Error(io_error) if the sync fails: the
// spill then retries the batch, which comes here again.
void PartitionLog::sync_closed_segment() {
    if (unsynced_closed_base_ < 0) return;
    Segment* closed = nullptr;
    {
        std::lock_guard lock(mutex_);
        const auto it = segments_.find(unsynced_closed_base_);
        if (it != segments_.end()) closed = it->second.get();
    }
    if (closed != nullptr) {
        closed->flush();  // outside the lock: only this thread deletes it
        std::lock_guard lock(mutex_);
        closed->let_go_of_descriptor();  // reads open it for themselves from now on
    }
    advance_recovery_point(unsynced_closed_end_);
    unsynced_closed_base_ = -1;
}

void PartitionLog::maybe_flush(std::int64_t now_ms, bool force) {
    if (unflushed_messages_ == 0) {
        last_flush_ms_ = now_ms;
        return;
    }
    std::int64_t flush_messages = 0, flush_ms = 0, end = 0;
    Segment* a = nullptr;
    {
        std::lock_guard lock(mutex_);
        flush_messages = config_.flush_messages;
        flush_ms = config_.flush_ms;
        a = &active();
        end = a->next_offset();
    }
    if (force || unflushed_messages_ >= flush_messages || now_ms - last_flush_ms_ >= flush_ms) {
        sync_closed_segment();  // the recovery point may not pass a segment no sync covered
        a->flush();             // outside the lock: readers go on meanwhile
        unflushed_messages_ = 0;
        last_flush_ms_ = now_ms;
        advance_recovery_point(end);
    }
}

std::optional<std::int64_t> PartitionLog::flush_due_ms() const {
    if (unflushed_messages_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    return last_flush_ms_ +
           std::min(config_.flush_ms, std::numeric_limits<std::int64_t>::max() - last_flush_ms_);
}

// Segments leave the list under the lock; their files are unlinked after it (an unlink of a
// large file can take a while, and fetches of this partition wait on the lock).
std::size_t PartitionLog::apply_retention(std::int64_t now_ms) {
    std::vector<std::unique_ptr<Segment>> expired_segments;
    {
        std::lock_guard lock(mutex_);
        expired_segments = take_expired(now_ms);
        publish_offsets();
    }
    for (const auto& s : expired_segments)
        s->remove();
    return expired_segments.size();
}

std::vector<std::unique_ptr<Segment>> PartitionLog::take_expired(std::int64_t now_ms) {
    std::vector<std::unique_ptr<Segment>> taken;
    std::uint64_t total = size_bytes_locked();
    // Oldest first; stop at the first segment that stays; never the active one.
    while (segments_.size() > 1) {
        Segment& oldest = *segments_.begin()->second;
        // cleanup.policy=compact alone: retention.ms and retention.bytes do not apply.
        const bool expired = config_.cleanup_delete && config_.retention_ms >= 0 &&
                             oldest.max_timestamp() >= 0 &&
                             now_ms - oldest.max_timestamp() > config_.retention_ms;
        const bool over_size =
            config_.cleanup_delete && config_.retention_bytes >= 0 &&
            total - oldest.size_bytes() >= std::uint64_t(config_.retention_bytes);
        // Below the DeleteRecords floor: every offset up to the next segment's base, not only
        // those the segment still holds (a segment the log cleaner emptied holds none, and its
        // offsets are the log's all the same: compaction never moves the log start).
        const bool deleted = std::next(segments_.begin())->first <= deleted_before_;
        if (!expired && !over_size && !deleted) break;
        sink_("INFO", "retention: deleted " + oldest.log_path() + " (" +
                          (deleted   ? "below the log start (DeleteRecords)"
                           : expired ? "older than retention.ms"
                                     : "over retention.bytes") +
                          ")");
        total -= oldest.size_bytes();
        taken.push_back(std::move(segments_.begin()->second));
        segments_.erase(segments_.begin());
        txn_index_.drop_below(segments_.begin()->first);
    }
    return taken;
}

std::pair<const Segment*, std::uint64_t> PartitionLog::find(std::int64_t offset) const {
    if (offset < log_start_offset())
        throw Error(ErrorCode::offset_out_of_range, "offset " + std::to_string(offset) +
                                                        " is below the log start " +
                                                        std::to_string(log_start_offset()));
    const Spot spot = spot_of(offset, false);
    if (spot.damage) throw Error(ErrorCode::corrupt_record, describe(*spot.damage));
    return {spot.segment, spot.position};
}

PartitionLog::Spot PartitionLog::spot_of(std::int64_t offset, bool check_crc) const {
    auto it = segments_.upper_bound(offset);
    if (it == segments_.begin()) return {};
    for (--it; it != segments_.end(); ++it) {
        Segment& s = *it->second;
        if (const CorruptRegion* r = s.region_holding(offset))
            return {&s, r->begin, Damage{s.log_path(), *r}};
        const std::uint64_t pos = s.position_of(offset);
        if (pos >= s.size_bytes()) continue;
        if (const CorruptRegion* r = s.region_at(pos)) return {&s, pos, Damage{s.log_path(), *r}};
        // A header that cannot be a batch is damage for sure; a CRC costs reading the batch.
        if (!check_crc && s.whole_batches_bytes(pos, 1) != 0) return {&s, pos, std::nullopt};
        const std::size_t known = s.regions().size();
        const std::optional<CorruptRegion> r = s.check_batch_for(offset);
        if (!r) return {&s, pos, std::nullopt};
        if (s.regions().size() > known) report_damage(s.log_path(), *r);
        return {&s, r->begin, Damage{s.log_path(), *r}};
    }
    return {};
}

std::optional<PartitionLog::Damage> PartitionLog::damage_at(std::int64_t offset, bool check) {
    std::lock_guard lock(mutex_);
    if (offset < log_start_offset() || offset >= log_end_offset()) return std::nullopt;
    return spot_of(offset, check).damage;
}

std::string PartitionLog::describe(const Damage& d) const {
    const CorruptRegion& r = d.region;
    const std::string offsets =
        r.last_offset < r.first_offset
            ? "no offsets"
            : "offsets " + std::to_string(r.first_offset) + ".." + std::to_string(r.last_offset);
    return offsets + " of " + dir_ + " lost to a corrupt batch in " + d.path + " (bytes " +
           std::to_string(r.begin) + ".." + std::to_string(r.end) + ", " + r.reason +
           "); reading resumes at offset " + std::to_string(r.last_offset + 1);
}

void PartitionLog::report_damage(const std::string& path, const CorruptRegion& r) const {
    limited_log_.write("corrupt " + dir_, "ERROR", describe({path, r}), detail::monotonic_ns());
}

std::string PartitionLog::read(std::int64_t offset, std::size_t max_bytes) const {
    std::lock_guard lock(mutex_);
    const auto [s, pos] = find(offset);
    return s == nullptr ? std::string() : s->read(pos, max_bytes);
}

PartitionLog::Extent PartitionLog::locate(std::int64_t offset, std::size_t max_bytes,
                                          std::int64_t below) const {
    std::lock_guard lock(mutex_);
    const auto [s, pos] = find(offset);
    if (s == nullptr) return {};
    struct stat st {};
    if (::stat(s->log_path().c_str(), &st) != 0)
        throw Error(ErrorCode::io_error, "cannot stat " + s->log_path());
    return {s->log_path(), pos, s->whole_batches_bytes(pos, max_bytes, below),
            std::uint64_t(st.st_ino)};
}

std::optional<std::int64_t> PartitionLog::offset_for_timestamp(std::int64_t ts) const {
    std::lock_guard lock(mutex_);
    for (const auto& [base, s] : segments_)
        if (auto o = s->offset_for_timestamp(ts)) return std::max(*o, log_start_offset());
    return std::nullopt;
}

// The newest timestamp in the log and the first offset carrying it (Kafka's ListOffsets -3).
std::optional<TimestampAndOffset> PartitionLog::max_timestamp_record() const {
    std::lock_guard lock(mutex_);
    const Segment* best = nullptr;
    for (const auto& [base, s] : segments_)
        if (s->max_timestamp() >= 0 &&
            (best == nullptr || s->max_timestamp() > best->max_timestamp()))
            best = s.get();
    if (best == nullptr) return std::nullopt;
    const auto offset = best->offset_for_timestamp(best->max_timestamp());
    // Its batch lost to damage, or its record deleted (below the log start): none to name.
    if (!offset || *offset < log_start_offset()) return std::nullopt;
    return TimestampAndOffset{best->max_timestamp(), *offset};
}

}  // namespace kbus::log

namespace kbus::log {

void PartitionLog::append_aborted(const AbortedTransaction& t) {
    std::lock_guard lock(mutex_);
    txn_index_.append(segments_.rbegin()->first, t);
}

std::vector<AbortedTransaction> PartitionLog::aborted_transactions(std::int64_t from,
                                                                   std::int64_t to) const {
    std::lock_guard lock(mutex_);
    return txn_index_.overlapping(from, to);
}

}  // namespace kbus::log
