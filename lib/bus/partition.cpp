#include "bus/partition.hpp"

#include "bus/producer_slots.hpp"

#include "kbus/detail/clock.hpp"

#include <algorithm>

#include "kbus/error.hpp"
#include "kbus/ring_reader.hpp"
#include "log/compression.hpp"
#include "log/log_tail.hpp"

namespace kbus::bus {

Partition::Partition(const protocol::TopicMetadata& topic, std::int32_t index,
                     const config::TopicConfig& config, const RingStore& rings,
                     const PartitionSetup& setup)
    : topic_(topic.name),
      index_(index),
      ring_name_(rings.name(topic.topic_id, index)),
      rings_(rings),
      log_(std::make_unique<log::PartitionLog>(setup.dir, config, setup.verify, setup.sink)),
      ring_(rings.adopt_or_create(topic, index, std::uint64_t(log_->log_end_offset()))),
      gate_(std::make_unique<spill::ProducerGate>(ring_.ring, config.consumer_hold_timeout_ms,
                                                  setup.sink)),
      spill_(std::make_unique<spill::PartitionSpill>(ring_.ring, *log_, config.compression,
                                                     setup.sink, setup.spill)) {
    // Relaxed: published with the topic (the registry's lock) before anyone reads it.
    reserved_.store(ring_.reserved, std::memory_order_relaxed);
    set_keys_required(config);
    end_at_start_ = std::int64_t(high_watermark());
    if (ring_.replaced_layout != 0) log_replaced_ring(setup.sink);
    if (!ring_.adopted) return;
    // Its readers belonged to the old daemon's connections: they stay tethered (consumers read
    // on undisturbed) as orphans that any client may adopt, bounded by the hold timeout.
    gate_->orphan_all();
    retire_orphaned_producer_slots(ring_.ring.header());
    spill_->position_at_log_end();
    setup.sink("INFO", "re-attached ring " + ring_name_ + " (high watermark " +
                           std::to_string(high_watermark()) + ")");
}

void Partition::log_replaced_ring(const logging::LogSink& sink) const {
    const auto end = std::uint64_t(log_->log_end_offset());
    const std::string what = "replaced ring " + ring_name_ + " of layout " +
                             std::to_string(ring_.replaced_layout) + " (this kbusd's is " +
                             std::to_string(ring::ring_layout_version) + ", an older kbus's)";
    if (ring_.replaced_next_offset <= end)
        return sink("INFO", what + ": every record it held is on disk");
    sink("WARN", what + ": offsets " + std::to_string(end) + " to " +
                     std::to_string(ring_.replaced_next_offset - 1) +
                     " it held were not on disk and are lost (its kbusd was killed, or its "
                     "clients wrote on after it stopped: stop them all before an upgrade); its "
                     "clients still running are refused from now on");
}

std::optional<std::int64_t> Partition::offset_before_start(std::int64_t producer_id,
                                                           std::int16_t epoch, std::int32_t first,
                                                           std::int32_t last) {
    std::call_once(logged_once_, [this] {
        log::for_each_tail_batch(*log_, end_at_start_,
                                 [this](const log::BatchView& b) { logged_.add(b); });
    });
    return logged_.offset_of(producer_id, epoch, first, last);
}

void Partition::reserve_ring() {
    if (ring_reserved()) return;
    std::lock_guard lock(reserve_mutex_);
    if (reserved_.load(std::memory_order_relaxed)) return;  // under the lock
    ring::RingHeader& h = ring_.ring.header();
    rings_.reserve(h.info.topic_id, index_, ring_.ring.capacity());
    // Release: a producer that sees room sees the pages allocated (fallocate returned first).
    // The limit a fresh ring starts with (RingRef::initialize): a whole lap, nothing to protect.
    // (An unreserved ring never had records: an adopted one with a limit came back reserved.)
    // Relaxed: published with the limit. The first lap's doorbell mark, as every grant has one.
    h.limit.doorbell_at.store(ring::doorbell_mark_for(ring_.ring.capacity(), ring_.ring.capacity()),
                              std::memory_order_relaxed);
    h.limit.producer_limit.store(ring_.ring.capacity(), std::memory_order_release);
    reserved_.store(true, std::memory_order_release);
}

std::uint64_t Partition::ring_memory_bytes() const noexcept {
    const ring::RingLayout layout = ring::ring_layout(ring_.ring.capacity());
    return ring_reserved() ? layout.total_bytes : layout.journal_offset;
}

std::uint64_t Partition::ring_reserve_bytes() const noexcept {
    const ring::RingLayout layout = ring::ring_layout(ring_.ring.capacity());
    return ring_reserved() ? 0 : layout.total_bytes - layout.journal_offset;
}

// Producers refuse records without a key for a compacted topic (Producer::check_keyless_allowed).
void Partition::set_keys_required(const config::TopicConfig& config) noexcept {
    // Relaxed: a setting producers read on their own; one racing an alter may go either way.
    ring_.ring.header().limit.keys_required.store(config.cleanup_compact ? 1 : 0,
                                                  std::memory_order_relaxed);
}

void Partition::apply_config(const config::TopicConfig& config) {
    gate_->set_hold_timeout_ms(config.consumer_hold_timeout_ms);
    set_keys_required(config);
    log_->set_config(config);
    std::lock_guard lock(spill_mutex_);
    spill_->set_codec(config.compression);
}

void Partition::retire() {
    std::lock_guard lock(spill_mutex_);
    retired_ = true;
}

std::uint64_t Partition::high_watermark() const noexcept {
    return ring::load_next_offset(ring_.ring.header());
}

protocol::PartitionState Partition::state() const {
    ring::RingHeader& h = ring_.ring.header();
    const detail::WordPair claim = ring::load_claim(h);
    protocol::PartitionState s;
    s.partition = index_;
    s.high_watermark = std::int64_t(claim.first);
    s.log_start_offset = log_->log_start_offset();
    s.ring_bytes = ring_.ring.capacity();
    s.ring_fill_bytes = gate_->fill_bytes(claim.second);
    // Relaxed: a statistic; the spill publishes its cursor with release for the producers.
    s.spill_offset = std::int64_t(h.spill.spill_offset.load(std::memory_order_relaxed));
    s.attached_readers = std::uint32_t(gate_->readers().size());
    // Compacted topics only: a section copies every closed segment's path, and stats ask for
    // every partition's state each second.
    if (const auto section = log_->config().cleanup_compact
                                 ? log_->cleanable_section(detail::wall_clock_ms())
                                 : std::nullopt) {
        s.cleanable_bytes = section->total_bytes();
        s.dirty_bytes = section->dirty_bytes();
    }
    return s;
}

std::uint64_t Partition::start_offset(protocol::OffsetSpecKind kind, std::int64_t offset) const {
    const std::uint64_t hw = high_watermark();
    const auto log_start = std::uint64_t(log_->log_start_offset());
    std::uint64_t target = hw;
    switch (kind) {
        case protocol::OffsetSpecKind::beginning:
            target = log_start;
            break;
        case protocol::OffsetSpecKind::end:
            break;
        case protocol::OffsetSpecKind::timestamp:
            target = offset_for_timestamp(offset);
            break;
        case protocol::OffsetSpecKind::offset:
            if (offset < 0 || std::uint64_t(offset) > hw)
                throw Error(ErrorCode::offset_out_of_range, "offset " + std::to_string(offset) +
                                                                " is beyond the high watermark " +
                                                                std::to_string(hw));
            if (std::uint64_t(offset) < log_start)
                throw Error(ErrorCode::offset_out_of_range,
                            "offset " + std::to_string(offset) + " is below the log start " +
                                std::to_string(log_start) +
                                " (deleted by retention or delete-records)");
            target = std::uint64_t(offset);
            break;
        default:
            throw Error(ErrorCode::protocol_error,
                        "unknown offset kind " + std::to_string(int(kind)));
    }
    return std::max(target, log_start);
}

std::uint64_t Partition::offset_for_timestamp(std::int64_t ts) const {
    const std::uint64_t hw = high_watermark();
    if (auto o = log_->offset_for_timestamp(ts)) return std::uint64_t(*o);
    const ring::RingHeader& h = ring_.ring.header();
    // Acquire: pairs with the spill's release of its cursor; records from there on are still in
    // the ring (a reader below the gate sees "lapped" or "not ready" and stops).
    ring::Cursor c{h.spill.spill_position.load(std::memory_order_acquire),
                   h.spill.spill_offset.load(std::memory_order_acquire)};
    const ring::RingReader reader(ring_.ring);
    for (ring::RecordRef rec;;) {
        const ring::PeekStatus s = reader.peek(c, rec);
        if (s == ring::PeekStatus::record && rec.header->timestamp >= ts) return rec.offset;
        if (!ring::holds_offset(s)) return hw;
        ring::RingReader::advance(c, rec);
    }
}

// Kafka's aborted_transactions: those a reader from `offset` meets below the last stable offset.
// A long list is cut, and the stable offset lowered to where it stops: the reader asks again.
void Partition::add_transactions(protocol::FetchReply& f, std::int64_t offset) const {
    constexpr std::size_t most = protocol::FetchReply::max_fetch_aborted;
    f.last_stable_offset = log_->last_stable_offset();
    for (const log::AbortedTransaction& t :
         log_->aborted_transactions(offset, f.last_stable_offset)) {
        if (f.aborted.size() == most) {
            f.last_stable_offset = std::min(f.last_stable_offset, t.first_offset);
            break;
        }
        f.aborted.push_back({t.producer_id, t.first_offset});
    }
}

protocol::FetchReply Partition::fetch(std::int64_t offset, std::uint32_t max_bytes, bool as_extent,
                                      std::uint32_t max_message_bytes, bool read_committed) const {
    protocol::FetchReply f;
    // The ring's start before the log's end: an offset below the one and at or past the other
    // is then gone for good (records leave the ring only once spilled, and the log only grows
    // at its end), which a consumer tells from "not written yet".
    f.ring_start_offset = std::int64_t(gate_->earliest(high_watermark()));
    f.log_start_offset = log_->log_start_offset();
    f.log_end_offset = log_->log_end_offset();
    if (read_committed) add_transactions(f, offset);
    if (as_extent) {
        log::PartitionLog::Extent e =
            log_->locate(offset, std::min(max_bytes, protocol::max_fetch_file_bytes));
        if (e.length != 0) {
            f.file_path = std::move(e.path);
            f.file_position = e.position;
            f.file_length = e.length;
            f.file_inode = e.inode;
        }
        return f;
    }
    // What a batch may inflate to: the spill's batch size plus one record beyond it, with room
    // to spare for batches other producers compressed harder.
    const std::size_t most = (64u << 20) + max_message_bytes;
    const std::string stored = log_->read(offset, std::min(max_bytes, protocol::max_fetch_bytes));
    std::size_t consumed = 0;
    f.batches = log::decompress_batches(stored, most, &consumed);
    // Stopped at the first batch: a compressed one whose CRC fails (later ones are the next
    // fetch's first). The log confirms and remembers it.
    if (f.batches.empty() && consumed < stored.size())
        if (const auto damage = log_->damage_at(offset, true))
            throw Error(ErrorCode::corrupt_record, log_->describe(*damage));
    return f;
}

protocol::CorruptBatchReply Partition::report_corrupt(std::int64_t offset) {
    protocol::CorruptBatchReply reply;
    const std::optional<log::PartitionLog::Damage> damage = log_->damage_at(offset, true);
    if (!damage) return reply;
    const log::CorruptRegion& r = damage->region;
    reply.corrupt = true;
    reply.first_offset = r.first_offset;
    reply.last_offset = r.last_offset;
    reply.resume_offset = std::max(r.last_offset + 1, offset);
    reply.file = damage->path;
    reply.file_begin = r.begin;
    reply.file_end = r.end;
    reply.message = log_->describe(*damage);
    return reply;
}

}  // namespace kbus::bus
