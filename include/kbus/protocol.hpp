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
#include <vector>

#include "kbus/error.hpp"

namespace kbus::protocol {

inline constexpr std::uint32_t protocol_version = 1;
inline constexpr std::uint32_t max_frame_payload = 1 << 20;  // requests
// Replies may carry a fetch: at least one whole batch, which holds a record of up to ring/2 bytes.
inline constexpr std::uint32_t max_reply_payload = 0x7fffffff;
inline constexpr std::uint32_t max_fetch_bytes = 1 << 20;
// An extent the client reads from the file itself may be larger: fewer round trips.
inline constexpr std::uint32_t max_fetch_file_bytes = 4 << 20;
inline constexpr std::uint16_t reply_flag = 0x8000;

struct FrameHeader {
    std::uint32_t payload_length;
    std::uint16_t type;  // RequestType, | reply_flag in replies
    std::uint16_t version;
    std::uint32_t request_id;
    std::uint32_t reserved;
};
static_assert(sizeof(FrameHeader) == 16);
inline constexpr std::size_t frame_header_bytes = sizeof(FrameHeader);

// The first frame of a byte stream: whole, not yet whole, or one whose length cannot be
// trusted (beyond `max_payload`: the stream's framing is lost, close it).
struct SplitFrame {
    enum class Status { incomplete, frame, oversized } status = Status::incomplete;
    FrameHeader header{};
    std::string_view payload{};
    std::size_t frame_bytes = 0;  // header + payload
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

enum class RequestType : std::uint16_t {
    hello = 1,           // u32 protocol version, u64 pid, string client name
    create_topic = 2,    // string name, i32 partitions, u32 n, n x (string key, string value)
    delete_topic = 3,    // string name
    list_topics = 4,     // -> u32 n, n x string
    describe_topic = 5,  // string name -> TopicMetadata, then per partition PartitionState
    topic_metadata = 6,  // string name -> TopicMetadata
    attach_reader = 7,   // u64 topic id, i32 partition, u8 OffsetSpecKind, i64 offset, i32 slot
                         // -> ReaderAttachment
    release_reader = 8,  // u64 topic id, i32 partition, u32 slot
    alter_topic = 9,     // string name, u32 n, n x (string key, string value)
    fetch = 10,          // u64 topic id, i32 partition, i64 offset, u32 max bytes, u8 as extent
                         // -> FetchReply
    // Consumer groups: Kafka's classic protocol, each call answered at once ("pending" while
    // the group waits for others), so clients drive it from poll(). See group_protocol.hpp.
    join_group = 11,      // JoinGroupRequest -> JoinGroupReply
    sync_group = 12,      // SyncGroupRequest -> u8 pending, string assignment
    heartbeat = 13,       // string group, i32 generation, string member
    leave_group = 14,     // string group, string member
    commit_offsets = 15,  // string group, i32 generation, string member, u32 n, n x
                          // (string topic, i32 partition, i64 offset)
    fetch_offsets = 16,   // string group, string topic -> u32 n, n x (i32 partition, i64 offset)
    list_groups = 17,     // -> u32 n, n x (string group, string state, u32 members)
    describe_group = 18,  // string group -> GroupDescription
    delete_group = 19,    // string group
    reset_offsets = 20,   // string group, string topic, u8 OffsetSpecKind, i64 value
                          // -> u32 n, n x (i32 partition, i64 offset)
    stats = 21,           // -> stats::BusStats (bus_stats.hpp)
};

// Where a consumer starts: the log start, the high watermark, an offset, or the first offset
// whose timestamp is at least the given one (ms since the epoch; Kafka's ListOffsets by time).
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

// Reads fields from a payload; throws Error(protocol_error) on anything truncated or oversized.
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
    // A count of items that each take at least `min_item_bytes`: refuses counts the payload
    // cannot hold, so a hostile count never drives a huge allocation.
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

// Topic facts a client needs to produce and consume.
struct TopicMetadata {
    std::string name;
    std::uint64_t topic_id = 0;
    std::int32_t partitions = 0;
    std::uint64_t ring_bytes = 0;
    std::uint32_t max_message_bytes = 0;
    std::uint32_t timestamp_type = 0;  // ring::TimestampType
    std::uint32_t hold_timeout_ms = 0;
    std::string ring_shm_prefix;  // partition p's ring is ring_shm_prefix + "." + p
    std::vector<std::pair<std::string, std::string>> config;

