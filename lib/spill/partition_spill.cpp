#include "spill/partition_spill.hpp"

#include "log/log_tail.hpp"

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "kbus/header_block.hpp"
#include "kbus/log/record_batch.hpp"
#include "kbus/record_frame.hpp"

namespace kbus::spill {

// Observations come at most this often per timeout: a claim first seen late by this much waits
// that much longer, never less than its timeout.
constexpr std::uint64_t observations_per_timeout = 32;

PartitionSpill::PartitionSpill(ring::RingRef ring, log::PartitionLog& log,
                               config::Compression codec, logging::LogSink sink,
                               SpillOptions options)
    : ring_(ring),
      reader_(ring),
      log_(log),
      codec_(codec),
      sink_(std::move(sink)),
      options_(options),
      pacer_(std::min(
          options.claim_timeout_ns / observations_per_timeout,
          std::max<std::uint64_t>(options.write_to_log ? options.linger_ns : ring_only_linger_ns,
                                  1'000'000))) {
    cursor_ = {ring_.header().spill.spill_position.load(std::memory_order_acquire),
               ring_.header().spill.spill_offset.load(std::memory_order_acquire)};
}

void PartitionSpill::note_dropped(const ring::RecordStamp& s, std::uint64_t offset,
                                  ProducerSequences::Verdict why, std::uint64_t now_ns) {
    dropped_records_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
    if (now_ns - last_drop_log_ns_ < 1'000'000'000ULL && last_drop_log_ns_ != 0) return;
    last_drop_log_ns_ = now_ns;
    sink_("WARN", log_.dir() + ": offset " + std::to_string(offset) + " not written, a gap: " +
                      (why == ProducerSequences::Verdict::duplicate
                           ? "a duplicate of producer " + std::to_string(s.producer_id) +
                                 "'s sequence " + std::to_string(s.sequence) + ", which the log has"
                           : "producer " + std::to_string(s.producer_id) + " at epoch " +
                                 std::to_string(s.epoch) + " was fenced by a newer epoch") +
                      " (further ones within a second not logged)");
}

// Kafka's producers send at most five batches ahead, so the last few thousand offsets hold the
// sequence every live producer goes on from. Read at the first stamped record since start, so a
// partition no idempotent producer uses never pays for it. A damaged batch (logged where it was
// found) is stepped over.
void PartitionSpill::learn_producers() {
    learnt_producers_ = true;
    const std::int64_t now_ms = detail::wall_clock_ms();
    log::for_each_tail_batch(log_, log_.log_end_offset(), [&](const log::BatchView& b) {
        if (b.producer_id() >= 0 && b.base_sequence() >= 0 && !b.is_control())
            sequences_.written(b.producer_id(), b.producer_epoch(), b.base_sequence(),
                               std::int32_t(b.last_offset() - b.base_offset() + 1), now_ms);
        if (b.producer_id() >= 0 && b.is_control())
            open_transactions_.ended(b.producer_id(), b.base_offset());
        else if (b.producer_id() >= 0 && b.is_transactional())
            open_transactions_.written(b.producer_id(), b.base_offset());
    });
    log_.set_first_open_transaction(open_transactions_.first_open());
}

bool PartitionSpill::position_at_log_end() {
    const auto end = std::uint64_t(log_.log_end_offset());
    const detail::WordPair claim = ring::load_claim(ring_.header());
    if (end == claim.first) {  // everything in the ring is on disk
        cursor_ = {claim.second, claim.first};
        publish_cursor();
        return true;
    }
    if (end == cursor_.offset) {  // the ring's own spill cursor is where the log ends
        publish_cursor();
        return true;
    }
    ring::Cursor at;
    if (end > claim.first || !reader_.locate(end, at)) {
        // The log ends beyond the ring or before its oldest record: keep the ring's own spill
        // cursor; the records in between are not recoverable.
        sink_("ERROR", "partition log " + log_.dir() + " ends at offset " + std::to_string(end) +
                           " but the ring's spill cursor is at " + std::to_string(cursor_.offset) +
                           "; continuing from the ring");
        return false;
    }
    cursor_ = at;
    publish_cursor();
    return true;
}

// Whether a batch is worth cutting now: a full batch, a ring filling up or producers waiting, or
// records lingering long enough. Judged from the tail alone, so an idle check never reads the
// record headers the producers are writing.
bool PartitionSpill::due(std::uint64_t now_ns) {
    const ring::RingHeader& h = ring_.header();
    tail_seen_ = ring::load_tail(h);
    const std::uint64_t pending = tail_seen_ - cursor_.position;
    if (pending == 0) {
        pending_since_ns_ = 0;
        return false;
    }
    if (pending_since_ns_ == 0) pending_since_ns_ = now_ns;
    const bool pressure = pending >= ring_.capacity() / 8 ||
                          h.limit.blocked_producers.load(std::memory_order_relaxed) != 0;
    if (!options_.write_to_log)  // ring-only: step over records only when room runs short
        return pressure || now_ns - pending_since_ns_ >= ring_only_linger_ns;
    return pending >= options_.batch_bytes || pressure ||
           now_ns - pending_since_ns_ >= options_.linger_ns;
}

bool PartitionSpill::step(std::uint64_t now_ns, std::int64_t now_ms) {
    if (!due(now_ns)) return false;
    if (options_.write_to_log ? write_batch(now_ns, now_ms) : discard()) return true;
    return !io_failing_ && repair_dead_claims(now_ns);
}

std::uint64_t PartitionSpill::next_due_ns(std::uint64_t now_ns) {
    const ring::RingHeader& h = ring_.header();
    SpillSnapshot s;
    // The tail this pass's step saw: the producers' line is not pulled over a second time.
    s.tail = tail_seen_;
    s.pending = s.tail > cursor_.position ? s.tail - cursor_.position : 0;
    // Relaxed: only the spill thread writes the limit (ProducerGate::update); a hint here.
    const std::uint64_t limit = h.limit.producer_limit.load(std::memory_order_relaxed);
    s.granted_room = limit > s.tail ? limit - s.tail : 0;
    s.due_at_bytes = options_.write_to_log ? options_.batch_bytes : ring_.capacity() / 8;
    s.linger_ns = options_.write_to_log ? options_.linger_ns : ring_only_linger_ns;
    s.pending_since_ns = pending_since_ns_ != 0 ? pending_since_ns_ : now_ns;
    s.paced_by_rate = options_.write_to_log;
    return pacer_.next_due_ns(s, now_ns);
}

bool PartitionSpill::drain(std::uint64_t now_ns, std::int64_t now_ms) {
    if (!options_.write_to_log) return true;
    // Not through due(): a batch younger than the linger would wait for a pass that never comes.
    while (write_batch(now_ns, now_ms)) {
    }
    return !io_failing_;
}

void PartitionSpill::observe_claims(std::uint64_t now_ns) {
    ring::RingHeader& h = ring_.header();
    if (!observations_.empty()) {
        const ClaimObservation& last = observations_.back();
        if (ring::load_next_offset(h) == last.claimed_end ||
            now_ns - last.seen_ns < options_.claim_timeout_ns / observations_per_timeout)
            return;
    }
    // An exact snapshot of the pair (a locked 16-byte compare-and-swap on the producers' line):
    // only when the claims moved, at most observations_per_timeout times a timeout.
    const detail::WordPair claimed = ring::load_claim(h);
    if (claimed.first > cursor_.offset)
        observations_.push_back({claimed.first, claimed.second, now_ns});
}

bool PartitionSpill::repair_dead_claims(std::uint64_t now_ns) {
    ring::Cursor at = cursor_;
    ring::RecordRef r;
    if (reader_.peek(at, r) != ring::PeekStatus::not_ready) {
        observations_.clear();
        return false;
    }
    // Observations whose claims are all behind the cursor are settled.
    std::erase_if(observations_,
                  [&](const ClaimObservation& o) { return o.claimed_end <= cursor_.offset; });
    observe_claims(now_ns);
    // The newest observation a timeout old: every claim it shows is at least that old.
    auto due = observations_.end();
    for (auto it = observations_.begin(); it != observations_.end(); ++it)
        if (now_ns - it->seen_ns >= options_.claim_timeout_ns) due = it;
    if (due == observations_.end()) return false;
    const ClaimObservation seen = *due;
    observations_.erase(observations_.begin(), due + 1);
    return abort_dead(seen);
}

bool PartitionSpill::abort_dead(const ClaimObservation& seen) {
    const RepairResult result = spill::repair_dead_claims(ring_, cursor_, seen);
    if (result.unbarriered)
        sink_("WARN", log_.dir() +
                          ": membarrier(2) was refused: a producer committing just as "
                          "its claim timed out may be told its record was sent");
    if (result.refused) {
        if (refusal_logged_for_ != cursor_.offset)
            sink_("ERROR", log_.dir() + ": the claim of offset " + std::to_string(cursor_.offset) +
                               " is uncommitted past the claim timeout, but cannot be repaired (" +
                               *result.refused + "); the partition waits for it");
        refusal_logged_for_ = cursor_.offset;
        return false;
    }
    for (const DeadRegion& d : result.aborted) {
        aborted_offsets_.fetch_add(d.end_offset - d.first_offset, std::memory_order_relaxed);
        sink_("WARN", log_.dir() + ": offsets " + std::to_string(d.first_offset) + ".." +
                          std::to_string(d.end_offset - 1) +
                          " were claimed but not committed within the claim timeout (a dead "
                          "producer): they are an aborted gap");
    }
    return !result.aborted.empty();
}

bool PartitionSpill::abort_uncommitted_claims(std::uint64_t now_ns) {
    const detail::WordPair claimed = ring::load_claim(ring_.header());
    if (claimed.first <= cursor_.offset) return false;
    observations_.clear();
    return abort_dead({claimed.first, claimed.second, now_ns});
}

bool PartitionSpill::write_batch(std::uint64_t now_ns, std::int64_t now_ms) {
    builder_.clear();
    ring::Cursor c = cursor_;
    std::size_t taken = 0;
    while (taken < options_.batch_bytes) {
        ring::RecordRef r;
        const ring::PeekStatus s = reader_.peek(c, r);
        if (!ring::holds_offset(s)) break;
        const Take t = take(r, s, now_ns);
        if (t == Take::batch_ends) break;
        if (t != Take::skipped) taken += r.frame_length;
        ring::RingReader::advance(c, r);
        if (t == Take::added_alone) break;
    }
    if (c.position == cursor_.position) return false;  // the oldest claim is not committed yet
    if (!builder_.empty() && !append_batch(now_ns, now_ms)) return false;
    cursor_ = c;
    publish_cursor();
    pending_since_ns_ = 0;
    return true;
}

// A gap (an aborted claim) holds nothing to write; nor does a stamped record the log already has
// or whose epoch is fenced. Either ends an idempotent producer's batch, whose offsets must stay
// consecutive (a record's sequence is the base sequence plus its offset delta).
PartitionSpill::Take PartitionSpill::take(const ring::RecordRef& r, ring::PeekStatus status,
                                          std::uint64_t now_ns) {
    if (status == ring::PeekStatus::aborted)
        return !builder_.empty() && batch_producer_.stamped() ? Take::batch_ends : Take::skipped;
    if (status == ring::PeekStatus::control) return take_marker(r);
    const ring::RecordFrameView frame(r.header);
    ring::RecordStamp stamp{};
    const bool stamped = stamp_of(frame, stamp);
    if (stamped) {
        ProducerSequences::Verdict v = sequences().check(stamp);
        if (v == ProducerSequences::Verdict::older_epoch && !fenced(stamp))
            v = ProducerSequences::Verdict::write;
        if (v != ProducerSequences::Verdict::write) {
            if (!builder_.empty()) return Take::batch_ends;  // dropped by the next batch
            note_dropped(stamp, r.offset, v, now_ns);
            return Take::skipped;
        }
    }
    const bool transactional = stamped && frame.transactional();
    if (!batch_producer_.takes(builder_.empty(), stamped, stamp, r.offset, transactional))
        return Take::batch_ends;
    if (builder_.empty() && stamped) {
        builder_.set_producer(stamp.producer_id, stamp.epoch, stamp.sequence);
        if (transactional) builder_.set_flags(log::transactional_flag);
    }
    // Noted at once: a retried batch notes the same first offset again, which changes nothing.
    if (transactional) open_transactions_.written(stamp.producer_id, std::int64_t(r.offset));
    headers_.clear();
    for (HeaderIterator it = frame.headers(); !it.done(); ++it)
        headers_.push_back(*it);
    builder_.add(std::int64_t(r.offset), frame.timestamp(), frame.key(), frame.value(), headers_);
    return Take::added;
}

// Whether the fence table shows this producer id at an epoch newer than the stamp's: only then is
// a record of an older epoch a fenced instance's (a zombie racing its fence), not written.
bool PartitionSpill::fenced(const ring::RecordStamp& s) const noexcept {
    if (options_.fences == nullptr) return false;
    for (const control::ProducerFence& f : options_.fences->fences)
        // Relaxed: the daemon's own stores (the registry), made before this instance started.
        if (f.producer_id.load(std::memory_order_relaxed) == s.producer_id &&
            f.epoch.load(std::memory_order_relaxed) > s.epoch)
            return true;
    return false;
}

// A marker ends its producer's transaction (Kafka's control batch: transactional, control, the
// producer's id and epoch, no sequence). One naming no producer, or of a type Kafka does not
// define, says nothing: it is a gap.
PartitionSpill::Take PartitionSpill::take_marker(const ring::RecordRef& r) {
    if (!builder_.empty()) return Take::batch_ends;
    if (!learnt_producers_) learn_producers();  // the transactions open in the log's tail
    const ring::RecordFrameView frame(r.header);
    ring::RecordStamp producer{};
    const std::optional<log::ControlType> type = log::control_type(frame.key());
    if (!producer_of(frame, producer) || !type) return Take::skipped;
    builder_.set_producer(producer.producer_id, producer.epoch, -1);
    builder_.set_flags(log::transactional_flag | log::control_flag);
    builder_.add(std::int64_t(r.offset), frame.timestamp(), frame.key(), frame.value(), {});
    marker_ = PendingMarker{producer.producer_id, *type, std::int64_t(r.offset)};
    return Take::added_alone;
}

void PartitionSpill::recovered_open_transaction(std::int64_t producer_id, std::int64_t offset) {
    if (!learnt_producers_) learn_producers();
    open_transactions_.open_since(producer_id, offset);
    log_.set_first_open_transaction(open_transactions_.first_open());
}

// The index entry goes first: a crash between the two leaves an entry whose marker the log lacks
// (dropped when the log opens: its offset is past the end), never an ABORT marker in the log
// without its entry, which would show the aborted records to read_committed readers of the log.
void PartitionSpill::index_marker() {
    const PendingMarker& m = *marker_;
    if (const auto aborted = open_transactions_.aborted_entry(m.producer_id, m.type, m.offset))
        log_.append_aborted(*aborted);  // may throw: the batch is then written again
}

void PartitionSpill::settle_marker() {
    open_transactions_.ended(marker_->producer_id, marker_->offset);
    marker_.reset();
}

bool PartitionSpill::producer_of(const ring::RecordFrameView& frame, ring::RecordStamp& out) const {
    if (frame.stamp(out)) return out.producer_id >= 0 && out.epoch >= 0;
    const int slot = frame.producer_slot();
    if (slot < 0 || slot >= int(ring::producer_slot_count)) return false;
    const ring::ProducerSlot& s = ring_.header().producers.slots[slot];
    // Relaxed: the daemon wrote the slot before the producer learnt it, so before the record's
    // commit, whose acquire by the reader orders this after it.
    const auto state = ring::ProducerSlotState(s.state.load(std::memory_order_relaxed));
    const std::int32_t epoch = s.epoch.load(std::memory_order_relaxed);
    out.producer_id = s.producer_id.load(std::memory_order_relaxed);
    out.epoch = std::int16_t(epoch);
    return (state == ring::ProducerSlotState::active ||
            state == ring::ProducerSlotState::retiring) &&
           out.producer_id >= 0 && epoch >= 0 && epoch <= INT16_MAX;
}

bool PartitionSpill::stamp_of(const ring::RecordFrameView& frame, ring::RecordStamp& out) {
    // Values no producer id, epoch or sequence can have make a record nobody's (a reader never
    // trusts shared memory blindly): it is written without producer fields.
    if (frame.stamp(out)) return out.producer_id >= 0 && out.epoch >= 0 && out.sequence >= 0;
    if (!producer_of(frame, out)) return false;  // not a slot the daemon gave: no producer
    const std::optional<std::int32_t> in_batch =
        builder_.empty() ? std::nullopt
                         : batch_producer_.next_sequence_of(out.producer_id, out.epoch);
    out.sequence = in_batch ? *in_batch : sequences().next(out.producer_id, out.epoch);
    return true;
}

bool PartitionSpill::append_batch(std::uint64_t now_ns, std::int64_t now_ms) {
    try {
        if (marker_) index_marker();
        log_.append(builder_.finish(codec_), now_ms);
        if (marker_) settle_marker();
        if ((builder_.flags() & log::transactional_flag) != 0)
            log_.set_first_open_transaction(open_transactions_.first_open());
        if (builder_.producer_id() >= 0 && (builder_.flags() & log::control_flag) == 0)
            sequences_.written(builder_.producer_id(), builder_.producer_epoch(),
                               builder_.base_sequence(), builder_.record_count(), now_ms);
        log_.maybe_flush(now_ms);
        if (io_failing_) sink_("INFO", "spill to " + log_.dir() + " resumed");
        io_failing_ = false;
        return true;
    } catch (const Error& e) {
        // Disk full or unwritable: the cursor stays, so producers wait; nothing is lost.
        if (!io_failing_ || now_ns - last_io_log_ns_ > 5'000'000'000ULL) {
            sink_("ERROR", std::string("spill stalled, producers held back: ") + e.what());
            last_io_log_ns_ = now_ns;
        }
        io_failing_ = true;
        return false;
    }
}

// Ring-only, an attached consumer has read every record before the offset in its slot: the
// cursor jumps to the last of them (found through the claim journal) rather than walk what the
// consumer walked. That walk pulled every line back from the consumer's core, and the producer
// that rang the doorbell often waited for it, the daemon woken on its core.
void PartitionSpill::catch_up_with_readers(std::uint64_t tail) {
    std::uint64_t last_read = cursor_.offset;
    for (const ring::ReaderSlot& slot : ring_.header().readers)
        // Acquire, both: the consumer's stores of its slot say what it has read.
        if (slot.state.load(std::memory_order_acquire) ==
            std::uint32_t(ring::ReaderSlotState::attached))
            last_read = std::max(last_read, slot.offset.load(std::memory_order_acquire) - 1);
    ring::Cursor at;
    // A slot is the consumer's to write: a value the ring does not bear out is ignored.
    if (last_read > cursor_.offset && reader_.locate(last_read, at) &&
        at.position > cursor_.position && at.position < tail)
        cursor_ = at;
}

bool PartitionSpill::discard() {
    const ring::Cursor before = cursor_;
    const std::uint64_t tail = ring::load_tail(ring_.header());
    catch_up_with_readers(tail);
    // Up to the tail seen now, not after it: chasing producers would take each line from them
    // as they write it.
    for (ring::RecordRef r; cursor_.position < tail;) {
        // Each header says where the next one is: a chain of loads the core cannot run ahead
        // on, so fetch the lines ahead ourselves (they are committed history, below the tail).
        if (const std::uint64_t ahead = cursor_.position + 4096; ahead < tail)
            __builtin_prefetch(ring_.at(ahead), 0, 0);
        const ring::PeekStatus s = reader_.peek(cursor_, r);
        if (!ring::holds_offset(s)) break;
        ring::RingReader::advance(cursor_, r);
    }
    if (cursor_.position == before.position) return false;
    publish_cursor();
    pending_since_ns_ = 0;
    return true;
}

void PartitionSpill::publish_cursor() {
    ring::RingHeader& h = ring_.header();
    h.spill.spill_offset.store(cursor_.offset, std::memory_order_relaxed);
    // Release: the daemon's reads of the spilled bytes happen before producers may reuse them.
    h.spill.spill_position.store(cursor_.position, std::memory_order_release);
}

}  // namespace kbus::spill
