#include "log/segment.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "kbus/detail/big_endian.hpp"
#include "kbus/error.hpp"
#include "log/compression.hpp"

namespace kbus::log {
namespace {

// Largest batch the reader accepts: a corrupt length must not make recovery read gigabytes.
constexpr std::size_t max_batch_bytes = 256u << 20;

struct Mapped {
    const std::byte* data = nullptr;
    std::size_t size = 0;
    Mapped(int fd, std::size_t n) : size(n) {
        if (n == 0) return;
        void* p = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) throw Error(ErrorCode::io_error, "cannot map a segment");
        data = static_cast<const std::byte*>(p);
        ::madvise(p, n, MADV_SEQUENTIAL);
    }
    ~Mapped() {
        if (data) ::munmap(const_cast<std::byte*>(data), size);
    }
    Mapped(const Mapped&) = delete;
    Mapped& operator=(const Mapped&) = delete;
};

}  // namespace

std::string segment_file_name(const std::string& dir, std::int64_t base_offset,
                              const char* suffix) {
    char name[32];
    std::snprintf(name, sizeof(name), "%020lld", static_cast<long long>(base_offset));
    return dir + "/" + name + suffix;
}

Segment::Segment(const std::string& dir, std::int64_t base_offset, bool create)
    : dir_(dir),
      base_offset_(base_offset),
      next_offset_(base_offset),
      log_(segment_file_name(dir, base_offset, ".log"), create),
      index_(segment_file_name(dir, base_offset, ".index"), true),
      timeindex_(segment_file_name(dir, base_offset, ".timeindex"), true) {}

Segment Segment::create(const std::string& dir, std::int64_t base_offset) {
    Segment s(dir, base_offset, true);
    s.log_.truncate(0);
    s.index_.truncate(0);
    s.timeindex_.truncate(0);
    return s;
}

Segment Segment::open(const std::string& dir, std::int64_t base_offset, bool verify,
                      std::int32_t index_interval_bytes, RecoveryResult& result) {
    Segment s(dir, base_offset, false);
    s.size_ = s.log_.size();
    s.rebuild(verify, index_interval_bytes, result);
    return s;
}

