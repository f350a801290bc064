#include "log/batch_builder.hpp"

#include <algorithm>

#include "kbus/detail/big_endian.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/detail/varint.hpp"
#include "kbus/error.hpp"
#include "kbus/log/record_batch_descriptor.hpp"
#include "log/compression.hpp"

namespace kbus::log {
namespace {

void put_bytes(std::string& out, BytesView b) {
    detail::put_varint(out, b.wire_length());
    if (!b.is_null()) out.append(reinterpret_cast<const char*>(b.data()), b.size());
}

std::size_t bytes_size(BytesView b) noexcept {
    return detail::varlong_size(b.wire_length()) + (b.is_null() ? 0 : b.size());
}

}  // namespace

// The batch is encoded in one buffer that keeps its capacity from batch to batch: each value is
// copied once (from the ring into the batch), and no batch allocates or faults in new pages.
void BatchBuilder::clear() noexcept {
    batch_.assign(batch_header_bytes, '\0');
    count_ = 0;
    last_offset_ = -1;
    base_timestamp_ = max_timestamp_ = offset_of_max_timestamp_ = -1;
    set_producer(-1, -1, -1);
    flags_ = 0;
}

void BatchBuilder::add(std::int64_t offset, std::int64_t timestamp, BytesView key, BytesView value,
                       std::span<const HeaderView> headers) {
    if (count_ == 0) {
        base_offset_ = offset;
        base_timestamp_ = timestamp;
    } else if (offset <= last_offset_) {
        throw Error(ErrorCode::invalid_argument, "batch offsets must increase");
    }
    const std::int64_t timestamp_delta = timestamp - base_timestamp_;
    const auto offset_delta = std::int32_t(offset - base_offset_);
    // The record's length comes first, so it is computed before anything is written.
    std::size_t length = 1 + detail::varlong_size(timestamp_delta) +
                         detail::varlong_size(offset_delta) + bytes_size(key) + bytes_size(value) +
                         detail::varlong_size(std::int32_t(headers.size()));
    for (const HeaderView& h : headers)
        length += bytes_size(BytesView(h.key)) + bytes_size(h.value);
    detail::put_varint(batch_, std::int32_t(length));
    batch_.push_back(0);  // record attributes: unused
    detail::put_varlong(batch_, timestamp_delta);
    detail::put_varint(batch_, offset_delta);
    put_bytes(batch_, key);
    put_bytes(batch_, value);
    detail::put_varint(batch_, std::int32_t(headers.size()));
    for (const HeaderView& h : headers) {
        put_bytes(batch_, BytesView(h.key));
        put_bytes(batch_, h.value);
    }
    ++count_;
    last_offset_ = offset;
    if (timestamp > max_timestamp_ || offset_of_max_timestamp_ < 0) {
        max_timestamp_ = timestamp;
        offset_of_max_timestamp_ = offset;
    }
}

std::size_t BatchBuilder::encoded_bytes() const noexcept {
    return batch_.size();
}

std::string_view BatchBuilder::finish(config::Compression codec) {
    std::string* out = &batch_;
    if ((flags_ & control_flag) != 0) codec = config::Compression::none;
    if (codec != config::Compression::none) {
        compressed_.assign(batch_header_bytes, '\0');
        compress(codec, std::string_view(batch_).substr(batch_header_bytes), compressed_);
        out = &compressed_;
    }
    char* h = out->data();
    detail::store_be<std::int64_t>(h + base_offset_offset, base_offset_);
    detail::store_be<std::int32_t>(h + batch_length_offset,
                                   std::int32_t(out->size() - log_overhead));
    detail::store_be<std::int32_t>(h + partition_leader_epoch_offset, 0);
    detail::store_be<std::int8_t>(h + magic_offset, magic_v2);
    detail::store_be<std::int16_t>(h + attributes_offset,
                                   std::int16_t((static_cast<int>(codec) & compression_mask) |
                                                (flags_ & (transactional_flag | control_flag))));
    detail::store_be<std::int32_t>(h + last_offset_delta_offset,
                                   std::int32_t(last_offset_ - base_offset_));
    detail::store_be<std::int64_t>(h + base_timestamp_offset, base_timestamp_);
    detail::store_be<std::int64_t>(h + max_timestamp_offset, max_timestamp_);
    detail::store_be<std::int64_t>(h + producer_id_offset, producer_id_);
    detail::store_be<std::int16_t>(h + producer_epoch_offset, producer_epoch_);
    detail::store_be<std::int32_t>(h + base_sequence_offset, base_sequence_);
    detail::store_be<std::int32_t>(h + record_count_offset, count_);
    const std::uint32_t crc =
        detail::crc32c(out->data() + attributes_offset, out->size() - attributes_offset);
    detail::store_be<std::uint32_t>(h + crc_offset, crc);
    return *out;
}

}  // namespace kbus::log
