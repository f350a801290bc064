// The spill of one partition: takes committed records off its ring, groups consecutive ones into
// a RecordBatch v2 and appends it to the partition's log; only then does the spill cursor (the
// gate of invariant 4) move past them. Batches close when they reach batch_bytes, when their
// oldest record has waited `linger`, or at once when the ring is filling up.
//
// Not thread-safe: one thread (the spill worker, under the partition's spill mutex) drives it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kbus/control_descriptor.hpp"
#include "kbus/log/record_batch.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_reader.hpp"
#include "log/batch_builder.hpp"
#include "log/partition_log.hpp"
#include "spill/dead_claim_repair.hpp"
#include "spill/open_transactions.hpp"
#include "spill/producer_sequences.hpp"
#include "spill/spill_pacer.hpp"

namespace kbus::spill {

struct SpillOptions {
    std::size_t batch_bytes = 256 * 1024;
    std::uint64_t linger_ns = 2'000'000;
    // false: records only pass through the ring (no durability, no replay): the ring-only mode
    // benchmarks compare against. kbusd's kbus.spill.enable.
    bool write_to_log = true;
    // A claim at the cursor left uncommitted this long belongs to a dead producer: it becomes an
    // aborted gap (invariant 7). kbusd's kbus.claim.timeout.ms.
    std::uint64_t claim_timeout_ns = 1'000'000'000;
    // The bus's fence table (kbusd's control segment): a record is dropped as a fenced producer's
    // only when the table shows its producer id at a newer epoch, never on a stamp's word alone
    // (a Kafka client could name any producer id). Null: nothing is fenced.
    const control::ControlSegment* fences = nullptr;
};

// Ring-only, the spill steps over records just to keep the producers' limit moving. Doing it in
// big strides (an eighth of the ring, or after 100 ms) means it reads lines long since evicted
// to memory, in sequence, instead of pulling each one from the producer's cache as it is
// written: on a small machine that walk competed with the producers for a core.
inline constexpr std::uint64_t ring_only_linger_ns = 100'000'000;

// Kafka's producer fields belong to a batch, and a record's sequence is the batch's base sequence
// plus its offset delta: one idempotent producer's records with consecutive sequences at
// consecutive offsets share one batch; records of no such producer share another kind. Tracks
// the batch being built.
class BatchProducer {
  public:
    // Whether a record (stamped or not) at `offset` may join the batch; notes it if so.
    // A transactional record's batch holds only that producer's transactional records.
    [[nodiscard]] bool takes(bool batch_empty, bool stamped, const ring::RecordStamp& s,
                             std::uint64_t offset, bool transactional = false) noexcept {
        if (!batch_empty && (stamped != (id_ >= 0) || transactional != transactional_ ||
                             (stamped && (s.producer_id != id_ || s.epoch != epoch_ ||
                                          s.sequence != next_sequence_ || offset != next_offset_))))
            return false;
        transactional_ = transactional;
        id_ = stamped ? s.producer_id : -1;
        epoch_ = s.epoch;
        next_sequence_ = log::sequence_after(s.sequence, 1);
        next_offset_ = offset + 1;
        return true;
    }
    // The batch being built is an idempotent producer's (an offset gap must end it).
    [[nodiscard]] bool stamped() const noexcept { return id_ >= 0; }
    // Its producer's next sequence, if the batch is this producer's at this epoch.
    [[nodiscard]] std::optional<std::int32_t> next_sequence_of(std::int64_t id,
                                                               std::int16_t epoch) const noexcept {
        if (id_ != id || epoch_ != epoch) return std::nullopt;
        return next_sequence_;
    }

  private:
    bool transactional_ = false;
    std::int64_t id_ = -1;
    std::int16_t epoch_ = -1;
    std::int32_t next_sequence_ = -1;
    std::uint64_t next_offset_ = 0;
};

class PartitionSpill {
  public:
    PartitionSpill(ring::RingRef ring, log::PartitionLog& log, config::Compression codec,
                   logging::LogSink sink, SpillOptions options = {});

    // Puts the cursor where the log ends. A ring re-attached after a daemon crash holds records
    // the log already has (skipped) and records it does not (spilled next). Returns false when
    // the log's end is not in the ring (records lost with a corrupt disk: a gap is logged).
    bool position_at_log_end();

    // A transaction the coordinator found open at kbusd's start, whose records here begin at or
    // after `offset` (OpenTransactions::open_since): the last stable offset holds there until
    // its marker, and its ABORT marker's index entry reaches back to it, even where the records
    // lie before the stretch of the log's tail learn_producers reads.
    void recovered_open_transaction(std::int64_t producer_id, std::int64_t offset);

    // One pass: true if records moved to disk (or were skipped, or a dead claim was aborted).
    // Throws nothing: I/O errors are logged (rate-limited) and retried on the next pass,
    // holding producers back meanwhile.
    bool step(std::uint64_t now_ns, std::int64_t now_ms);
    // Right after a step without progress: when this partition next needs one if no doorbell
    // rings (monotonic ns; no_deadline when idle). See SpillPacer.
    [[nodiscard]] std::uint64_t next_due_ns(std::uint64_t now_ns);

