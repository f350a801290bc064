// Encodes consecutive records into one RecordBatch v2 (uncompressed records, or one compressed
// blob; see kbus/log/record_batch_descriptor.hpp). The spill feeds it ring records; the batch
// it finishes is what goes to the .log file, byte for byte what Kafka would write.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/topic_config.hpp"
#include "kbus/bytes.hpp"

namespace kbus::log {

class BatchBuilder {
  public:
    BatchBuilder() { clear(); }
    // Starts an empty batch; the first add() sets its base offset and base timestamp.
    void clear() noexcept;

    // Appends a record. Offsets must increase (gaps are allowed: aborted records).
    void add(std::int64_t offset, std::int64_t timestamp, BytesView key, BytesView value,
             std::span<const HeaderView> headers);

    // The batch's idempotent producer: its id, epoch and the sequence of its first record (Kafka's
    // producer fields; -1 each, the default, for records of no such producer). The records added
    // must then be that producer's, with consecutive sequences. Reset by clear().
    void set_producer(std::int64_t id, std::int16_t epoch, std::int32_t base_sequence) noexcept {
        producer_id_ = id;
        producer_epoch_ = epoch;
        base_sequence_ = base_sequence;
    }
    // Kafka's transactional and control bits (transactional_flag, control_flag; 0 by default).
    // Reset by clear(). A control batch is never compressed, as in Kafka.
    void set_flags(std::int16_t flags) noexcept { flags_ = flags; }
    [[nodiscard]] std::int16_t flags() const noexcept { return flags_; }
    [[nodiscard]] std::int64_t producer_id() const noexcept { return producer_id_; }
    [[nodiscard]] std::int16_t producer_epoch() const noexcept { return producer_epoch_; }
    [[nodiscard]] std::int32_t base_sequence() const noexcept { return base_sequence_; }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::int32_t record_count() const noexcept { return count_; }
    // Bytes of the batch if finished uncompressed now.
    [[nodiscard]] std::size_t encoded_bytes() const noexcept;
    [[nodiscard]] std::int64_t base_offset() const noexcept { return base_offset_; }
    [[nodiscard]] std::int64_t last_offset() const noexcept { return last_offset_; }
    [[nodiscard]] std::int64_t max_timestamp() const noexcept { return max_timestamp_; }
    [[nodiscard]] std::int64_t offset_of_max_timestamp() const noexcept {
        return offset_of_max_timestamp_;
    }

    // The finished batch (header, CRC-32C, records compressed with `codec`), valid until the
    // next clear() or add().
    [[nodiscard]] std::string_view finish(config::Compression codec);

  private:
    std::string batch_;       // header space, then the records as they are added
    std::string compressed_;  // header space, then the compressed records
    std::int32_t count_ = 0;
    std::int64_t base_offset_ = 0;
    std::int64_t last_offset_ = -1;
    std::int64_t base_timestamp_ = -1;
    std::int64_t max_timestamp_ = -1;
    std::int64_t offset_of_max_timestamp_ = -1;
    std::int64_t producer_id_ = -1;
    std::int16_t producer_epoch_ = -1;
    std::int32_t base_sequence_ = -1;
    std::int16_t flags_ = 0;
};

}  // namespace kbus::log
