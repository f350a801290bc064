// kbus reports failures with exceptions of one type, kbus::Error, carrying a code.
// Non-blocking `try_` calls report "would block" through their return value, never by throwing:
// a full ring or an empty partition is not a failure.
#pragma once

#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>

namespace kbus {

enum class ErrorCode : std::uint16_t {
    ok = 0,
    unknown = 1,
    invalid_argument = 2,  ///< bad name, bad config value, bad size
    unknown_topic = 3,     ///< topic does not exist
    topic_exists = 4,      ///< create of an existing topic
    partition_out_of_range = 5,
    message_too_large = 6,    ///< record over max.message.bytes
    offset_out_of_range = 7,  ///< offset not (or no longer) available
    not_connected = 8,        ///< no daemon, or the daemon went away
    protocol_error = 9,       ///< malformed control message
    timed_out = 10,
    topic_deleted = 11,      ///< the topic was deleted under a live client
    batch_invalidated = 12,  ///< a held batch outlived consumer.hold.timeout.ms
    already_running = 13,    ///< a second daemon for one bus
    io_error = 14,
    resource_exhausted = 15,  ///< no free reader slot, shared memory full, limits
    unsupported = 16,
    /// Consumer groups (Kafka's meanings):
    invalid_group = 17,           ///< a bad group name, or an unknown group in describe/reset
    unknown_member = 18,          ///< UNKNOWN_MEMBER_ID: the member was removed (left, expired)
    illegal_generation = 19,      ///< ILLEGAL_GENERATION: a rebalance fenced this member
    rebalance_in_progress = 20,   ///< REBALANCE_IN_PROGRESS: rejoin the group
    group_not_empty = 21,         ///< NON_EMPTY_GROUP: delete/reset need a group without members
    inconsistent_protocol = 22,   ///< INCONSISTENT_GROUP_PROTOCOL: no assignor every member has
    partition_not_assigned = 23,  ///< a commit for a partition the member does not own
    /// Trust and damage:
    permission_denied = 24,  ///< a peer the bus does not admit, or a daemon the client won't trust
    claim_aborted = 25,      ///< a claim left uncommitted past kbus.claim.timeout.ms was aborted
    corrupt_record = 26,     ///< records lost to a corrupt batch on disk (skipped past)
    partition_owned = 27,    ///< an exclusive producer owns the partition (ProducerOptions)
    invalid_record = 28,     ///< INVALID_RECORD: a record without a key for a compacted topic
    producer_fenced = 29,    ///< PRODUCER_FENCED: a newer instance has this transactional id
    invalid_txn_state = 30,  ///< INVALID_TXN_STATE: no transaction begun, or one already is
    concurrent_transactions = 31,  ///< CONCURRENT_TRANSACTIONS: the previous one is ending; retry
};

/// What each code means, in a few words; indexed by the code's value.
inline constexpr const char* error_code_texts[] = {
    "ok",                                        // ok
    "unknown error",                             // unknown
    "invalid argument",                          // invalid_argument
    "unknown topic",                             // unknown_topic
    "topic already exists",                      // topic_exists
    "partition out of range",                    // partition_out_of_range
    "message too large",                         // message_too_large
    "offset out of range",                       // offset_out_of_range
    "not connected",                             // not_connected
    "protocol error",                            // protocol_error
    "timed out",                                 // timed_out
    "topic deleted",                             // topic_deleted
    "batch invalidated",                         // batch_invalidated
    "already running",                           // already_running
    "I/O error",                                 // io_error
    "resource exhausted",                        // resource_exhausted
    "unsupported",                               // unsupported
    "invalid or unknown group",                  // invalid_group
    "unknown member",                            // unknown_member
    "illegal generation",                        // illegal_generation
    "rebalance in progress",                     // rebalance_in_progress
    "group not empty",                           // group_not_empty
    "inconsistent group protocol",               // inconsistent_protocol
    "partition not assigned to this member",     // partition_not_assigned
    "permission denied",                         // permission_denied
    "claim aborted",                             // claim_aborted
    "corrupt record",                            // corrupt_record
    "partition owned by an exclusive producer",  // partition_owned
    "invalid record",                            // invalid_record
    "producer fenced",                           // producer_fenced
    "invalid transaction state",                 // invalid_txn_state
    "the previous transaction is still ending",  // concurrent_transactions
};
static_assert(std::size(error_code_texts) == std::size_t(ErrorCode::concurrent_transactions) + 1,
              "every ErrorCode has its text");

inline const char* to_string(ErrorCode code) noexcept {
    const auto i = std::size_t(code);
    return i < std::size(error_code_texts) ? error_code_texts[i] : "unknown error";
}

class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

/// Thrown by Consumer::poll when the consumer cannot continue at its position: its held batch
/// was invalidated (it held it longer than consumer.hold.timeout.ms), the offset left the ring,
/// or records were lost to a corrupt batch on disk (corrupt_record). resume_offset() is where it
/// can continue from (seek there, or to the beginning). After corrupt_record the consumer's
/// position is already there: the next poll goes on past the lost records.
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
