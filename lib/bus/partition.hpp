// One partition of a topic, as the daemon holds it: its ring in shared memory, its log on disk,
// the spill that moves records from one to the other, and the producer gate (reader tethers and
// the producer limit). Shared (std::shared_ptr) by whoever works on it, so that a topic deleted
// meanwhile stays valid until the last of them is done.
//
// Threads: the spill worker drives spill() under spill_mutex(); everything else here is safe from
// any thread (the log and the gate lock themselves, the ring is read through its atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bus/ring_store.hpp"
#include "config/topic_config.hpp"
#include "groups/commit_slots.hpp"
#include "kbus/control_messages.hpp"
#include "kbus/detail/clock.hpp"
#include "log/logged_producer_batches.hpp"
#include "log/partition_log.hpp"
#include "logging/log_sink.hpp"
#include "spill/partition_spill.hpp"
#include "spill/producer_gate.hpp"

namespace kbus::bus {

struct PartitionSetup {
    std::string dir;      // <data dir>/<topic>-<partition>
    bool verify = false;  // check every batch's CRC (after an unclean shutdown)
    spill::SpillOptions spill;
    logging::LogSink sink;
};

class Partition {
  public:
    Partition(const protocol::TopicMetadata& topic, std::int32_t index,
              const config::TopicConfig& config, const RingStore& rings,
              const PartitionSetup& setup);
    Partition(const Partition&) = delete;
    Partition& operator=(const Partition&) = delete;

    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] std::int32_t index() const noexcept { return index_; }
    [[nodiscard]] ring::RingRef ring() const noexcept { return ring_.ring; }
    // The ring's shared-memory object.
    [[nodiscard]] const std::string& ring_name() const noexcept { return ring_name_; }
    [[nodiscard]] log::PartitionLog& log() noexcept { return *log_; }
    [[nodiscard]] const log::PartitionLog& log() const noexcept { return *log_; }
    [[nodiscard]] spill::ProducerGate& gate() noexcept { return *gate_; }
    [[nodiscard]] const spill::ProducerGate& gate() const noexcept { return *gate_; }
    // The spill is the spill worker's: hold spill_mutex() while using it.
    [[nodiscard]] std::mutex& spill_mutex() noexcept { return spill_mutex_; }
    [[nodiscard]] spill::PartitionSpill& spill() noexcept { return *spill_; }
    // Offsets turned into aborted gaps (dead producers' claims): readable from any thread.
    [[nodiscard]] std::uint64_t spill_aborted_offsets() const noexcept {
        return spill_->aborted_offsets();
    }

    // A producer's first use (ReserveRingRequest, a Kafka produce): the ring's journal and data
    // are allocated, then producers get room. Idempotent; throws Error(resource_exhausted).
    void reserve_ring();
    // Acquire: a true here means the ring's memory is allocated.
    [[nodiscard]] bool ring_reserved() const noexcept {
        return reserved_.load(std::memory_order_acquire);
    }
    // What the ring holds of shared memory now: its header, or all of it once reserved.
    [[nodiscard]] std::uint64_t ring_memory_bytes() const noexcept;
    // What reserving it would add.
    [[nodiscard]] std::uint64_t ring_reserve_bytes() const noexcept;
    // A topic's settings changed (alter): the log's and the spill's.
    void apply_config(const config::TopicConfig& config);
    // The topic was deleted: waits for a spill step under way, and the spill worker leaves the
    // partition alone from then on (its files are about to go).
    void retire();
    // Under spill_mutex().
    [[nodiscard]] bool retired() const noexcept { return retired_; }

    // The next offset producers will be given.
    [[nodiscard]] std::uint64_t high_watermark() const noexcept;
    [[nodiscard]] protocol::PartitionState state() const;
    // Where a reader asking for `kind`/`offset` starts. Throws Error(offset_out_of_range) for an
    // offset beyond the high watermark or below the log start.
    [[nodiscard]] std::uint64_t start_offset(protocol::OffsetSpecKind kind,
                                             std::int64_t offset) const;
    // The first offset at or after `ts`: on disk through the time index, else among the records
    // the spill has not taken yet, else the high watermark.
    [[nodiscard]] std::uint64_t offset_for_timestamp(std::int64_t ts) const;
    // Batches from the log for a consumer behind the ring (protocol::FetchRequest). Throws
    // Error(corrupt_record) for offsets that damage in the log cost (a compressed batch whose
    // CRC fails here is found and remembered on the way).
    // `read_committed`: with the last stable offset and the aborted transactions past `offset`.
    [[nodiscard]] protocol::FetchReply fetch(std::int64_t offset, std::uint32_t max_bytes,
                                             bool as_extent, std::uint32_t max_message_bytes,
                                             bool read_committed = false) const;
    // A consumer found a batch at `offset` that fails its CRC (ReportCorruptBatchRequest): the
    // log checks it itself; what it confirms is remembered, logged once, and answered.
    [[nodiscard]] protocol::CorruptBatchReply report_corrupt(std::int64_t offset);