    // Writes every committed record still on the ring, whatever the linger says: the clean
    // shutdown's last pass. Returns false when the disk failed (the records stay on the ring).
    // Claims left uncommitted stay so: a shutdown never decides a producer is dead...
    [[nodiscard]] bool drain(std::uint64_t now_ns, std::int64_t now_ms);
    // ...unless no process maps the ring any more (the daemon holds the clients out): then every
    // uncommitted claim is a dead producer's, aborted now, without waiting for the timeout.
    // True if any was.
    bool abort_uncommitted_claims(std::uint64_t now_ns);
    // True when the ring holds nothing the log lacks: the cursor is at the producers' next
    // offset (always, for a ring-only bus, which keeps nothing).
    [[nodiscard]] bool emptied() const noexcept {
        return !options_.write_to_log || cursor_.offset >= ring::load_next_offset(ring_.header());
    }

    // One batch of what is committed, now, whatever the linger says (a reader waits for it).
    // True if records moved to disk.
    bool write_now(std::uint64_t now_ns, std::int64_t now_ms) {
        return options_.write_to_log && write_batch(now_ns, now_ms);
    }

    // Offsets turned into aborted gaps since start (dead producers' claims). Readable from any
    // thread (relaxed: a statistic).
    [[nodiscard]] std::uint64_t aborted_offsets() const noexcept {
        return aborted_offsets_.load(std::memory_order_relaxed);
    }
    // Stamped records not written because the log had them (duplicates) or their producer was
    // fenced: gaps too. Relaxed, as above.
    [[nodiscard]] std::uint64_t dropped_records() const noexcept {
        return dropped_records_.load(std::memory_order_relaxed);
    }

    [[nodiscard]] const ring::Cursor& cursor() const noexcept { return cursor_; }
    [[nodiscard]] bool io_failing() const noexcept { return io_failing_; }
    void set_codec(config::Compression codec) noexcept { codec_ = codec; }

  private:
    // Committed bytes and records waiting after the cursor, up to batch_bytes.
    bool due(std::uint64_t now_ns);
    bool write_batch(std::uint64_t now_ns, std::int64_t now_ms);
    // added_alone: a marker, the batch's one record (a control batch holds nothing else).
    enum class Take { added, added_alone, skipped, batch_ends };
    // What write_batch does with the frame at its cursor: a record, a gap or a marker.
    Take take(const ring::RecordRef& r, ring::PeekStatus status, std::uint64_t now_ns);
    // A transaction marker: its own control batch, with its producer's id and epoch.
    Take take_marker(const ring::RecordRef& r);
    // A record's or marker's producer id and epoch: its stamp's, or its slot's. False: none.
    bool producer_of(const ring::RecordFrameView& frame, ring::RecordStamp& out) const;
    // Before the marker's batch goes to the log: an abort's entry in the .txnindex.
    void index_marker();
    // After: its transaction ends here.
    void settle_marker();
    // A record's producer stamp: its own (a Kafka client's), or, for a local producer's record,
    // its slot's producer id and epoch and the next sequence, numbered here. False: none.
    bool stamp_of(const ring::RecordFrameView& frame, ring::RecordStamp& out);
    [[nodiscard]] bool fenced(const ring::RecordStamp& s) const noexcept;
    // The batch built, to the log; false when the disk failed (logged, the cursor stays).
    bool append_batch(std::uint64_t now_ns, std::int64_t now_ms);
    void publish_cursor();
    bool discard();
    void catch_up_with_readers(std::uint64_t tail);
    // Watches claims that stay uncommitted at the cursor; aborts them once the timeout passed.
    bool repair_dead_claims(std::uint64_t now_ns);
    // Notes what the claim pair holds now, if it moved since the last observation.
    void observe_claims(std::uint64_t now_ns);
    bool abort_dead(const ClaimObservation& seen);
    // A stamped record the log has already (a duplicate) or whose epoch is fenced: logged.
    void note_dropped(const ring::RecordStamp& s, std::uint64_t offset,
                      ProducerSequences::Verdict why, std::uint64_t now_ns);
    // What the spill knows of idempotent producers: learnt from the log's tail at the first
    // stamped record since start (learn_producers), so a partition no such producer uses never
    // reads it.
    ProducerSequences& sequences() {
        if (!learnt_producers_) learn_producers();
        return sequences_;
    }
    // The producers of the batches at the log's tail, into sequences_.
    void learn_producers();

    ring::RingRef ring_;
    ring::RingReader reader_;
    log::PartitionLog& log_;
    config::Compression codec_;
    logging::LogSink sink_;
    SpillOptions options_;
    ring::Cursor cursor_;
    log::BatchBuilder builder_;
    BatchProducer batch_producer_;
    ProducerSequences sequences_;
    OpenTransactions open_transactions_;
    struct PendingMarker {
        std::int64_t producer_id;
        log::ControlType type;
        std::int64_t offset;
    };
    std::optional<PendingMarker> marker_;  // the batch being written is this marker's
    bool learnt_producers_ = false;        // sequences_ has what the log held at the first stamp
    std::uint64_t last_drop_log_ns_ = 0;
    std::vector<HeaderView> headers_;
    std::uint64_t pending_since_ns_ = 0;
    std::uint64_t tail_seen_ = 0;  // by the last due()
    SpillPacer pacer_;
    bool io_failing_ = false;
    std::uint64_t last_io_log_ns_ = 0;
    // While the cursor's claim is uncommitted: what the claim pair held, and when, oldest first.
    // Each claim's timeout counts from the first observation that shows it claimed.
    std::vector<ClaimObservation> observations_;
    // The offset whose stall was logged as beyond repair: once for each, not once a pass.
    std::uint64_t refusal_logged_for_ = ~std::uint64_t(0);
    std::atomic<std::uint64_t> aborted_offsets_{0};
    std::atomic<std::uint64_t> dropped_records_{0};
};

}  // namespace kbus::spill
