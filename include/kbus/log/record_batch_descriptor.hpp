// Kafka's RecordBatch v2 (magic 2) layout, defined once: the on-disk .log format and the wire
// format of Produce/Fetch. All fixed-width fields are big-endian. The CRC-32C covers bytes from
// `attributes` to the batch's end, so base offset and leader epoch can be patched without it.
//
//   records: per record, zig-zag varints: length, attributes (int8), timestampDelta, offsetDelta,
//   keyLength (-1 null), key, valueLength (-1 null), value, headerCount,
//   per header: keyLength, key, valueLength (-1 null), value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kbus::log {

inline constexpr std::size_t base_offset_offset = 0;              ///< i64
inline constexpr std::size_t batch_length_offset = 8;             ///< i32: bytes after this field
inline constexpr std::size_t partition_leader_epoch_offset = 12;  ///< i32
inline constexpr std::size_t magic_offset = 16;                   ///< i8 = 2
inline constexpr std::size_t crc_offset = 17;                     ///< u32, over [21, end)
inline constexpr std::size_t attributes_offset = 21;              ///< i16
inline constexpr std::size_t last_offset_delta_offset = 23;       ///< i32
inline constexpr std::size_t base_timestamp_offset = 27;          ///< i64
inline constexpr std::size_t max_timestamp_offset = 35;           ///< i64
inline constexpr std::size_t producer_id_offset = 43;             ///< i64, -1
inline constexpr std::size_t producer_epoch_offset = 51;          ///< i16, -1
inline constexpr std::size_t base_sequence_offset = 53;           ///< i32, -1
inline constexpr std::size_t record_count_offset = 57;            ///< i32
inline constexpr std::size_t records_offset = 61;
inline constexpr std::size_t batch_header_bytes = 61;
/// baseOffset + batchLength: a batch's total size is batchLength + log_overhead.
inline constexpr std::size_t log_overhead = 12;
static_assert(records_offset == record_count_offset + 4);
static_assert(crc_offset + 4 == attributes_offset);

inline constexpr std::int8_t magic_v2 = 2;

/// Attributes bits.
inline constexpr std::int16_t compression_mask = 0x07;
inline constexpr std::int16_t timestamp_type_log_append = 0x08;
inline constexpr std::int16_t transactional_flag = 0x10;
inline constexpr std::int16_t control_flag = 0x20;

/// The sparse offset index (.index): int32 relative offset, int32 file position.
inline constexpr std::size_t index_entry_bytes = 8;
/// The time index (.timeindex): int64 timestamp, int32 relative offset.
inline constexpr std::size_t timeindex_entry_bytes = 12;
/// The aborted-transactions index (.txnindex), one entry per aborted transaction whose ABORT
/// marker the segment holds: int16 version (0), int64 producer id, int64 first offset, int64 last
/// offset (the marker's), int64 last stable offset (when the marker was written).
inline constexpr std::size_t txnindex_version_offset = 0;
inline constexpr std::size_t txnindex_producer_id_offset = 2;
inline constexpr std::size_t txnindex_first_offset_offset = 10;
inline constexpr std::size_t txnindex_last_offset_offset = 18;
inline constexpr std::size_t txnindex_last_stable_offset_offset = 26;
inline constexpr std::size_t txnindex_entry_bytes = 34;
static_assert(txnindex_last_stable_offset_offset + 8 == txnindex_entry_bytes);

}  // namespace kbus::log
