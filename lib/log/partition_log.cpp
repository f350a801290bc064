#include "log/partition_log.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "kbus/error.hpp"
#include "security/access_policy.hpp"

namespace kbus::log {
namespace fs = std::filesystem;

PartitionLog::PartitionLog(std::string dir, const config::TopicConfig& config, bool verify,
                           logging::LogSink sink)
    : dir_(std::move(dir)), config_(config), sink_(std::move(sink)) {
    fs::create_directories(dir_);
    security::access_policy().apply_to_path(dir_, true);
    std::vector<std::int64_t> bases;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        const std::string name = entry.path().filename().string();
        if (name.size() == 24 && name.ends_with(".log") &&
            name.find_first_not_of("0123456789") == 20)
            bases.push_back(std::stoll(name.substr(0, 20)));
        else if (name.ends_with(".tmp") || name.ends_with(".deleted"))
            fs::remove(entry.path());
    }
    std::sort(bases.begin(), bases.end());
    bool cut = false;
    std::int64_t expected = bases.empty() ? 0 : bases.front();
    std::size_t dropped = 0;
    for (std::int64_t base : bases) {
        // After a cut (or an overlap: a segment starting below where the previous ended), later
        // segments cannot follow densely: they go, as Kafka drops them after truncation.
        if (cut || base < expected) {
            for (const char* suffix : {".log", ".index", ".timeindex"})
                fs::remove(segment_file_name(dir_, base, suffix));
            ++dropped;
            continue;
        }
        RecoveryResult r;
        auto segment = std::make_unique<Segment>(
            Segment::open(dir_, base, verify, config_.index_interval_bytes, r));
        if (r.truncated) {
            sink_("WARN", "truncated " + segment->log_path() + " at byte " +
                              std::to_string(r.valid_bytes) + " (" + r.reason +
                              "); the log now ends at offset " +
                              std::to_string(segment->next_offset()));
            cut = true;
        }
        expected = segment->next_offset();
        segments_.emplace(base, std::move(segment));
    }
    if (dropped != 0)
        sink_("WARN", "removed " + std::to_string(dropped) + " segment(s) of " + dir_ +
                          " after the truncation");
    if (segments_.empty()) roll(0);
    publish_offsets();
}

void PartitionLog::publish_offsets() noexcept {
    // Release: a reader that sees an offset finds the segments that hold it.
    log_start_offset_.store(segments_.begin()->first, std::memory_order_release);
    log_end_offset_.store(segments_.rbegin()->second->next_offset(), std::memory_order_release);
}

void PartitionLog::set_config(const config::TopicConfig& config) {
    std::lock_guard lock(mutex_);
    config_ = config;
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
    Segment* closed = segments_.empty() ? nullptr : &active();
    if (closed != nullptr) closed->seal();
    segments_.emplace(base_offset, std::make_unique<Segment>(Segment::create(dir_, base_offset)));
    return closed;
}

void PartitionLog::append(std::string_view batch, std::int64_t now_ms) {
    const BatchView b({reinterpret_cast<const std::byte*>(batch.data()), batch.size()});
    Segment* closed = nullptr;
    {
        std::lock_guard lock(mutex_);
        Segment& a = active();
        const bool full = a.size_bytes() + batch.size() > std::uint64_t(config_.segment_bytes);
        // Kafka's segment.ms: the incoming batch's timestamp against the segment's first one
        // (the wall clock only when records carry no timestamp).
        const std::int64_t stamp = b.max_timestamp() >= 0 ? b.max_timestamp() : now_ms;
        const bool old =
            a.first_timestamp() >= 0 && stamp - a.first_timestamp() > config_.segment_ms;
        const bool relative_overflow = b.last_offset() - a.base_offset() > INT32_MAX;
        if (!a.empty() && (full || old || relative_overflow)) closed = roll(b.base_offset());
        active().append(b, config_.index_interval_bytes);
        publish_offsets();
    }
    unflushed_messages_ += b.record_count();
    // A closed segment is made durable at once, outside the lock (only this thread appends,
    // rolls and deletes segments, so it stays there meanwhile).
    if (closed != nullptr) closed->flush();
}

void PartitionLog::maybe_flush(std::int64_t now_ms, bool force) {
    if (unflushed_messages_ == 0) {
        last_flush_ms_ = now_ms;
        return;
    }
    std::int64_t flush_messages = 0, flush_ms = 0;
    Segment* a = nullptr;
    {
        std::lock_guard lock(mutex_);
        flush_messages = config_.flush_messages;
        flush_ms = config_.flush_ms;
        a = &active();
    }
    if (force || unflushed_messages_ >= flush_messages || now_ms - last_flush_ms_ >= flush_ms) {
        a->flush();  // outside the lock: readers go on meanwhile
        unflushed_messages_ = 0;
        last_flush_ms_ = now_ms;
    }
}

std::size_t PartitionLog::apply_retention(std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    std::size_t deleted = 0;
    std::uint64_t total = size_bytes_locked();
    // Oldest first; stop at the first segment that stays; never the active one.
    while (segments_.size() > 1) {
        Segment& oldest = *segments_.begin()->second;
        const bool expired = config_.retention_ms >= 0 && oldest.max_timestamp() >= 0 &&
                             now_ms - oldest.max_timestamp() > config_.retention_ms;
        const bool over_size =
            config_.retention_bytes >= 0 &&
            total - oldest.size_bytes() >= std::uint64_t(config_.retention_bytes);
        if (!expired && !over_size) break;
        sink_("INFO", "retention: deleted " + oldest.log_path() + " (" +
                          (expired ? "older than retention.ms" : "over retention.bytes") + ")");
        total -= oldest.size_bytes();
        oldest.remove();
        segments_.erase(segments_.begin());
        ++deleted;
    }
    publish_offsets();
    return deleted;
}

std::pair<const Segment*, std::uint64_t> PartitionLog::find(std::int64_t offset) const {
    if (offset < log_start_offset())
        throw Error(ErrorCode::offset_out_of_range, "offset " + std::to_string(offset) +
                                                        " is below the log start " +
                                                        std::to_string(log_start_offset()));
    auto it = segments_.upper_bound(offset);
    if (it == segments_.begin()) return {nullptr, 0};
    for (--it; it != segments_.end(); ++it) {
        const Segment& s = *it->second;
        const std::uint64_t pos = s.position_of(offset);
        if (pos < s.size_bytes()) return {&s, pos};
    }
    return {nullptr, 0};
}

std::string PartitionLog::read(std::int64_t offset, std::size_t max_bytes) const {
    std::lock_guard lock(mutex_);
    const auto [s, pos] = find(offset);
    return s == nullptr ? std::string() : s->read(pos, max_bytes);
}

PartitionLog::Extent PartitionLog::locate(std::int64_t offset, std::size_t max_bytes) const {
    std::lock_guard lock(mutex_);
    const auto [s, pos] = find(offset);
    if (s == nullptr) return {};
    return {s->log_path(), pos, s->whole_batches_bytes(pos, max_bytes)};
}

std::optional<std::int64_t> PartitionLog::offset_for_timestamp(std::int64_t ts) const {
    std::lock_guard lock(mutex_);
    for (const auto& [base, s] : segments_)
        if (auto o = s->offset_for_timestamp(ts)) return std::max(*o, log_start_offset());
    return std::nullopt;
}

}  // namespace kbus::log
