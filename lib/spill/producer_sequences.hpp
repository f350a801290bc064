// What the spill has written of each idempotent producer in one partition: its newest epoch and
// the sequence its next record should have (Kafka's producer state, as the spill keeps it). A
// record whose sequence was already written at its epoch is a duplicate, not written again (a
// gap in the log's offsets, as an aborted claim is). An epoch older than one already written is
// reported; the spill drops it only if the bus's fence table confirms a newer instance (a stamp
// alone is anyone's word). A sequence that jumps ahead is written.
//
// Rebuilt after a start from the batches at the log's tail (PartitionSpill::learn_producers), so a
// record retried across a kbusd restart is still known. Not thread-safe: the partition's spill owns
// it.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "kbus/log/record_batch.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::spill {

class ProducerSequences {
  public:
    enum class Verdict { write, duplicate, older_epoch };

    [[nodiscard]] Verdict check(const ring::RecordStamp& s) const noexcept {
        const auto it = producers_.find(s.producer_id);
        if (it == producers_.end() || s.epoch > it->second.epoch) return Verdict::write;
        if (s.epoch < it->second.epoch) return Verdict::older_epoch;
        // Behind the next expected sequence by at most half the sequence space: written before.
        const std::int32_t behind = log::sequence_after(it->second.next, -std::int64_t(s.sequence));
        return behind > 0 && behind <= INT32_MAX / 2 + 1 ? Verdict::duplicate : Verdict::write;
    }

    // The sequence a producer's next record at `epoch` gets when the spill numbers it (a local
    // producer's, through its slot): where the log's left off, or 0 at a new epoch.
    [[nodiscard]] std::int32_t next(std::int64_t producer_id, std::int16_t epoch) const noexcept {
        const auto it = producers_.find(producer_id);
        return it != producers_.end() && it->second.epoch == epoch ? it->second.next : 0;
    }

    // `count` records of one producer at one epoch, from `first` on, are in the log.
    void written(std::int64_t producer_id, std::int16_t epoch, std::int32_t first,
                 std::int32_t count, std::int64_t now_ms) {
        State& st = producers_[producer_id];
        st = {epoch, log::sequence_after(first, count), now_ms};
        expire(now_ms);
    }

    // A producer idle this long is forgotten (Kafka's producer.id.expiration.ms, 1 day).
    static constexpr std::int64_t expiration_ms = 24LL * 3600 * 1000;

  private:
    struct State {
        std::int16_t epoch = -1;
        std::int32_t next = 0;
        std::int64_t last_ms = 0;
    };
    void expire(std::int64_t now_ms) {
        if (now_ms < next_expiry_ms_) return;
        next_expiry_ms_ = now_ms + 60'000;
        std::erase_if(producers_,
                      [&](const auto& kv) { return now_ms - kv.second.last_ms > expiration_ms; });
    }

    std::unordered_map<std::int64_t, State> producers_;
    std::int64_t next_expiry_ms_ = 0;
};

}  // namespace kbus::spill
