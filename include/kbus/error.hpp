// kbus reports failures with exceptions of one type, kbus::Error, carrying a code.
// Non-blocking `try_` calls report "would block" through their return value, never by throwing:
// a full ring or an empty partition is not a failure.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kbus {

enum class ErrorCode : std::uint16_t {
    ok = 0,
    unknown = 1,
    invalid_argument = 2,  // bad name, bad config value, bad size
    unknown_topic = 3,     // topic does not exist
    topic_exists = 4,      // create of an existing topic
    partition_out_of_range = 5,
    message_too_large = 6,    // record over max.message.bytes
    offset_out_of_range = 7,  // offset not (or no longer) available
    not_connected = 8,        // no daemon, or the daemon went away
    protocol_error = 9,       // malformed control message
    timed_out = 10,
    topic_deleted = 11,      // the topic was deleted under a live client
    batch_invalidated = 12,  // a held batch outlived consumer.hold.timeout.ms
    already_running = 13,    // a second daemon for one bus
    io_error = 14,
    resource_exhausted = 15,  // no free reader slot, shared memory full, limits
    unsupported = 16,
};

inline const char* to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::ok:
            return "ok";
        case ErrorCode::unknown:
            return "unknown error";
        case ErrorCode::invalid_argument:
            return "invalid argument";
        case ErrorCode::unknown_topic:
            return "unknown topic";
        case ErrorCode::topic_exists:
            return "topic already exists";
        case ErrorCode::partition_out_of_range:
            return "partition out of range";
        case ErrorCode::message_too_large:
            return "message too large";
        case ErrorCode::offset_out_of_range:
            return "offset out of range";
        case ErrorCode::not_connected:
            return "not connected";
        case ErrorCode::protocol_error:
            return "protocol error";
        case ErrorCode::timed_out:
            return "timed out";
        case ErrorCode::topic_deleted:
            return "topic deleted";
        case ErrorCode::batch_invalidated:
            return "batch invalidated";
        case ErrorCode::already_running:
            return "already running";
        case ErrorCode::io_error:
            return "I/O error";
        case ErrorCode::resource_exhausted:
            return "resource exhausted";
        case ErrorCode::unsupported:
            return "unsupported";
    }
    return "unknown error";
}

class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

// Thrown by Consumer::poll when the consumer cannot continue at its position: its held batch
// was invalidated (it held it longer than consumer.hold.timeout.ms) or the offset left the ring.
// resume_offset() is where it can continue from (seek there, or to the beginning).
class OffsetOutOfRange : public Error {
  public:
    OffsetOutOfRange(ErrorCode code, const std::string& message, std::string topic,
                     std::int32_t partition, std::int64_t resume_offset)
        : Error(code, message),
          topic_(std::move(topic)),
          partition_(partition),
          resume_offset_(resume_offset) {}
    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    [[nodiscard]] std::int64_t resume_offset() const noexcept { return resume_offset_; }

  private:
    std::string topic_;
    std::int32_t partition_;
    std::int64_t resume_offset_;
};

}  // namespace kbus
