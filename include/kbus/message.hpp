// Records as a consumer sees them: Message is a read-only view, valid until the consumer's next
// poll (or until consumer.hold.timeout.ms has passed, whichever comes first). It points into a
// partition ring in shared memory, or, for a consumer reading behind the ring, into the log
// segment bytes the consumer holds. OwnedMessage (Message::copy()) keeps a record beyond that.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kbus/bytes.hpp"
#include "kbus/header_block.hpp"
#include "kbus/log/record_batch.hpp"
#include "kbus/record_frame.hpp"

namespace kbus {

struct OwnedMessage {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::int64_t timestamp = 0;
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<Header> headers;
};

/// Iterates a message's headers, whichever encoding they are stored in: the ring's fixed-width
/// header block or Kafka's varint record headers (a record read from a log segment).
class MessageHeaderIterator {
  public:
    explicit MessageHeaderIterator(HeaderIterator ring) noexcept : ring_(ring), from_ring_(true) {}
    explicit MessageHeaderIterator(log::RecordHeaderIterator kafka) noexcept
        : kafka_(kafka), from_ring_(false) {}
    [[nodiscard]] bool done() const noexcept { return from_ring_ ? ring_.done() : kafka_.done(); }
    [[nodiscard]] bool malformed() const noexcept {
        return from_ring_ ? ring_.malformed() : kafka_.malformed();
    }
    [[nodiscard]] const HeaderView& operator*() const noexcept {
        return from_ring_ ? *ring_ : *kafka_;
    }
    [[nodiscard]] const HeaderView* operator->() const noexcept { return &**this; }
    MessageHeaderIterator& operator++() noexcept {
        if (from_ring_)
            ++ring_;
        else
            ++kafka_;
        return *this;
    }

  private:
    HeaderIterator ring_;
    log::RecordHeaderIterator kafka_;
    bool from_ring_;
};

class Message {
  public:
    Message() = default;
    /// A committed ring record (the reader checked that its lengths fit its frame).
    Message(const ring::RecordHeader* record, const std::string* topic, std::int32_t partition,
            std::int64_t offset) noexcept
        : Message(ring::RecordFrameView(record), topic, partition, offset) {}
    Message(const ring::RecordFrameView& frame, const std::string* topic, std::int32_t partition,
            std::int64_t offset) noexcept
        : topic_(topic),
          partition_(partition),
          offset_(offset),
          timestamp_(frame.timestamp()),
          key_(frame.key()),
          value_(frame.value()),
          headers_(frame.header_block()),
          header_count_(std::int32_t(frame.header_count())),
          from_ring_(true) {}
    /// A record decoded from a RecordBatch (a log segment).
    Message(const log::RecordView& record, const std::string* topic,
            std::int32_t partition) noexcept
        : topic_(topic),
          partition_(partition),
          offset_(record.offset),
          timestamp_(record.timestamp),
          key_(record.key),
          value_(record.value),
          headers_(record.headers),
          header_count_(record.header_count),
          from_ring_(false) {}

    [[nodiscard]] const std::string& topic() const noexcept { return *topic_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    [[nodiscard]] std::int64_t offset() const noexcept { return offset_; }
    [[nodiscard]] std::int64_t timestamp() const noexcept { return timestamp_; }
    [[nodiscard]] BytesView key() const noexcept { return key_; }
    [[nodiscard]] BytesView value() const noexcept { return value_; }
    [[nodiscard]] std::uint32_t header_count() const noexcept {
        return std::uint32_t(header_count_);
    }
    /// The bytes the record's headers take, encoded (in the ring's header block, or the log's).
    [[nodiscard]] std::size_t header_bytes() const noexcept { return headers_.size(); }
    [[nodiscard]] MessageHeaderIterator headers() const noexcept {
        if (from_ring_)
            return MessageHeaderIterator(
                HeaderIterator(headers_.data(), headers_.size(), std::uint32_t(header_count_)));
        return MessageHeaderIterator(log::RecordHeaderIterator(headers_, header_count_));
    }
    /// The first header with this key, if any.
    [[nodiscard]] std::optional<BytesView> header(std::string_view key) const noexcept {
        for (MessageHeaderIterator it = headers(); !it.done(); ++it)
            if (it->key == key) return it->value;
        return std::nullopt;
    }
    /// True when the record came from the ring (false: read from a log segment behind it).
    [[nodiscard]] bool from_ring() const noexcept { return from_ring_; }

    [[nodiscard]] OwnedMessage copy() const {
        OwnedMessage m{*topic_,
                       partition_,
                       offset_,
                       timestamp_,
                       key().to_optional_string(),
                       value().to_optional_string(),
                       {}};
        for (MessageHeaderIterator it = headers(); !it.done(); ++it)
            m.headers.push_back({std::string(it->key), it->value.to_optional_string()});
        return m;
    }

  private:
    const std::string* topic_ = nullptr;
    std::int32_t partition_ = 0;
    std::int64_t offset_ = 0;
    std::int64_t timestamp_ = 0;
    BytesView key_;
    BytesView value_;
    std::span<const std::byte> headers_;
    std::int32_t header_count_ = 0;
    bool from_ring_ = true;
};

}  // namespace kbus
