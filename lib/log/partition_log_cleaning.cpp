// PartitionLog's side of compaction (log_cleaner.hpp does the cleaning): which segments a pass
// may clean, the swap of a cleaned group into the log, the cleaner checkpoint, and the recovery
// of a swap a crash interrupted.
//
// A swap, with the appending thread kept out (the caller holds the partition's spill lock, so
// retention cannot take a segment meanwhile):
//   1. the cleaned .log, synced in the staging directory, is renamed to <base>.log.swap and the
//      directory synced: from here on the swap is as good as done, recovery finishes it;
//   2. under the log's lock, each replaced segment's files are renamed to *.deleted, the new
//      indexes and then the .log renamed into place, and the segment list changed;
//   3. the *.deleted files are unlinked (at the next open if a crash comes first).
// Recovery of a <base>.log.swap: every segment file from <base> up to the swap's last offset
// goes, and the .swap becomes <base>.log (its indexes are rebuilt).
#include <filesystem>

#include "kbus/error.hpp"
#include "log/file.hpp"
#include "log/partition_log.hpp"

namespace kbus::log {
namespace fs = std::filesystem;
namespace {

constexpr const char* segment_suffixes[] = {".log", ".index", ".timeindex"};

// The offset after the last whole batch of a segment file (`base` if it holds none).
std::int64_t next_offset_in(const std::string& path, std::int64_t base) {
    File file(path, false);
    const ReadOnlyMapping map(file.fd(), file.size());
    std::uint64_t pos = 0;
    std::int64_t next = base;
    while (pos < map.size) {
        const BatchView b({map.data + pos, map.size - pos});
        if (b.check(false, max_batch_bytes) != BatchCheck::ok) break;
        next = b.last_offset() + 1;
        pos += b.total_bytes();
    }
    return next;
}

void rename_or_throw(const std::string& from, const std::string& to) {
    std::error_code ec;
    fs::rename(from, to, ec);
    if (ec)
        throw Error(ErrorCode::io_error,
                    "cannot rename " + from + " to " + to + ": " + ec.message());
}

}  // namespace

void PartitionLog::finish_interrupted_swaps() {
    std::error_code ignored;
    fs::remove_all(dir_ + "/cleaner", ignored);
    std::vector<std::int64_t> swaps;
    for (const auto& entry : fs::directory_iterator(dir_))
        if (const std::int64_t base =
                segment_base_of(entry.path().filename().string(), ".log.swap");
            base >= 0)
            swaps.push_back(base);
    for (const std::int64_t base : swaps) {
        const std::string swap = segment_file_name(dir_, base, ".log.swap");
        const std::int64_t next = next_offset_in(swap, base);
        std::vector<fs::path> replaced;
        for (const auto& entry : fs::directory_iterator(dir_))
            for (const char* suffix : segment_suffixes)
                if (const std::int64_t b =
                        segment_base_of(entry.path().filename().string(), suffix);
                    b >= base && (b < next || b == base))
                    replaced.push_back(entry.path());
        for (const fs::path& p : replaced)
            fs::remove(p);
        rename_or_throw(swap, segment_file_name(dir_, base, ".log"));
        sink_("WARN", "finished the log cleaner's swap of " +
                          segment_file_name(dir_, base, ".log") + " that a stop had interrupted (" +
                          std::to_string(replaced.size()) + " old file(s) replaced)");
    }
    if (!swaps.empty()) fsync_directory(dir_);
}

void PartitionLog::read_cleaner_checkpoint() {
    bool readable = true;
    const auto offset = read_offset_file(cleaner_checkpoint_path(), readable);
    if (!readable)
        sink_("WARN", cleaner_checkpoint_path() + " is unreadable; the whole log counts as dirty");
    std::int64_t cleaned = offset.value_or(0);
    if (cleaned > active().next_offset()) {  // a checkpoint no log of this size can have
        sink_("WARN", cleaner_checkpoint_path() + " says " + std::to_string(cleaned) +
                          ", past the log's end " + std::to_string(active().next_offset()) +
                          "; the whole log counts as dirty");
        cleaned = 0;
    }
    // Release: pairs with cleaned_to()'s acquire (describe reads it from another thread).
    cleaned_to_.store(cleaned, std::memory_order_release);
}

std::optional<CleanableSection> PartitionLog::cleanable_section(std::int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    CleanableSection section;
    section.dir = dir_;
    const std::int64_t checkpoint = cleaned_to();
    for (auto it = segments_.begin(); std::next(it) != segments_.end(); ++it) {
        const Segment& s = *it->second;
        const bool synced = s.next_offset() <= recovery_point();
        const bool old_enough = s.max_timestamp() < 0 || config_.min_compaction_lag_ms == 0 ||
                                now_ms - s.max_timestamp() >= config_.min_compaction_lag_ms;
        // Records of a transaction still open must wait for its end: whether they are there at
        // all (an abort) decides what they supersede (Kafka cleans below the last stable offset).
        const bool stable = s.next_offset() <= last_stable_offset();
        if (!synced || !old_enough || !stable) break;
        if (s.base_offset() < checkpoint) section.first_dirty = section.segments.size() + 1;
        section.segments.push_back({s.base_offset(), s.next_offset(), s.log_path(), s.size_bytes(),
                                    s.first_timestamp(), !s.regions().empty()});
        section.end_offset = std::next(it)->first;
    }
    if (section.segments.empty()) return std::nullopt;
    section.aborted =
        txn_index_.overlapping(section.segments.front().base_offset, section.end_offset - 1);
    return section;
}

void PartitionLog::set_cleaned_to(std::int64_t offset) {
    if (offset <= cleaned_to()) return;
    write_checkpoint(cleaner_checkpoint_path(), offset);
    cleaned_to_.store(offset, std::memory_order_release);  // pairs with cleaned_to()
}

bool PartitionLog::swap_in_cleaned(CleanedGroup& group) {
    const std::int64_t base = group.replaced.front().base_offset;
    {
        std::lock_guard lock(mutex_);
        for (const CleanableSegment& r : group.replaced) {
            const auto it = segments_.find(r.base_offset);
            if (it == segments_.end() || std::next(it) == segments_.end() ||
                it->second->size_bytes() != r.size_bytes)
                return false;
        }
        // First: an entry whose ABORT marker is gone would hide that producer's later batches
        // from read_committed readers, while a marker without its entry (a crash between the
        // two) hides nothing, its records being gone before it.
        if (!group.dropped_aborted.empty()) txn_index_.remove(group.dropped_aborted);
    }
    const std::string swap = segment_file_name(dir_, base, ".log.swap");
    rename_or_throw(segment_file_name(group.staging_dir, base, ".log"), swap);
    fsync_directory(dir_);  // the swap is decided: recovery finishes it from here
    std::vector<std::string> deleted;
    {
        std::lock_guard lock(mutex_);
        for (const CleanableSegment& r : group.replaced)
            for (const char* suffix : segment_suffixes) {
                const std::string path = segment_file_name(dir_, r.base_offset, suffix);
                if (!fs::exists(path)) continue;
                rename_or_throw(path, path + ".deleted");
                deleted.push_back(path + ".deleted");
            }
        for (const char* suffix : {".index", ".timeindex"})  // none yet for a small segment
            if (const std::string staged = segment_file_name(group.staging_dir, base, suffix);
                fs::exists(staged))
                rename_or_throw(staged, segment_file_name(dir_, base, suffix));
        rename_or_throw(swap, segment_file_name(dir_, base, ".log"));
        for (const CleanableSegment& r : group.replaced)
            segments_.erase(r.base_offset);
        group.segment->relocate(dir_);
        segments_.emplace(base, std::move(group.segment));
        publish_offsets();
    }
    fsync_directory(dir_);
    for (const std::string& path : deleted)
        ::unlink(path.c_str());
    return true;
}

}  // namespace kbus::log