    // A Kafka fetch waits for records that are on the ring but not yet in the log: the spill
    // writes them at its next pass instead of letting the batch linger. True if newly asked.
    bool request_flush() noexcept {
        // Relaxed: a hint; the records themselves travel through the ring's own ordering.
        return !flush_requested_.exchange(true, std::memory_order_relaxed);
    }
    [[nodiscard]] bool take_flush_request() noexcept {
        return flush_requested_.exchange(false, std::memory_order_relaxed);
    }
    // A Kafka fetch found nothing past the log's end here and waits: records appended meanwhile
    // are flushed at once rather than after the spill's linger (a waiting consumer is the
    // latency; batching for it only adds to it). Cleared when a fetch gets records, and lapses
    // a second after the last look of a waiting fetch (a parked one looks every millisecond),
    // so a consumer that went away leaves batching as it was.
    void set_fetch_waiting(bool waiting) noexcept {
        // Relaxed: a hint, as flush_requested_.
        fetch_waiting_until_ms_.store(waiting ? now_ms() + 1000 : 0, std::memory_order_relaxed);
    }
    [[nodiscard]] bool fetch_waiting() const noexcept {
        return fetch_waiting_until_ms_.load(std::memory_order_relaxed) > now_ms();
    }

    // The transaction coordinator's recovery: `producer_id`'s transaction was open here when
    // kbusd stopped, its records at or after `first_offset` (spill::PartitionSpill's
    // recovered_open_transaction, under the spill lock).
    void recovered_open_transaction(std::int64_t producer_id, std::int64_t first_offset) {
        std::lock_guard lock(spill_mutex_);
        spill_->recovered_open_transaction(producer_id, first_offset);
    }
    // The high watermark this kbusd found at its start: records below it may be an earlier run's.
    [[nodiscard]] std::int64_t end_at_start() const noexcept { return end_at_start_; }
    // Where an idempotent producer's records with sequences first..last went before this kbusd
    // started (log::LoggedProducerBatches), from the log's tail, read at the first call; the log
    // must hold every offset below end_at_start() by then (Bus::wait_for_log). Any thread.
    [[nodiscard]] std::optional<std::int64_t> offset_before_start(std::int64_t producer_id,
                                                                  std::int16_t epoch,
                                                                  std::int32_t first,
                                                                  std::int32_t last);

    // The group service's bookkeeping of this ring's commit slots (under its lock).
    groups::PersistedCommits persisted_commits{};

  private:
    // A ring an older kbus left, replaced (RingStore): whether its records were all on disk.
    void log_replaced_ring(const logging::LogSink& sink) const;
    void add_transactions(protocol::FetchReply& f, std::int64_t offset) const;
    void set_keys_required(const config::TopicConfig& config) noexcept;
    std::string topic_;
    std::int32_t index_;
    std::string ring_name_;
    RingStore rings_;  // a copy: a partition may outlive its bus (held by a fetch, say)
    std::unique_ptr<log::PartitionLog> log_;
    MappedRing ring_;
    std::unique_ptr<spill::ProducerGate> gate_;
    std::mutex spill_mutex_;
    std::unique_ptr<spill::PartitionSpill> spill_;
    std::atomic<bool> flush_requested_{false};
    std::atomic<std::int64_t> fetch_waiting_until_ms_{0};  // monotonic ms
    [[nodiscard]] static std::int64_t now_ms() noexcept {
        return std::int64_t(detail::monotonic_ns() / 1'000'000);
    }
    std::mutex reserve_mutex_;
    std::atomic<bool> reserved_{false};
    bool retired_ = false;  // under spill_mutex_
    std::int64_t end_at_start_ = 0;
    std::once_flag logged_once_;
    log::LoggedProducerBatches logged_;  // built once, under logged_once_; read-only after
};

}  // namespace kbus::bus
