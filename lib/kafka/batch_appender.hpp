// A Kafka producer's RecordBatch onto a partition ring: checked (framing, CRC-32C, one batch of
// magic 2, no control batch, offset deltas 0..n-1), decompressed if it must
// be, then written as one run of ring records (one claim, consecutive offsets, published last
// to first) exactly as a local producer's send_batch writes them. The ring's offsets are the
// offsets the Kafka client is told, so both kinds of producer share one sequence.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/kafka_api.hpp"
#include "kbus/bytes.hpp"
#include "kbus/log/record_batch.hpp"
#include "kbus/ring_writer.hpp"

namespace kbus::kafka {

struct DecodedRecord {
    std::int64_t timestamp = 0;
    BytesView key;
    BytesView value;
    std::uint32_t first_header = 0;  // into BatchDecoder::headers()
    std::uint32_t header_count = 0;
    ring::FramePlan plan{};  // the record's ring frame
};

struct DecodeResult {
    KafkaError error = KafkaError::none;
    std::string message;  // why, for the log
};

// Who wrote a batch, for an idempotent producer's checks (producer_state.hpp).
struct ProducerStamp {
    std::int64_t id = -1;
    std::int16_t epoch = -1;
    std::int32_t first_sequence = -1;
    std::int32_t record_count = 0;
};

// Decodes one batch into views (into the request, or into its own decompression buffer);
// reused from request to request, so a warm decoder allocates nothing.
class BatchDecoder {
  public:
    // max_record_bytes: the topic's max.message.bytes (the ring frame of each record, and the
    // bound on what a compressed batch may inflate to, times the record count).
    [[nodiscard]] DecodeResult decode(std::string_view batch, std::uint32_t max_record_bytes);

    [[nodiscard]] const std::vector<DecodedRecord>& records() const noexcept { return records_; }
    [[nodiscard]] const std::vector<HeaderView>& headers() const noexcept { return headers_; }
    [[nodiscard]] std::uint64_t frame_bytes() const noexcept { return frame_bytes_; }
    // The batch's idempotent producer stamp (producer id -1: none).
    [[nodiscard]] const ProducerStamp& producer() const noexcept { return producer_; }
    [[nodiscard]] std::uint64_t longest_frame() const noexcept { return longest_frame_; }
    // A transactional producer's batch (its records carry transactional_attribute on the ring).
    [[nodiscard]] bool transactional() const noexcept { return transactional_; }
    // Whether the batch's records carry a ring stamp: an idempotent producer's batch.
    [[nodiscard]] bool stamps() const noexcept {
        return producer_.id >= 0 && producer_.epoch >= 0 && producer_.first_sequence >= 0;
    }
    // Record i's stamp (its sequence counted from the batch's first).
    [[nodiscard]] ring::RecordStamp stamp_of(std::size_t i) const noexcept {
        return {producer_.id, log::sequence_after(producer_.first_sequence, std::int64_t(i)),
                producer_.epoch, 0};
    }

  private:
    static DecodeResult check_batch(const log::BatchView& batch, std::string_view bytes);
    DecodeResult records_of(const log::BatchView& batch, std::uint32_t max_record_bytes,
                            std::span<const std::byte>& records);
    DecodeResult add_record(const log::RecordView& r, std::uint32_t max_record_bytes);

    std::string inflated_;
    std::vector<DecodedRecord> records_;
    std::vector<HeaderView> headers_;
    std::uint64_t frame_bytes_ = 0;
    std::uint64_t longest_frame_ = 0;
    ProducerStamp producer_;
    bool transactional_ = false;
};

struct AppendResult {
    ring::ClaimStatus status = ring::ClaimStatus::full;
    std::int64_t base_offset = -1;
    // The run was claimed but the daemon aborted it before its commit (it stalled past
    // kbus.claim.timeout.ms): not written; the client is told to send it again.
    bool aborted = false;
};

// Writes the decoded records as one run. `log_append_time_ms` >= 0 stamps every record with it
// (a LogAppendTime topic); otherwise each keeps its own timestamp. Never blocks: `full` when
// the ring has no room now (the caller retries), `too_large` past half the ring or
// max.message.bytes, `deleted` for a topic deleted meanwhile.
[[nodiscard]] AppendResult append_to_ring(ring::RingWriter& writer, const BatchDecoder& batch,
                                          std::int64_t log_append_time_ms);

}  // namespace kbus::kafka
