// Reading RecordBatch v2 bytes (see record_batch_descriptor.hpp): a checked view of one batch's
// header, and an iterator over the records of an uncompressed batch that hands out views into
// the batch (no copy). Every length is checked against the batch's bounds before it is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kbus/bytes.hpp"
#include "kbus/detail/big_endian.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/detail/varint.hpp"
#include "kbus/log/record_batch_descriptor.hpp"

namespace kbus::log {

/// An idempotent producer's sequence `n` records after `sequence`. Sequences wrap from INT32_MAX
/// to 0, as Kafka's do (DefaultRecordBatch.incrementSequence): the one rule every reader and
/// writer of producer fields uses.
[[nodiscard]] constexpr std::int32_t sequence_after(std::int32_t sequence,
                                                    std::int64_t n) noexcept {
    constexpr std::int64_t space = std::int64_t(INT32_MAX) + 1;
    return std::int32_t(((std::int64_t(sequence) + n) % space + space) % space);
}
static_assert(sequence_after(INT32_MAX, 1) == 0 && sequence_after(5, 2) == 7);

enum class BatchCheck {
    ok,
    truncated,    ///< fewer bytes than the header or batchLength says
    bad_length,   ///< batchLength too small for a header, or over the limit
    bad_magic,    ///< not magic 2
    bad_crc,      ///< CRC-32C mismatch
    bad_records,  ///< record count or offset delta out of range
};

[[nodiscard]] inline const char* to_string(BatchCheck c) noexcept {
    switch (c) {
        case BatchCheck::ok:
            return "ok";
        case BatchCheck::truncated:
            return "truncated batch";
        case BatchCheck::bad_length:
            return "bad batch length";
        case BatchCheck::bad_magic:
            return "unsupported magic";
        case BatchCheck::bad_crc:
            return "CRC mismatch";
        case BatchCheck::bad_records:
            return "bad record count";
    }
    return "?";
}

class BatchView {
  public:
    BatchView() = default;
    /// `bytes` starts at a batch; it may hold more after it.
    explicit BatchView(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

    /// Checks framing (and the CRC when verify_crc) before any other accessor may be trusted.
    [[nodiscard]] BatchCheck check(bool verify_crc,
                                   std::size_t max_batch_bytes = 1u << 30) const noexcept {
        if (bytes_.size() < log_overhead) return BatchCheck::truncated;
        const std::int32_t length = get<std::int32_t>(batch_length_offset);
        if (length < std::int32_t(batch_header_bytes - log_overhead) ||
            std::size_t(length) + log_overhead > max_batch_bytes)
            return BatchCheck::bad_length;
        if (bytes_.size() < total_bytes()) return BatchCheck::truncated;
        if (get<std::int8_t>(magic_offset) != magic_v2) return BatchCheck::bad_magic;
        if (verify_crc && crc() != computed_crc()) return BatchCheck::bad_crc;
        if (!counts_in_range()) return BatchCheck::bad_records;
        return BatchCheck::ok;
    }

    /// A record count and offset deltas that can hold together, and offsets in range. Needs only
    /// the header: whoever walks headers without check() (segment reads) asks this alone.
    [[nodiscard]] bool counts_in_range() const noexcept {
        return record_count() >= 0 && last_offset_delta() >= 0 &&
               (record_count() == 0 || last_offset_delta() >= record_count() - 1) &&
               offsets_in_range();
    }

    /// Offsets are never negative, and the last one must be representable (a garbage base
    /// offset near the top would overflow last_offset()). Needs only the header.
    [[nodiscard]] bool offsets_in_range() const noexcept {
        return base_offset() >= 0 && last_offset_delta() >= 0 &&
               base_offset() <= INT64_MAX - last_offset_delta();
    }
    [[nodiscard]] std::size_t total_bytes() const noexcept {
        return std::size_t(get<std::int32_t>(batch_length_offset)) + log_overhead;
    }
    [[nodiscard]] std::int64_t base_offset() const noexcept {
        return get<std::int64_t>(base_offset_offset);
    }
    [[nodiscard]] std::int32_t last_offset_delta() const noexcept {
        return get<std::int32_t>(last_offset_delta_offset);
    }
    [[nodiscard]] std::int64_t last_offset() const noexcept {
        return base_offset() + last_offset_delta();
    }
    [[nodiscard]] std::int16_t attributes() const noexcept {
        return get<std::int16_t>(attributes_offset);
    }
    [[nodiscard]] int compression_codec() const noexcept { return attributes() & compression_mask; }
    [[nodiscard]] bool log_append_time() const noexcept {
        return (attributes() & timestamp_type_log_append) != 0;
    }
    [[nodiscard]] bool is_control() const noexcept { return (attributes() & control_flag) != 0; }
    [[nodiscard]] bool is_transactional() const noexcept {
        return (attributes() & transactional_flag) != 0;
    }
    [[nodiscard]] std::int64_t base_timestamp() const noexcept {
        return get<std::int64_t>(base_timestamp_offset);
    }
    /// An idempotent producer's id, epoch and first sequence number (-1: none).
    [[nodiscard]] std::int64_t producer_id() const noexcept {
        return get<std::int64_t>(producer_id_offset);
    }
    [[nodiscard]] std::int16_t producer_epoch() const noexcept {
        return get<std::int16_t>(producer_epoch_offset);
    }
    [[nodiscard]] std::int32_t base_sequence() const noexcept {
        return get<std::int32_t>(base_sequence_offset);
    }
    [[nodiscard]] std::int64_t max_timestamp() const noexcept {
        return get<std::int64_t>(max_timestamp_offset);
    }
    [[nodiscard]] std::int32_t record_count() const noexcept {
        return get<std::int32_t>(record_count_offset);
    }
    [[nodiscard]] std::uint32_t crc() const noexcept { return get<std::uint32_t>(crc_offset); }
    [[nodiscard]] std::uint32_t computed_crc() const noexcept {
        return detail::crc32c(bytes_.data() + attributes_offset, total_bytes() - attributes_offset);
    }
    /// The records section: raw records, or one compressed blob when compression_codec() != 0.
    [[nodiscard]] std::span<const std::byte> records_bytes() const noexcept {
        return bytes_.subspan(records_offset, total_bytes() - records_offset);
    }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
        return bytes_.first(total_bytes());
    }

