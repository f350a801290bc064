#include "log/segment.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "kbus/detail/big_endian.hpp"
#include "kbus/error.hpp"
#include "log/compression.hpp"

namespace kbus::log {
namespace {

// Where the offsets of damage with nothing valid after it in its file end: at the next segment's
// base, else (the last segment) at the recovery point, below which offsets were handed out and
// synced. -1: not known (a clean stop's log without a checkpoint): such damage is cut instead.
std::int64_t offset_bound(const RecoveryLimits& l) {
    if (l.next_base >= 0) return l.next_base;
    return l.recovery_point == std::numeric_limits<std::int64_t>::max() ? -1 : l.recovery_point;
}

}  // namespace

std::string segment_file_name(const std::string& dir, std::int64_t base_offset,
                              const char* suffix) {
    char name[32];
    std::snprintf(name, sizeof(name), "%020lld", static_cast<long long>(base_offset));
    return dir + "/" + name + suffix;
}

std::int64_t segment_base_of(const std::string& file_name, std::string_view suffix) {
    if (file_name.size() != 20 + suffix.size() || !file_name.ends_with(suffix) ||
        file_name.find_first_not_of("0123456789") != 20)
        return -1;
    return std::stoll(file_name.substr(0, 20));
}

Segment::Segment(const std::string& dir, std::int64_t base_offset, bool open_log)
    : dir_(dir),
      base_offset_(base_offset),
      next_offset_(base_offset),
      log_(File::unopened(segment_file_name(dir, base_offset, ".log"))) {
    if (open_log) log_.open(false);
}

// A partition's first segment has no file until its first append (the .log then, the indexes at
// their first entries), so that an idle partition costs one directory: creating files is most of
// what a new partition costs kbusd. A segment a roll starts gets its .log at once: the files on
// disk must say where the log ends even when retention has taken every segment before it.
// Leftovers of a segment that was there before are emptied.
Segment Segment::create(const std::string& dir, std::int64_t base_offset, bool make_log_file) {
    Segment s(dir, base_offset, false);
    if (make_log_file) {
        s.log_.open(true);
        s.log_.truncate(0);
        s.log_.close();
    } else {
        truncate_if_there(s.log_.path());
    }
    truncate_if_there(s.index_path());
    truncate_if_there(s.time_index_path());
    return s;
}

Segment Segment::open(const std::string& dir, std::int64_t base_offset, bool verify,
                      std::int32_t index_interval_bytes, const RecoveryLimits& limits,
                      RecoveryResult& result) {
    Segment s(dir, base_offset, true);
    s.size_ = s.log_.size();
    s.rebuild(verify, index_interval_bytes, limits, result);
    if (s.size_ == 0) s.log_.close();
    return s;
}

// Reads every batch: establishes next offset and timestamps, and (when verifying) checks CRCs.
// A bad batch at or past the recovery point is a torn write: the log is cut there. Below it, the
// bytes had reached the disk, so the damage is stepped over and remembered. Indexes are rebuilt
// unless trusted ones load and nothing was found.
// A batch as recovery reads it: check() (CRC when `verify`), then its offsets, which the CRC
// does not cover: never below where the batch before it ended, never into the next segment's,
// never past what the index's 32-bit relative offsets can reach (the last segment has no next
// base: a flipped high byte made the log end jump by 2^56).
BatchCheck Segment::check_recovered(const BatchView& b, bool verify, std::int64_t expected_min,
                                    const RecoveryLimits& limits) const {
    const BatchCheck c = b.check(verify, max_batch_bytes);
    if (c != BatchCheck::ok) return c;
    const bool offsets_fit =
        b.base_offset() >= expected_min &&
        (limits.next_base < 0 || b.last_offset() < limits.next_base) &&
        b.last_offset() - base_offset_ <= std::numeric_limits<std::int32_t>::max();
    return offsets_fit ? BatchCheck::ok : BatchCheck::bad_records;
}

void Segment::rebuild(bool verify, std::int32_t index_interval_bytes, const RecoveryLimits& limits,
                      RecoveryResult& result) {
    const bool trusted_indexes = !verify && load_indexes();
    const std::vector<IndexEntry> kept_index = index_entries_;
    const std::vector<TimeEntry> kept_time = time_entries_;
    index_entries_.clear();
    time_entries_.clear();
    const ReadOnlyMapping m(log_.fd(), size_);
    std::uint64_t pos = 0;
    std::int64_t expected_min = base_offset_;
    const std::uint64_t file_size = size_;
    size_ = 0;
    bytes_since_index_ = 0;
    while (pos < file_size) {
        BatchView b({m.data + pos, file_size - pos});
        const BatchCheck c = check_recovered(b, verify, expected_min, limits);
        if (c != BatchCheck::ok) {
            std::optional<CorruptRegion> r;
            if (expected_min < limits.recovery_point)
                r = damage_at(m.data, file_size, pos, expected_min, offset_bound(limits));
            if (!r) {
                result.truncated = true;
                result.reason = to_string(c);
                break;
            }
            r->reason = to_string(c);
            add_region(*r);
            result.regions.push_back(*r);
            pos = size_ = r->end;
            next_offset_ = expected_min = std::max(expected_min, r->last_offset + 1);
            continue;
        }
        if (first_timestamp_ < 0) first_timestamp_ = b.max_timestamp();
        if (b.max_timestamp() > max_timestamp_ || offset_of_max_timestamp_ < 0) {
            max_timestamp_ = b.max_timestamp();
            offset_of_max_timestamp_ = b.last_offset();
        }
        bytes_since_index_ += b.total_bytes();
        if (bytes_since_index_ > std::uint64_t(index_interval_bytes))
            add_index_entries(b.last_offset(), pos);
        pos += b.total_bytes();
        size_ = pos;
        next_offset_ = b.last_offset() + 1;
        expected_min = next_offset_;
    }
    result.valid_bytes = pos;
    if (result.truncated) log_.truncate(pos);
    if (trusted_indexes && !result.truncated && result.regions.empty()) {
        index_entries_ = kept_index;
        time_entries_ = kept_time;
    } else {
        write_indexes();
    }
}

bool Segment::load_indexes() {
    std::string ib, tb;
    if (!read_whole_file(index_path(), ib) || !read_whole_file(time_index_path(), tb) ||
        ib.size() % index_entry_bytes || tb.size() % timeindex_entry_bytes)
        return false;
    index_entries_.clear();
    time_entries_.clear();
    for (std::size_t i = 0; i < ib.size(); i += index_entry_bytes) {
        const IndexEntry e{detail::load_be<std::int32_t>(ib.data() + i),
                           detail::load_be<std::uint32_t>(ib.data() + i + 4)};
        if (e.position >= size_ || e.relative_offset < 0 ||
            (!index_entries_.empty() &&
             (e.relative_offset <= index_entries_.back().relative_offset ||
              e.position <= index_entries_.back().position)))
            return false;
        index_entries_.push_back(e);
    }
    for (std::size_t i = 0; i < tb.size(); i += timeindex_entry_bytes) {
        const TimeEntry e{detail::load_be<std::int64_t>(tb.data() + i),
                          detail::load_be<std::int32_t>(tb.data() + i + 8)};
        if (e.relative_offset < 0 ||
            (!time_entries_.empty() && e.timestamp < time_entries_.back().timestamp))
            return false;
        time_entries_.push_back(e);
    }
    index_entries_on_file_ = index_entries_.size();
    time_entries_on_file_ = time_entries_.size();
    return true;
}

// Recovery's rewrite of both index files. One that cannot be written (a full disk at a restart)
// must not stop the log from opening: the files go instead (an unlink needs no space), so that no
// stale index is ever trusted, and the entries in memory are written whole at the next try.
void Segment::write_indexes() {
    index_entries_on_file_ = time_entries_on_file_ = 0;
    try {
        truncate_if_there(index_path());
        truncate_if_there(time_index_path());
        write_index_tails(false);
    } catch (const Error&) {
        ::unlink(index_path().c_str());
        ::unlink(time_index_path().c_str());
        index_entries_on_file_ = time_entries_on_file_ = 0;
    }
}

// The entries added since the last write, appended to their files (opened for this alone).
void Segment::write_index_tails(bool sync) {
    std::string ib, tb;
    for (std::size_t i = index_entries_on_file_; i < index_entries_.size(); ++i) {
        char buf[index_entry_bytes];
        detail::store_be(buf, index_entries_[i].relative_offset);
        detail::store_be(buf + 4, index_entries_[i].position);
        ib.append(buf, sizeof(buf));
    }
    for (std::size_t i = time_entries_on_file_; i < time_entries_.size(); ++i) {
        char buf[timeindex_entry_bytes];
        detail::store_be(buf, time_entries_[i].timestamp);
        detail::store_be(buf + 8, time_entries_[i].relative_offset);
        tb.append(buf, sizeof(buf));
    }
    const bool must_sync = sync && indexes_unsynced_;
    if (!ib.empty() || must_sync) {
        File f(index_path(), true);
        f.write_at(index_entries_on_file_ * index_entry_bytes, ib);
        if (sync) f.sync_data();
        index_entries_on_file_ = index_entries_.size();
    }
    if (!tb.empty() || must_sync) {
        File f(time_index_path(), true);
        f.write_at(time_entries_on_file_ * timeindex_entry_bytes, tb);
        if (sync) f.sync_data();
        time_entries_on_file_ = time_entries_.size();
    }
    indexes_unsynced_ = !sync && (indexes_unsynced_ || !ib.empty() || !tb.empty());
}

// Kafka's rule: an offset entry (the batch's largest offset at the batch's start) and a time
// entry (max timestamp so far at its offset) once more than index.interval.bytes were appended.
void Segment::add_index_entries(std::int64_t last_offset, std::uint64_t position) {
    const IndexEntry e{std::int32_t(last_offset - base_offset_), std::uint32_t(position)};
    if (index_entries_.empty() || e.relative_offset > index_entries_.back().relative_offset)
        index_entries_.push_back(e);
    add_time_entry();
    bytes_since_index_ = 0;
}

void Segment::append(const BatchView& batch, std::int32_t index_interval_bytes) {
    write_batch(batch);
    account_batch(batch, index_interval_bytes);
}

void Segment::write_batch(const BatchView& batch) {
    if (batch.base_offset() < next_offset_)
        throw Error(ErrorCode::invalid_argument,
                    "batch offset " + std::to_string(batch.base_offset()) +
                        " is below the log end " + std::to_string(next_offset_));
    const auto bytes = batch.bytes();
    if (!log_.is_open()) [[unlikely]]
        log_.open(true);  // readers look at it only once size_ covers what this writes
    log_.write_at(size_, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    start_writeback_behind(size_ + bytes.size());
}

// The spill writes each page once, in order: left to the kernel, the dirty pages pile up until
// the flusher wakes (seconds later) or the dirty limit throttles the writer, and a sync then
// waits for all of them at once. Starting the write-back of each full chunk as soon as it is
// written keeps the disk busy alongside the producers, so a flush (or a clean stop) finds most
// of the data already on its way. A reopened segment starts from its beginning: after kbusd
// alone crashed, what it recovered may still be dirty pages (the kernel skips clean ones).
void Segment::start_writeback_behind(std::uint64_t written_end) noexcept {
    constexpr std::uint64_t chunk = 4u << 20;
    if (written_end < writeback_from_ + chunk) return;
    log_.start_writeback(writeback_from_, written_end - writeback_from_);
    writeback_from_ = written_end;
}

void Segment::account_batch(const BatchView& batch, std::int32_t index_interval_bytes) {
    const auto bytes = batch.bytes();
    if (first_timestamp_ < 0) first_timestamp_ = batch.max_timestamp();
    if (batch.max_timestamp() > max_timestamp_ || offset_of_max_timestamp_ < 0) {
        max_timestamp_ = batch.max_timestamp();
        offset_of_max_timestamp_ = batch.last_offset();
    }
    bytes_since_index_ += bytes.size();
    if (bytes_since_index_ > std::uint64_t(index_interval_bytes))
        add_index_entries(batch.last_offset(), size_);
    size_ += bytes.size();
    next_offset_ = batch.last_offset() + 1;
}

void Segment::flush() {
    if (log_.is_open()) log_.sync_data();
    write_index_tails_if_possible(true);
}

void Segment::seal() {
    add_time_entry();
    write_index_tails_if_possible(false);
}

// The indexes only speed lookups up (entries in memory serve them, and recovery rebuilds the
// files): an index file that cannot be written now (no descriptor left, no space) must not fail
// the append or the sync that wrote the records. Its entries are written at the next try.
void Segment::write_index_tails_if_possible(bool sync) noexcept {
    try {
        write_index_tails(sync);
    } catch (const Error&) {
    }
}

// A time entry (max timestamp so far at its offset) if the max grew since the last one.
void Segment::add_time_entry() {
    if (max_timestamp_ < 0 ||
        (!time_entries_.empty() && max_timestamp_ <= time_entries_.back().timestamp))
        return;
    time_entries_.push_back(
        {max_timestamp_, std::int32_t(offset_of_max_timestamp_ - base_offset_)});
}

void Segment::relocate(const std::string& dir) {
    log_.close();
    dir_ = dir;
    log_ = File::unopened(segment_file_name(dir_, base_offset_, ".log"));
}

void Segment::remove() {
    for (const std::string& path : {log_.path(), index_path(), time_index_path()})
        ::unlink(path.c_str());
    log_.close();
}

// A header read alone: could a batch start here (length, magic, counts, inside the file)?
bool Segment::header_sane(const char* header, std::uint64_t position) const noexcept {
    const auto length = detail::load_be<std::int32_t>(header + batch_length_offset);
    if (length < std::int32_t(batch_header_bytes - log_overhead) ||
        std::size_t(length) + log_overhead > max_batch_bytes ||
        position + std::uint64_t(length) + log_overhead > size_)
        return false;
    const BatchView b({reinterpret_cast<const std::byte*>(header), batch_header_bytes});
    // The same framing check() makes: a read never serves what a reader's check would refuse.
    return header[magic_offset] == magic_v2 && b.counts_in_range();
}

std::uint64_t Segment::position_of(std::int64_t offset) const {
    const OpenForReading open(*this);
    const std::int64_t rel = offset - base_offset_;
    // The greatest entry whose (largest) offset is below the target: its batch ends before it.
    auto it =
        std::lower_bound(index_entries_.begin(), index_entries_.end(), rel,
                         [](const IndexEntry& e, std::int64_t r) { return e.relative_offset < r; });
    std::uint64_t pos = it == index_entries_.begin() ? 0 : std::prev(it)->position;
    char header[batch_header_bytes];
    while (pos < size_) {
        if (const CorruptRegion* r = region_containing(pos)) {
            if (r->last_offset >= offset) return r->begin;
            pos = r->end;
            continue;
        }
        if (log_.read_at(pos, header, sizeof(header)) != sizeof(header) ||
            !header_sane(header, pos))
            return pos;  // no batch can start here: the caller finds out what it is
        const BatchView b({reinterpret_cast<const std::byte*>(header), sizeof(header)});
        if (b.last_offset() >= offset) return pos;
        pos += b.total_bytes();
    }
    return size_;
}

std::optional<std::int64_t> Segment::offset_for_timestamp(std::int64_t ts) const {
    const OpenForReading open(*this);
    if (max_timestamp_ < ts) return std::nullopt;
    // Start from the last time entry below ts: every offset before it has a smaller timestamp.
    auto it = std::lower_bound(time_entries_.begin(), time_entries_.end(), ts,
                               [](const TimeEntry& e, std::int64_t t) { return e.timestamp < t; });
    std::int64_t from = base_offset_;
    if (it != time_entries_.begin()) from = base_offset_ + std::prev(it)->relative_offset;
    std::uint64_t pos = position_of(from);
    while (pos < size_) {
        if (const CorruptRegion* r = region_containing(pos)) {
            pos = r->end;
            continue;
        }
        const std::string bytes = read(pos, 1);
        if (bytes.empty()) break;  // a header that is no batch's: its length means nothing
        const BatchView b({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
        // A batch whose CRC fails has a sane length (read() checked it) but no timestamp to trust.
        if (b.check(true) == BatchCheck::ok && b.max_timestamp() >= ts)
            if (auto o = first_at_or_after(b, ts)) return o;
        pos += b.total_bytes();
    }
    return std::nullopt;
}

std::optional<std::int64_t> Segment::first_at_or_after(const BatchView& b, std::int64_t ts) {
    std::span<const std::byte> records = b.records_bytes();
    std::string decompressed;
    if (b.compression_codec() != 0) {
        decompress(b.compression_codec(), records, decompressed, max_batch_bytes);
        records = {reinterpret_cast<const std::byte*>(decompressed.data()), decompressed.size()};
    }
    RecordIterator r(records, b.record_count(), b.base_offset(), b.base_timestamp());
    RecordView rec;
    while (r.next(rec))
        if (rec.timestamp >= ts) return rec.offset;
    return std::nullopt;
}

std::size_t Segment::whole_batches_bytes(std::uint64_t position, std::size_t max_bytes,
                                         std::int64_t below) const {
    const OpenForReading open(*this);
    std::uint64_t pos = position;
    char header[batch_header_bytes];
    while (pos < size_) {
        if (region_containing(pos) != nullptr) break;  // never hand out bytes known to be bad
        if (log_.read_at(pos, header, sizeof(header)) != sizeof(header) ||
            !header_sane(header, pos))
            break;
        const std::size_t total =
            std::size_t(detail::load_be<std::int32_t>(header + batch_length_offset)) + log_overhead;
        if (pos != position && pos - position + total > max_bytes) break;
        if (detail::load_be<std::int64_t>(header + base_offset_offset) >= below) break;
        pos += total;
    }
    return std::size_t(pos - position);
}

std::string Segment::read(std::uint64_t position, std::size_t max_bytes) const {
    const OpenForReading open(*this);
    std::string out(whole_batches_bytes(position, max_bytes), '\0');
    out.resize(log_.read_at(position, out.data(), out.size()));
    return out;
}

// ---- damage ------------------------------------------------------------------------------------

// Where a bad batch at `pos` ends: at its own end if its length is sane and a valid batch (or the
// file's end) follows; else at the next position where a batch of magic 2 parses, its CRC holds
// and its offsets do not go back, found byte by byte, since the bad batch's length field may be
// garbage. With nothing valid after it, the region runs to the file's end and its offsets to
// `next_offset_bound` (-1: unknown, and then there is no region: the caller cuts).
std::optional<CorruptRegion> Segment::damage_at(const std::byte* map, std::uint64_t size,
                                                std::uint64_t pos, std::int64_t expected,
                                                std::int64_t next_offset_bound,
                                                std::optional<std::int64_t> covers) const {
    // A batch that resumes the log starts past every offset the damage must hold.
    const std::int64_t resume_min = std::max(expected, covers.value_or(expected - 1) + 1);
    const auto valid_at = [&](std::uint64_t q) {
        if (size - q < batch_header_bytes || std::int8_t(map[q + magic_offset]) != magic_v2)
            return false;
        const BatchView b({map + q, size - q});
        return b.check(true, max_batch_bytes) == BatchCheck::ok && b.base_offset() >= resume_min;
    };
    std::uint64_t next = size;
    const BatchView bad({map + pos, size - pos});
    if (bad.check(false, max_batch_bytes) == BatchCheck::ok &&
        (pos + bad.total_bytes() == size || valid_at(pos + bad.total_bytes()))) {
        next = pos + bad.total_bytes();
    } else {
        for (std::uint64_t q = pos + 1; q + batch_header_bytes <= size; ++q)
            if (valid_at(q)) {
                next = q;
                break;
            }
    }
    CorruptRegion r{pos, next, expected, expected - 1, {}};
    if (next < size) {
        r.last_offset = BatchView({map + next, size - next}).base_offset() - 1;
        return r;
    }
    if (next_offset_bound < 0) return std::nullopt;
    r.last_offset = next_offset_bound - 1;
    return r;
}

void Segment::add_region(const CorruptRegion& r) {
    auto at = std::lower_bound(regions_.begin(), regions_.end(), r.begin,
                               [](const CorruptRegion& x, std::uint64_t b) { return x.begin < b; });
    if (at != regions_.end() && at->begin == r.begin && at->end == r.end) return;
    regions_.insert(at, r);
}

const CorruptRegion* Segment::region_containing(std::uint64_t position) const noexcept {
    for (const CorruptRegion& r : regions_)
        if (r.begin <= position && position < r.end) return &r;
    return nullptr;
}

const CorruptRegion* Segment::region_at(std::uint64_t position) const noexcept {
    for (const CorruptRegion& r : regions_)
        if (r.begin == position && r.end > r.begin) return &r;
    return nullptr;
}

const CorruptRegion* Segment::region_holding(std::int64_t offset) const noexcept {
    for (const CorruptRegion& r : regions_)
        if (r.first_offset <= offset && offset <= r.last_offset) return &r;
    return nullptr;
}

// Walks the batches from the segment's start (the offsets before a bad batch say which offsets it
// cost, and an index entry does not), framing only, up to the batch that holds `offset`, whose
// CRC is then checked too.
std::optional<CorruptRegion> Segment::check_batch_for(std::int64_t offset) {
    if (size_ == 0) return std::nullopt;  // no batch, and maybe no descriptor yet
    const OpenForReading open(*this);
    const ReadOnlyMapping m(log_.fd(), size_);
    std::uint64_t pos = 0;
    std::int64_t expected = base_offset_;
    while (pos < size_) {
        if (const CorruptRegion* r = region_containing(pos)) {
            if (r->last_offset >= offset) return *r;
            expected = std::max(expected, r->last_offset + 1);
            pos = r->end;
            continue;
        }
        const BatchView b({m.data + pos, size_ - pos});
        BatchCheck c = b.check(false, max_batch_bytes);
        if (c == BatchCheck::ok && b.base_offset() < expected) c = BatchCheck::bad_records;
        if (c == BatchCheck::ok && b.last_offset() < offset) {
            expected = b.last_offset() + 1;
            pos += b.total_bytes();
            continue;
        }
        if (c == BatchCheck::ok) c = b.check(true, max_batch_bytes);
        if (c == BatchCheck::ok) return std::nullopt;
        // The offsets up to this segment's end were handed out: a region cannot lack a bound.
        std::optional<CorruptRegion> r =
            damage_at(m.data, size_, pos, expected, next_offset_, offset);
        r->reason = to_string(c);
        add_region(*r);
        return r;
    }
    return std::nullopt;
}

// Offsets [next_offset(), offset) were synced once but their bytes are gone (the file is shorter
// than the recovery point says): an empty region stands for them, so they are reported, not
// handed out again.
void Segment::extend_to(std::int64_t offset) {
    if (offset <= next_offset_) return;
    regions_.push_back({size_, size_, next_offset_, offset - 1, "missing from the file"});
    next_offset_ = offset;
}

}  // namespace kbus::log
