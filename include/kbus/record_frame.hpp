// A record's frame in the ring, written in one place and read through one view: the RecordHeader
// (ring_descriptor.hpp), the key, the value (8-aligned), then the header block (header_block.hpp).
// Producers (send, claim, send_batch), the Kafka listener's batches and the dead-claim repairer
// write frames only through these functions; consumers and the spill read them only through
// RecordFrameView. The commit word is not written here: publishing is the writer's last step
// (RingWriter::publish).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>

#include "kbus/bytes.hpp"
#include "kbus/detail/atomic_field.hpp"
#include "kbus/header_block.hpp"
#include "kbus/log/control_record.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::ring {

/// What a data record's frame holds, and where (from frame_plan()).
struct FramePlan {
    PayloadLayout layout;  ///< frame_length includes the stamp, if any (at stamp_offset)
    std::uint32_t headers_bytes = 0;
    bool stamped = false;          ///< the frame holds a RecordStamp (write_stamp)
    std::uint16_t attributes = 0;  ///< RecordHeader::attributes (a producer slot's, say)
};

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_lengths(std::size_t key_bytes,
                                                                     std::int32_t value_length) {
    if (value_length < -1)
        throw Error(ErrorCode::invalid_argument,
                    "value size " + std::to_string(value_length) + " (at least -1: a null value)");
    throw Error(ErrorCode::message_too_large, "record too large (key " + std::to_string(key_bytes) +
                                                  " bytes, value " + std::to_string(value_length) +
                                                  " bytes, or its headers over 2 GiB)");
}
/// Lays a record out; throws Error(message_too_large) for lengths a frame cannot hold and
/// Error(invalid_argument) for a negative value size other than -1 (null) or a header key over
/// 65535 bytes. `stamped`: room for a RecordStamp where the payload ends (an idempotent
/// producer's record). Inline everywhere: as a call it was a tenth of a send's instructions.
[[nodiscard, gnu::always_inline]] inline FramePlan frame_plan(BytesView key,
                                                              std::int32_t value_length,
                                                              std::span<const HeaderView> headers,
                                                              bool stamped = false) {
    const std::size_t headers_bytes = headers.empty() ? 0 : header_block_size(headers);
    if (key.size() > 0x7fffffffu || value_length < -1 || headers_bytes > 0x7fffffffu) [[unlikely]]
        throw_bad_lengths(key.size(), value_length);
    FramePlan plan{payload_layout(key.wire_length(), value_length, std::uint32_t(headers_bytes)),
                   std::uint32_t(headers_bytes), stamped,
                   stamped ? stamped_attribute : std::uint16_t(0)};
    if (stamped)
        plan.layout.frame_length =
            align_up(plan.layout.stamp_offset + record_stamp_bytes, frame_alignment);
    return plan;
}

/// A data record's frame at `frame` (claimed, frame_plan's frame_length bytes): header, key and
/// header block. The value's bytes are the caller's (write_value, or in place for a zero-copy
/// claim).
inline void write_data_frame(std::byte* frame, std::uint64_t position, const FramePlan& plan,
                             std::int64_t timestamp, BytesView key, std::int32_t value_length,
                             std::span<const HeaderView> headers) noexcept {
    if (!key.is_null() && key.size() != 0)
        std::memcpy(frame + plan.layout.key_offset, key.data(), key.size());
    write_header_block(frame + plan.layout.headers_offset, headers);
    auto* r = reinterpret_cast<RecordHeader*>(frame);
    // Atomic (relaxed): a reader lapped by this claim reads the word before any commit tells it
    // the frame is ours, to recognise the lap (ring_reader.hpp); ordering comes from the commit.
    detail::atomic_store(r->position, position, std::memory_order_relaxed);
    r->timestamp = timestamp;
    r->frame_length = static_cast<std::uint32_t>(plan.layout.frame_length);
    r->type = RecordType::data;
    r->attributes = plan.attributes;
    r->key_length = key.wire_length();
    r->value_length = value_length;
    r->headers_length = plan.headers_bytes;
    r->header_count = static_cast<std::uint32_t>(headers.size());
}

inline void write_value(std::byte* frame, const FramePlan& plan, BytesView value) noexcept {
    if (!value.is_null() && value.size() != 0)
        std::memcpy(frame + plan.layout.value_offset, value.data(), value.size());
}

/// The stamp of a frame planned with `stamped`, where its payload ends.
inline void write_stamp(std::byte* frame, const FramePlan& plan,
                        const RecordStamp& stamp) noexcept {
    std::memcpy(frame + plan.layout.stamp_offset, &stamp, sizeof stamp);
}

