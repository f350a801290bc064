// Records as a consumer sees them: Message is a read-only view into shared memory, valid until
// the consumer's next poll (or until consumer.hold.timeout.ms has passed, whichever comes first).
// OwnedMessage (Message::copy()) keeps a record beyond that.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kbus/bytes.hpp"
#include "kbus/header_block.hpp"
#include "kbus/ring_descriptor.hpp"

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

class Message {
  public:
    Message() = default;
    Message(const ring::RecordHeader* record, const std::string* topic, std::int32_t partition,
            std::int64_t offset) noexcept
        : record_(record), topic_(topic), partition_(partition), offset_(offset) {}

    [[nodiscard]] const std::string& topic() const noexcept { return *topic_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    [[nodiscard]] std::int64_t offset() const noexcept { return offset_; }
    [[nodiscard]] std::int64_t timestamp() const noexcept { return record_->timestamp; }

    [[nodiscard]] BytesView key() const noexcept {
        if (record_->key_length < 0) return {};
        return BytesView(base() + ring::record_header_bytes, std::size_t(record_->key_length));
    }
    [[nodiscard]] BytesView value() const noexcept {
        if (record_->value_length < 0) return {};
        return BytesView(base() + layout().value_offset, std::size_t(record_->value_length));
    }
    [[nodiscard]] std::uint32_t header_count() const noexcept { return record_->header_count; }
    [[nodiscard]] HeaderIterator headers() const noexcept {
        return HeaderIterator(base() + layout().headers_offset, record_->headers_length,
                              record_->header_count);
    }
    // The first header with this key, if any.
    [[nodiscard]] std::optional<BytesView> header(std::string_view key) const noexcept {
        for (HeaderIterator it = headers(); !it.done(); ++it)
            if (it->key == key) return it->value;
        return std::nullopt;
    }

    [[nodiscard]] OwnedMessage copy() const {
        OwnedMessage m{*topic_,
                       partition_,
                       offset_,
                       timestamp(),
                       key().to_optional_string(),
                       value().to_optional_string(),
                       {}};
        for (HeaderIterator it = headers(); !it.done(); ++it)
            m.headers.push_back({std::string(it->key), it->value.to_optional_string()});
        return m;
    }

  private:
    [[nodiscard]] const std::byte* base() const noexcept {
        return reinterpret_cast<const std::byte*>(record_);
    }
    [[nodiscard]] ring::PayloadLayout layout() const noexcept {
        return ring::payload_layout(record_->key_length, record_->value_length,
                                    record_->headers_length);
    }

    const ring::RecordHeader* record_ = nullptr;
    const std::string* topic_ = nullptr;
    std::int32_t partition_ = 0;
    std::int64_t offset_ = 0;
};

}  // namespace kbus
