// The control protocol on <run dir>/kbus.sock: length-prefixed binary frames, one request and
// one reply at a time per connection. The data plane never goes through here.
//
//   frame = FrameHeader (16 bytes) + payload (payload_length bytes, at most max_frame_payload)
//   reply payload = u16 error code, string message, then the reply's fields (if code is ok)
//
// Fields are little-endian; strings are u32 length + bytes. Readers check every length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "kbus/error.hpp"

namespace kbus::protocol {

inline constexpr std::uint32_t protocol_version = 3;         ///< 3: FetchReply::file_inode
inline constexpr std::uint32_t max_frame_payload = 1 << 20;  ///< requests
/// Replies may carry a fetch: at least one whole batch, which holds a record of up to ring/2 bytes.
inline constexpr std::uint32_t max_reply_payload = 0x7fffffff;
inline constexpr std::uint32_t max_fetch_bytes = 1 << 20;
/// An extent the client reads from the file itself may be larger: fewer round trips.
inline constexpr std::uint32_t max_fetch_file_bytes = 4 << 20;
inline constexpr std::uint16_t reply_flag = 0x8000;

struct FrameHeader {
    std::uint32_t payload_length;
    std::uint16_t type;  ///< RequestType, | reply_flag in replies
    std::uint16_t version;
    std::uint32_t request_id;
    std::uint32_t reserved;
};
static_assert(sizeof(FrameHeader) == 16);
inline constexpr std::size_t frame_header_bytes = sizeof(FrameHeader);

/// The first frame of a byte stream: whole, not yet whole, or one whose length cannot be
/// trusted (beyond `max_payload`: the stream's framing is lost, close it).
struct SplitFrame {
    enum class Status { incomplete, frame, oversized } status = Status::incomplete;
    FrameHeader header{};
    std::string_view payload{};
    std::size_t frame_bytes = 0;  ///< header + payload
};
[[nodiscard]] inline SplitFrame split_frame(std::string_view stream, std::uint32_t max_payload) {
    SplitFrame f;
    if (stream.size() < frame_header_bytes) return f;
    std::memcpy(&f.header, stream.data(), frame_header_bytes);
    if (f.header.payload_length > max_payload) {
        f.status = SplitFrame::Status::oversized;
        return f;
    }
    if (stream.size() - frame_header_bytes < f.header.payload_length) return f;
    f.status = SplitFrame::Status::frame;
    f.payload = stream.substr(frame_header_bytes, f.header.payload_length);
    f.frame_bytes = frame_header_bytes + f.header.payload_length;
    return f;
}

/// Every request's fields, and its reply's, are a message struct of its own: control_messages.hpp
/// (topics, readers, fetch, stats) and group_messages.hpp (consumer groups). Group requests are
/// Kafka's classic protocol, each answered at once ("pending" while the group waits for others),
/// so clients drive it from poll().
enum class RequestType : std::uint16_t {
    hello = 1,
    create_topic = 2,
    delete_topic = 3,
    list_topics = 4,
    describe_topic = 5,
    topic_metadata = 6,
    attach_reader = 7,
    release_reader = 8,
    alter_topic = 9,
    fetch = 10,
    join_group = 11,
    sync_group = 12,
    heartbeat = 13,
    leave_group = 14,
    commit_offsets = 15,
    fetch_offsets = 16,
    list_groups = 17,
    describe_group = 18,
    delete_group = 19,
    reset_offsets = 20,
    stats = 21,
    report_corrupt_batch = 22,
    create_partitions = 23,
    delete_records = 24,
    reserve_ring = 25,
    init_producer_id = 26,
    register_producer = 27,
    release_producer = 28,
    add_partition_to_txn = 29,
    end_txn = 30,
    txn_offset_commit = 31,
    /// One past the last: the first number not (yet) a request.
    end_of_types = 32,
};

/// Where a consumer starts: the log start, the high watermark, an offset, or the first offset
/// whose timestamp is at least the given one (ms since the epoch; Kafka's ListOffsets by time).
enum class OffsetSpecKind : std::uint8_t { beginning = 0, end = 1, offset = 2, timestamp = 3 };

class Writer {
  public:
    void u8(std::uint8_t v) { raw(&v, 1); }
    void u16(std::uint16_t v) { raw(&v, 2); }
    void u32(std::uint32_t v) { raw(&v, 4); }
    void i32(std::int32_t v) { raw(&v, 4); }
    void u64(std::uint64_t v) { raw(&v, 8); }
    void i64(std::int64_t v) { raw(&v, 8); }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        raw(s.data(), s.size());
    }
    void raw(const void* p, std::size_t n) {
        const auto* b = static_cast<const char*>(p);
        buf_.insert(buf_.end(), b, b + n);
    }
    [[nodiscard]] const std::string& bytes() const noexcept { return buf_; }
    [[nodiscard]] std::string take() noexcept { return std::move(buf_); }

  private:
    std::string buf_;
};

/// Reads fields from a payload; throws Error(protocol_error) on anything truncated or oversized.
class Reader {
  public:
    Reader(const char* data, std::size_t size) noexcept : p_(data), end_(data + size) {}
    explicit Reader(std::string_view s) noexcept : Reader(s.data(), s.size()) {}

    std::uint8_t u8() { return fixed<std::uint8_t>(); }
    std::uint16_t u16() { return fixed<std::uint16_t>(); }
    std::uint32_t u32() { return fixed<std::uint32_t>(); }
    std::int32_t i32() { return fixed<std::int32_t>(); }
    std::uint64_t u64() { return fixed<std::uint64_t>(); }
    std::int64_t i64() { return fixed<std::int64_t>(); }
    std::string str() {
        const std::uint32_t n = u32();
        need(n);
        std::string s(p_, n);
        p_ += n;
        return s;
    }
    /// A count of items that each take at least `min_item_bytes`: refuses counts the payload
    /// cannot hold, so a hostile count never drives a huge allocation.
    std::uint32_t count(std::size_t min_item_bytes) {
        const std::uint32_t n = u32();
        if (min_item_bytes != 0 && n > remaining() / min_item_bytes)
            throw Error(ErrorCode::protocol_error, "malformed control message: count too large");
        return n;
    }
    [[nodiscard]] std::size_t remaining() const noexcept { return std::size_t(end_ - p_); }
    void expect_end() const {
        if (p_ != end_)
            throw Error(ErrorCode::protocol_error, "malformed control message: trailing bytes");
    }

  private:
    template <class T>
    T fixed() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, p_, sizeof(T));
        p_ += sizeof(T);
        return v;
    }
    void need(std::size_t n) const {
        if (remaining() < n)
            throw Error(ErrorCode::protocol_error, "malformed control message: truncated");
    }
    const char* p_;
    const char* end_;
};

}  // namespace kbus::protocol