// Reads every batch: establishes next offset and timestamps, and (when verifying) checks CRCs
// and cuts the log at the first bad batch. Indexes are rebuilt unless trusted ones load.
void Segment::rebuild(bool verify, std::int32_t index_interval_bytes, RecoveryResult& result) {
    const bool trusted_indexes = !verify && load_indexes();
    const std::vector<IndexEntry> kept_index = index_entries_;
    const std::vector<TimeEntry> kept_time = time_entries_;
    index_entries_.clear();
    time_entries_.clear();
    Mapped m(log_.fd(), size_);
    std::uint64_t pos = 0;
    std::int64_t expected_min = base_offset_;
    const std::uint64_t file_size = size_;
    size_ = 0;
    bytes_since_index_ = 0;
    while (pos < file_size) {
        BatchView b({m.data + pos, file_size - pos});
        BatchCheck c = b.check(verify, max_batch_bytes);
        if (c == BatchCheck::ok && b.base_offset() < expected_min) c = BatchCheck::bad_records;
        if (c != BatchCheck::ok) {
            result.truncated = true;
            result.reason = to_string(c);
            break;
        }
        if (first_timestamp_ < 0) first_timestamp_ = b.max_timestamp();
        if (b.max_timestamp() > max_timestamp_ || offset_of_max_timestamp_ < 0) {
            max_timestamp_ = b.max_timestamp();
            offset_of_max_timestamp_ = b.last_offset();
        }
        size_ = pos;  // add_index_entries looks at the batch's start
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
    if (trusted_indexes && !result.truncated) {
        index_entries_ = kept_index;
        time_entries_ = kept_time;
    } else {
        write_indexes();
    }
}

bool Segment::load_indexes() {
    const std::uint64_t isize = index_.size(), tsize = timeindex_.size();
    if (isize % index_entry_bytes || tsize % timeindex_entry_bytes) return false;
    std::string ib(isize, '\0'), tb(tsize, '\0');
    if (index_.read_at(0, ib.data(), isize) != isize ||
        timeindex_.read_at(0, tb.data(), tsize) != tsize)
        return false;
    index_entries_.clear();
    time_entries_.clear();
    for (std::size_t i = 0; i < isize; i += index_entry_bytes) {
        const IndexEntry e{detail::load_be<std::int32_t>(ib.data() + i),
                           detail::load_be<std::uint32_t>(ib.data() + i + 4)};
        if (e.position >= size_ || e.relative_offset < 0 ||
            (!index_entries_.empty() &&
             (e.relative_offset <= index_entries_.back().relative_offset ||
              e.position <= index_entries_.back().position)))
            return false;
        index_entries_.push_back(e);
    }
    for (std::size_t i = 0; i < tsize; i += timeindex_entry_bytes) {
        const TimeEntry e{detail::load_be<std::int64_t>(tb.data() + i),
                          detail::load_be<std::int32_t>(tb.data() + i + 8)};
        if (e.relative_offset < 0 ||
            (!time_entries_.empty() && e.timestamp < time_entries_.back().timestamp))
            return false;
        time_entries_.push_back(e);
    }
    return true;
}

void Segment::write_indexes() {
    std::string ib, tb;
    for (const IndexEntry& e : index_entries_) {
        char buf[index_entry_bytes];
        detail::store_be(buf, e.relative_offset);
        detail::store_be(buf + 4, e.position);
        ib.append(buf, sizeof(buf));
    }
    for (const TimeEntry& e : time_entries_) {
        char buf[timeindex_entry_bytes];
        detail::store_be(buf, e.timestamp);
        detail::store_be(buf + 8, e.relative_offset);
        tb.append(buf, sizeof(buf));
    }
    index_.truncate(0);
    index_.write_at(0, ib);
    timeindex_.truncate(0);
    timeindex_.write_at(0, tb);
}

// Kafka's rule: an offset entry (the batch's largest offset at the batch's start) and a time
// entry (max timestamp so far at its offset) once more than index.interval.bytes were appended.
void Segment::add_index_entries(std::int64_t last_offset, std::uint64_t position) {
    const IndexEntry e{std::int32_t(last_offset - base_offset_), std::uint32_t(position)};
    if (index_entries_.empty() || e.relative_offset > index_entries_.back().relative_offset) {
        char buf[index_entry_bytes];
        detail::store_be(buf, e.relative_offset);
        detail::store_be(buf + 4, e.position);
        index_.write_at(index_entries_.size() * index_entry_bytes, {buf, sizeof(buf)});
        index_entries_.push_back(e);
    }
    if (max_timestamp_ >= 0 &&
        (time_entries_.empty() || max_timestamp_ > time_entries_.back().timestamp)) {
        const TimeEntry t{max_timestamp_, std::int32_t(offset_of_max_timestamp_ - base_offset_)};
        char buf[timeindex_entry_bytes];
        detail::store_be(buf, t.timestamp);
        detail::store_be(buf + 8, t.relative_offset);
        timeindex_.write_at(time_entries_.size() * timeindex_entry_bytes, {buf, sizeof(buf)});
        time_entries_.push_back(t);
    }
    bytes_since_index_ = 0;
}

void Segment::append(const BatchView& batch, std::int32_t index_interval_bytes) {
    if (batch.base_offset() < next_offset_)
        throw Error(ErrorCode::invalid_argument,
                    "batch offset " + std::to_string(batch.base_offset()) +
                        " is below the log end " + std::to_string(next_offset_));
    const auto bytes = batch.bytes();
    log_.write_at(size_, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
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
    log_.sync_data();
    index_.sync_data();
    timeindex_.sync_data();
}

void Segment::seal() {
    if (max_timestamp_ >= 0 &&
        (time_entries_.empty() || max_timestamp_ > time_entries_.back().timestamp)) {
        const TimeEntry t{max_timestamp_, std::int32_t(offset_of_max_timestamp_ - base_offset_)};
        char buf[timeindex_entry_bytes];
        detail::store_be(buf, t.timestamp);
        detail::store_be(buf + 8, t.relative_offset);
        timeindex_.write_at(time_entries_.size() * timeindex_entry_bytes, {buf, sizeof(buf)});
        time_entries_.push_back(t);
    }
}

void Segment::remove() {
    for (const File* f : {&log_, &index_, &timeindex_})
        ::unlink(f->path().c_str());
    log_.close();
    index_.close();
    timeindex_.close();
}

std::uint64_t Segment::position_of(std::int64_t offset) const {
    const std::int64_t rel = offset - base_offset_;
    // The greatest entry whose (largest) offset is below the target: its batch ends before it.
    auto it =
        std::lower_bound(index_entries_.begin(), index_entries_.end(), rel,
                         [](const IndexEntry& e, std::int64_t r) { return e.relative_offset < r; });
    std::uint64_t pos = it == index_entries_.begin() ? 0 : std::prev(it)->position;
    char header[batch_header_bytes];
    while (pos < size_) {
        if (log_.read_at(pos, header, sizeof(header)) != sizeof(header)) break;
        const BatchView b({reinterpret_cast<const std::byte*>(header), sizeof(header)});
        if (b.last_offset() >= offset) return pos;
        pos += std::uint64_t(detail::load_be<std::int32_t>(header + batch_length_offset)) +
               log_overhead;
    }
    return size_;
}

std::optional<std::int64_t> Segment::offset_for_timestamp(std::int64_t ts) const {
    if (max_timestamp_ < ts) return std::nullopt;
    // Start from the last time entry below ts: every offset before it has a smaller timestamp.
    auto it = std::lower_bound(time_entries_.begin(), time_entries_.end(), ts,
                               [](const TimeEntry& e, std::int64_t t) { return e.timestamp < t; });
    std::int64_t from = base_offset_;
    if (it != time_entries_.begin()) from = base_offset_ + std::prev(it)->relative_offset;
    std::uint64_t pos = position_of(from);
    std::string decompressed;
    while (pos < size_) {
        const std::string bytes = read(pos, 1);
        if (bytes.empty()) break;
        const BatchView b({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
        if (b.check(false) != BatchCheck::ok) break;
        if (b.max_timestamp() >= ts) {
            std::span<const std::byte> records = b.records_bytes();
            if (b.compression_codec() != 0) {
                decompress(b.compression_codec(), records, decompressed, max_batch_bytes);
                records = {reinterpret_cast<const std::byte*>(decompressed.data()),
                           decompressed.size()};
            }
            RecordIterator r(records, b.record_count(), b.base_offset(), b.base_timestamp());
            RecordView rec;
            while (r.next(rec))
                if (rec.timestamp >= ts) return rec.offset;
        }
        pos += b.total_bytes();
    }
    return std::nullopt;
}

std::size_t Segment::whole_batches_bytes(std::uint64_t position, std::size_t max_bytes) const {
    std::uint64_t pos = position;
    char head[log_overhead];
    while (pos < size_) {
        if (log_.read_at(pos, head, sizeof(head)) != sizeof(head)) break;
        const std::size_t total =
            std::size_t(detail::load_be<std::int32_t>(head + batch_length_offset)) + log_overhead;
        if (total > max_batch_bytes || pos + total > size_) break;
        if (pos != position && pos - position + total > max_bytes) break;
        pos += total;
    }
    return std::size_t(pos - position);
}

std::string Segment::read(std::uint64_t position, std::size_t max_bytes) const {
    std::string out(whole_batches_bytes(position, max_bytes), '\0');
    out.resize(log_.read_at(position, out.data(), out.size()));
    return out;
}

}  // namespace kbus::log