    void write(Writer& w) const {
        w.str(name);
        w.u64(topic_id);
        w.i32(partitions);
        w.u64(ring_bytes);
        w.u32(max_message_bytes);
        w.u32(timestamp_type);
        w.u32(hold_timeout_ms);
        w.str(ring_shm_prefix);
        w.u32(static_cast<std::uint32_t>(config.size()));
        for (const auto& [k, v] : config) {
            w.str(k);
            w.str(v);
        }
    }
    static TopicMetadata read(Reader& r) {
        TopicMetadata m;
        m.name = r.str();
        m.topic_id = r.u64();
        m.partitions = r.i32();
        m.ring_bytes = r.u64();
        m.max_message_bytes = r.u32();
        m.timestamp_type = r.u32();
        m.hold_timeout_ms = r.u32();
        m.ring_shm_prefix = r.str();
        const std::uint32_t n = r.count(8);
        for (std::uint32_t i = 0; i < n; ++i) {
            std::string k = r.str();
            m.config.emplace_back(std::move(k), r.str());
        }
        return m;
    }
};

struct PartitionState {
    std::int32_t partition = 0;
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;
    std::uint64_t ring_bytes = 0;
    std::uint64_t ring_fill_bytes = 0;  // bytes between the producers' gate and the tail
    std::int64_t spill_offset = 0;      // next offset the daemon will take
    std::uint32_t attached_readers = 0;

    void write(Writer& w) const {
        w.i32(partition);
        w.i64(log_start_offset);
        w.i64(high_watermark);
        w.u64(ring_bytes);
        w.u64(ring_fill_bytes);
        w.i64(spill_offset);
        w.u32(attached_readers);
    }
    static PartitionState read(Reader& r) {
        PartitionState s;
        s.partition = r.i32();
        s.log_start_offset = r.i64();
        s.high_watermark = r.i64();
        s.ring_bytes = r.u64();
        s.ring_fill_bytes = r.u64();
        s.spill_offset = r.i64();
        s.attached_readers = r.u32();
        return s;
    }
};

// Where a consumer reads next. In the ring (tethered through `slot`, starting at `position`),
// or, when `on_disk`, behind the ring: it reads the log through fetch from `offset` on.
struct ReaderAttachment {
    std::uint32_t slot = 0;
    std::uint64_t position = 0;
    std::int64_t offset = 0;
    bool on_disk = false;

    void write(Writer& w) const {
        w.u32(slot);
        w.u64(position);
        w.i64(offset);
        w.u8(on_disk ? 1 : 0);
    }
    static ReaderAttachment read(Reader& r) {
        ReaderAttachment a;
        a.slot = r.u32();
        a.position = r.u64();
        a.offset = r.i64();
        a.on_disk = r.u8() != 0;
        return a;
    }
};

// Records behind the ring: whole RecordBatch v2 batches from the log, starting with the one that
// holds the requested offset, their records uncompressed (the daemon decompresses).
// Batches from the log come one of two ways: as bytes in the reply (decompressed by the daemon),
// or, for a client that asked for it, as an extent of a segment file that the client reads
// itself (stored batches, possibly compressed): one copy out of the page cache, none through
// the socket.
struct FetchReply {
    std::int64_t log_start_offset = 0;
    std::int64_t log_end_offset = 0;     // next offset the log will hold
    std::int64_t ring_start_offset = 0;  // offsets from here on can be read from the ring
    std::string batches;
    std::string file_path;  // non-empty: the batches are file_length bytes at file_position
    std::uint64_t file_position = 0;
    std::uint64_t file_length = 0;

    void write(Writer& w) const {
        w.i64(log_start_offset);
        w.i64(log_end_offset);
        w.i64(ring_start_offset);
        w.str(batches);
        w.str(file_path);
        w.u64(file_position);
        w.u64(file_length);
    }
    static FetchReply read(Reader& r) {
        FetchReply f;
        f.log_start_offset = r.i64();
        f.log_end_offset = r.i64();
        f.ring_start_offset = r.i64();
        f.batches = r.str();
        f.file_path = r.str();
        f.file_position = r.u64();
        f.file_length = r.u64();
        return f;
    }
};

}  // namespace kbus::protocol
