// Kafka's message sets of magic 0 and 1, the formats before RecordBatch v2, for the oldest
// clients (Produce v0-2, Fetch v0-3). The log stays v2 only: a legacy set is converted to one
// v2 batch on the way in, and v2 batches are converted down on the way out, as Kafka 3.x does.
//
//   message set := (offset int64, message_size int32, message)*
//   message     := crc int32 (CRC-32 of the rest), magic int8, attributes int8,
//                  [timestamp int64: magic 1], key bytes, value bytes
//
// attributes bits 0-2 are the codec; a compressed message's value is a message set of its own
// (magic 1: inner offsets relative 0..n-1; the wrapper's offset is the last one's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kafka/batch_appender.hpp"
#include "log/batch_builder.hpp"

namespace kbus::kafka::legacy {

inline constexpr std::size_t offset_bytes = 8;
inline constexpr std::size_t size_bytes = 4;
inline constexpr std::size_t log_overhead = offset_bytes + size_bytes;
inline constexpr std::size_t crc_offset = 0;
inline constexpr std::size_t magic_offset = 4;
inline constexpr std::size_t attributes_offset = 5;
inline constexpr std::size_t timestamp_offset = 6;  // magic 1 only
[[nodiscard]] constexpr std::size_t key_offset(std::int8_t magic) noexcept {
    return magic == 0 ? 6 : 14;
}
// A message with null key and value: its header, and the two -1 lengths.
[[nodiscard]] constexpr std::size_t min_message_bytes(std::int8_t magic) noexcept {
    return key_offset(magic) + 8;
}
inline constexpr std::uint8_t codec_mask = 0x07;
inline constexpr std::uint8_t log_append_time_bit = 0x08;  // magic 1

// The records of `message_set` as one uncompressed RecordBatch v2 in `batch` (offset deltas
// 0..n-1). Magic 0 carries no timestamps: its records get `now_ms`. A bad CRC, a torn message,
// a magic above 1 or a compressed message inside a compressed one get CORRUPT_MESSAGE; a set
// that would inflate beyond max_bytes gets MESSAGE_TOO_LARGE.
[[nodiscard]] DecodeResult upconvert(std::string_view message_set, std::int64_t now_ms,
                                     std::size_t max_bytes, log::BatchBuilder& builder,
                                     std::string& batch);

// Whole v2 batches (as a segment holds them) as an uncompressed message set of `magic` (Fetch
// v0-1: 0, v2-3: 1), from `from_offset` on (a batch's records before it are left out) and up
// to `max_bytes` (at least one message, so that a reader always moves). Headers are dropped and
// control batches skipped, as in Kafka's down-conversion; a batch that does not check out ends
// the set.
[[nodiscard]] std::string downconvert(std::string_view batches, std::int8_t magic,
                                      std::size_t max_decompressed, std::int64_t from_offset = 0,
                                      std::size_t max_bytes = SIZE_MAX);

}  // namespace kbus::kafka::legacy