  private:
    template <typename T>
    [[nodiscard]] T get(std::size_t at) const noexcept {
        return detail::load_be<T>(bytes_.data() + at);
    }
    std::span<const std::byte> bytes_;
};

/// One record of a batch, as views into the (decompressed) records bytes.
struct RecordView {
    std::int64_t offset = 0;
    std::int64_t timestamp = 0;
    BytesView key;
    BytesView value;
    std::int32_t header_count = 0;
    std::span<const std::byte> headers;  ///< the encoded headers; iterate with RecordHeaderIterator
};

/// Iterates Kafka-encoded record headers (varint lengths), checked against their bounds.
class RecordHeaderIterator {
  public:
    RecordHeaderIterator() = default;
    RecordHeaderIterator(std::span<const std::byte> headers, std::int32_t count) noexcept
        : p_(headers.data()), end_(headers.data() + headers.size()), remaining_(count) {
        advance();
    }
    [[nodiscard]] bool done() const noexcept { return done_; }
    [[nodiscard]] bool malformed() const noexcept { return malformed_; }
    [[nodiscard]] const HeaderView& operator*() const noexcept { return current_; }
    [[nodiscard]] const HeaderView* operator->() const noexcept { return &current_; }
    RecordHeaderIterator& operator++() noexcept {
        advance();
        return *this;
    }

  private:
    void advance() noexcept {
        if (remaining_-- <= 0) {
            done_ = true;
            return;
        }
        std::int32_t key_length = 0, value_length = 0;
        if (!detail::get_varint(p_, end_, key_length) || key_length < 0 || end_ - p_ < key_length)
            return fail();
        current_.key = {reinterpret_cast<const char*>(p_), std::size_t(key_length)};
        p_ += key_length;
        if (!detail::get_varint(p_, end_, value_length) || value_length < -1 ||
            end_ - p_ < value_length)
            return fail();
        current_.value = value_length < 0 ? BytesView() : BytesView(p_, std::size_t(value_length));
        if (value_length > 0) p_ += value_length;
    }
    void fail() noexcept { malformed_ = done_ = true; }
    const std::byte* p_ = nullptr;
    const std::byte* end_ = nullptr;
    std::int32_t remaining_ = 0;
    HeaderView current_{};
    bool done_ = false;
    bool malformed_ = false;
};

/// Walks the records of an uncompressed records section. next() returns false at the end or on a
/// malformed record (then malformed() is true): never reads outside `records`.
class RecordIterator {
  public:
    RecordIterator(std::span<const std::byte> records, std::int32_t count, std::int64_t base_offset,
                   std::int64_t base_timestamp, std::int64_t log_append_timestamp = -1) noexcept
        : p_(records.data()),
          end_(records.data() + records.size()),
          remaining_(count),
          base_offset_(base_offset),
          base_timestamp_(base_timestamp),
          log_append_timestamp_(log_append_timestamp) {}

    [[nodiscard]] bool next(RecordView& out) noexcept {
        if (remaining_ <= 0) return false;
        --remaining_;
        std::int32_t length = 0;
        if (!detail::get_varint(p_, end_, length) || length < 0 || end_ - p_ < length)
            return fail();
        const std::byte* record_end = p_ + length;
        const std::byte* p = p_;
        p_ = record_end;
        if (p == record_end) return fail();
        ++p;  // attributes (unused)
        std::int64_t ts_delta = 0;
        std::int32_t offset_delta = 0, key_length = 0, value_length = 0;
        if (!detail::get_varlong(p, record_end, ts_delta) ||
            !detail::get_varint(p, record_end, offset_delta) || offset_delta < 0 ||
            !detail::get_varint(p, record_end, key_length) || key_length < -1 ||
            record_end - p < key_length)
            return fail();
        out.key = key_length < 0 ? BytesView() : BytesView(p, std::size_t(key_length));
        if (key_length > 0) p += key_length;
        if (!detail::get_varint(p, record_end, value_length) || value_length < -1 ||
            record_end - p < value_length)
            return fail();
        out.value = value_length < 0 ? BytesView() : BytesView(p, std::size_t(value_length));
        if (value_length > 0) p += value_length;
        if (!detail::get_varint(p, record_end, out.header_count) || out.header_count < 0)
            return fail();
        out.headers = {p, std::size_t(record_end - p)};
        out.offset = base_offset_ + offset_delta;
        out.timestamp =
            log_append_timestamp_ >= 0 ? log_append_timestamp_ : base_timestamp_ + ts_delta;
        return true;
    }
    [[nodiscard]] bool malformed() const noexcept { return malformed_; }

  private:
    bool fail() noexcept {
        malformed_ = true;
        remaining_ = 0;
        return false;
    }
    const std::byte* p_;
    const std::byte* end_;
    std::int32_t remaining_;
    std::int64_t base_offset_;
    std::int64_t base_timestamp_;
    std::int64_t log_append_timestamp_;
    bool malformed_ = false;
};

}  // namespace kbus::log
