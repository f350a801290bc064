#include "kafka/batch_appender.hpp"

#include <algorithm>
#include <cstring>

#include "kbus/header_block.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/compression.hpp"

namespace kbus::kafka {
namespace {

DecodeResult refuse(KafkaError e, std::string why) {
    return {e, std::move(why)};
}

}  // namespace

// The batch's framing, CRC and kind: one RecordBatch v2, neither transactional nor control.
DecodeResult BatchDecoder::check_batch(const log::BatchView& batch, std::string_view bytes) {
    if (bytes.size() > 16 && std::int8_t(bytes[16]) != log::magic_v2)
        return refuse(KafkaError::unsupported_for_message_format,
                      "magic " + std::to_string(int(bytes[16])) + " (only RecordBatch v2)");
    if (const log::BatchCheck c = batch.check(true, bytes.size()); c != log::BatchCheck::ok)
        return refuse(KafkaError::corrupt_message, log::to_string(c));
    if (batch.total_bytes() != bytes.size())
        return refuse(KafkaError::invalid_record,
                      "a Produce partition must hold exactly one batch");
    if (batch.is_control())  // markers are the coordinator's to write, never a client's
        return refuse(KafkaError::invalid_record, "a control batch");
    if ((batch.attributes() & log::transactional_flag) != 0 &&
        (batch.producer_id() < 0 || batch.producer_epoch() < 0 || batch.base_sequence() < 0))
        return refuse(KafkaError::invalid_record, "a transactional batch without its producer");
    return {};
}

// The records' bytes, inflated into our buffer if the batch is compressed.
DecodeResult BatchDecoder::records_of(const log::BatchView& batch, std::uint32_t max_record_bytes,
                                      std::span<const std::byte>& records) {
    records = batch.records_bytes();
    if (batch.compression_codec() == 0) return {};
    // A bomb's bound: no record may exceed max.message.bytes once inflated.
    const std::size_t most = std::size_t(max_record_bytes) * std::size_t(batch.record_count());
    try {
        log::decompress(batch.compression_codec(), records, inflated_, most);
    } catch (const log::InflateLimitError& e) {
        // Past the bound the records cannot fit a ring frame each: too large, not corrupt (a
        // client retries CORRUPT_MESSAGE; MESSAGE_TOO_LARGE fails the send at once).
        return refuse(KafkaError::message_too_large, e.what());
    } catch (const Error& e) {
        return refuse(batch.compression_codec() > 4 ? KafkaError::unsupported_compression_type
                                                    : KafkaError::corrupt_message,
                      e.what());
    }
    records = {reinterpret_cast<const std::byte*>(inflated_.data()), inflated_.size()};
    return {};
}

// One record, its headers and its ring frame; refused for a bad offset delta or headers.
DecodeResult BatchDecoder::add_record(const log::RecordView& r, std::uint32_t max_record_bytes) {
    if (r.offset != std::int64_t(records_.size()))
        return refuse(KafkaError::invalid_record, "offset delta " + std::to_string(r.offset) +
                                                      " of record " +
                                                      std::to_string(records_.size()));
    DecodedRecord d;
    d.timestamp = r.timestamp;
    d.key = r.key;
    d.value = r.value;
    d.first_header = std::uint32_t(headers_.size());
    log::RecordHeaderIterator h(r.headers, r.header_count);
    for (; !h.done(); ++h) {
        if (h->key.size() > max_header_key_bytes)
            return refuse(KafkaError::invalid_record, "a header key over 65535 bytes");
        headers_.push_back(*h);
    }
    if (h.malformed()) return refuse(KafkaError::corrupt_message, "malformed record headers");
    d.header_count = std::uint32_t(headers_.size()) - d.first_header;
    const std::span<const HeaderView> headers{headers_.data() + d.first_header, d.header_count};
    if (header_block_size(headers) > max_record_bytes)
        return refuse(KafkaError::message_too_large, "record headers over max.message.bytes");
    // An idempotent producer's records carry its stamp through the ring, so the spill writes the
    // batch's producer fields to the log as the client sent them.
    d.plan = ring::frame_plan(r.key, r.value.wire_length(), headers, stamps());
    if (transactional_) d.plan.attributes |= ring::transactional_attribute;
    frame_bytes_ += d.plan.layout.frame_length;
    longest_frame_ = std::max<std::uint64_t>(longest_frame_, d.plan.layout.frame_length);
    records_.push_back(d);
    return {};
}

DecodeResult BatchDecoder::decode(std::string_view bytes, std::uint32_t max_record_bytes) {
    records_.clear();
    headers_.clear();
    frame_bytes_ = longest_frame_ = 0;
    const log::BatchView batch({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
    producer_ = {};
    transactional_ = false;
    if (DecodeResult d = check_batch(batch, bytes); d.error != KafkaError::none) return d;
    producer_ = {batch.producer_id(), batch.producer_epoch(), batch.base_sequence(),
                 batch.record_count()};
    transactional_ = (batch.attributes() & log::transactional_flag) != 0;
    std::span<const std::byte> records;
    if (DecodeResult d = records_of(batch, max_record_bytes, records); d.error != KafkaError::none)
        return d;
    log::RecordIterator it(records, batch.record_count(), 0, batch.base_timestamp());
    records_.reserve(std::size_t(batch.record_count()));
    for (log::RecordView r; it.next(r);)
        if (DecodeResult d = add_record(r, max_record_bytes); d.error != KafkaError::none) return d;
    if (it.malformed()) return refuse(KafkaError::corrupt_message, "malformed record");
    if (records_.size() != std::size_t(batch.record_count()))
        return refuse(KafkaError::corrupt_message, "fewer records than the batch's count");
    if (records_.empty()) return refuse(KafkaError::invalid_record, "an empty batch");
    return {};
}

AppendResult append_to_ring(ring::RingWriter& writer, const BatchDecoder& batch,
                            std::int64_t log_append_time_ms) {
    const auto& records = batch.records();
    ring::RingRun run;
    const ring::ClaimStatus s = writer.try_claim_run(
        batch.frame_bytes(), std::uint32_t(records.size()), batch.longest_frame(), run);
    if (s != ring::ClaimStatus::claimed) return {s, -1};
    ring::RingClaim claims[64];  // published last to first; runs longer than this go in chunks
    std::uint64_t at = 0;
    const HeaderView* headers = batch.headers().data();
    for (std::size_t chunk = 0; chunk < records.size(); chunk += std::size(claims)) {
        const std::size_t end = std::min(records.size(), chunk + std::size(claims));
        for (std::size_t i = chunk; i < end; ++i) {
            const DecodedRecord& r = records[i];
            const ring::RingClaim c = writer.place(run, std::uint32_t(i), at, r.plan.layout);
            ring::write_data_frame(writer.payload(c), c.position, r.plan,
                                   log_append_time_ms >= 0 ? log_append_time_ms : r.timestamp,
                                   r.key, r.value.wire_length(),
                                   {headers + r.first_header, r.header_count});
            ring::write_value(writer.payload(c), r.plan, r.value);
            if (r.plan.stamped) ring::write_stamp(writer.payload(c), r.plan, batch.stamp_of(i));
            claims[i - chunk] = c;
            at += r.plan.layout.frame_length;
        }
        // Last to first within the chunk: a reader waiting on its first record takes it whole.
        for (std::size_t i = end; i-- > chunk;)
            writer.publish(claims[i - chunk]);
    }
    writer.after_publish();
    if (writer.aborted_since(run.abort_pass, run.first_offset, run.first_offset + records.size()))
        return {ring::ClaimStatus::full, -1, true};
    return {s, std::int64_t(run.first_offset)};
}

}  // namespace kbus::kafka