/// A transaction marker's frame (RecordType::control), laid out as a data record with Kafka's
/// control key and value: `attributes` name the producer whose transaction it ends (its slot's, or
/// stamped_attribute with `stamp` where its payload ends, as for its records).
[[nodiscard]] inline FramePlan control_frame_plan(std::uint16_t attributes) {
    const auto key = log::control_key(log::ControlType::commit);  // either type: same length
    FramePlan plan = frame_plan(BytesView(std::span<const std::byte>(key)),
                                std::int32_t(log::control_value_bytes), {},
                                (attributes & stamped_attribute) != 0);
    plan.attributes = attributes;
    return plan;
}

inline void write_control_frame(std::byte* frame, std::uint64_t position, const FramePlan& plan,
                                std::int64_t timestamp, log::ControlType type,
                                std::int32_t coordinator_epoch,
                                const RecordStamp* stamp = nullptr) noexcept {
    const auto key = log::control_key(type);
    const auto value = log::control_value(coordinator_epoch);
    write_data_frame(frame, position, plan, timestamp, BytesView(std::span<const std::byte>(key)),
                     std::int32_t(value.size()), {});
    write_value(frame, plan, BytesView(std::span<const std::byte>(value)));
    if (stamp != nullptr) write_stamp(frame, plan, *stamp);
    reinterpret_cast<RecordHeader*>(frame)->type = RecordType::control;
}

/// A frame that holds no record: padding to a lap's end, or an aborted record (a dead producer's
/// claim, a gap in offsets). Its commit word is the caller's to store.
inline void write_marker_frame(RecordHeader* r, std::uint64_t position, std::uint64_t length,
                               RecordType type) noexcept {
    detail::atomic_store(r->position, position, std::memory_order_relaxed);  // as above
    r->timestamp = 0;
    r->frame_length = static_cast<std::uint32_t>(length);
    r->type = type;
    r->attributes = 0;
    r->key_length = -1;
    r->value_length = -1;
    r->headers_length = 0;
    r->header_count = 0;
}

/// A committed data record's fields, read in place. The reader checked (RingReader::payload_fits)
/// that its lengths fit its frame before handing it out.
class RecordFrameView {
  public:
    explicit RecordFrameView(const RecordHeader* r) noexcept
        : r_(r),
          base_(reinterpret_cast<const std::byte*>(r)),
          layout_(payload_layout(r->key_length, r->value_length, r->headers_length)) {}

    [[nodiscard]] std::int64_t timestamp() const noexcept { return r_->timestamp; }
    [[nodiscard]] BytesView key() const noexcept {
        return r_->key_length < 0
                   ? BytesView()
                   : BytesView(base_ + layout_.key_offset, std::size_t(r_->key_length));
    }
    [[nodiscard]] BytesView value() const noexcept {
        return r_->value_length < 0
                   ? BytesView()
                   : BytesView(base_ + layout_.value_offset, std::size_t(r_->value_length));
    }
    [[nodiscard]] std::span<const std::byte> header_block() const noexcept {
        return {base_ + layout_.headers_offset, r_->headers_length};
    }
    [[nodiscard]] std::uint32_t header_count() const noexcept { return r_->header_count; }
    /// A local idempotent producer's slot (ProducerSlot), or -1.
    [[nodiscard]] int producer_slot() const noexcept {
        return (r_->attributes & slot_stamped_attribute) == 0
                   ? -1
                   : int(r_->attributes >> producer_slot_shift);
    }
    /// A transactional producer's record (transactional_attribute).
    [[nodiscard]] bool transactional() const noexcept {
        return (r_->attributes & transactional_attribute) != 0;
    }
    /// The idempotent producer's stamp, if the frame has one. Its place is where the payload
    /// ends; a frame too short to hold it there has none (a reader never trusts a flag blindly).
    [[nodiscard]] bool stamp(RecordStamp& out) const noexcept {
        if ((r_->attributes & stamped_attribute) == 0 ||
            layout_.stamp_offset + record_stamp_bytes > r_->frame_length)
            return false;
        std::memcpy(&out, base_ + layout_.stamp_offset, sizeof out);
        return true;
    }
    [[nodiscard]] HeaderIterator headers() const noexcept {
        return HeaderIterator(base_ + layout_.headers_offset, r_->headers_length, r_->header_count);
    }

  private:
    const RecordHeader* r_;
    const std::byte* base_;
    PayloadLayout layout_;
};

}  // namespace kbus::ring
