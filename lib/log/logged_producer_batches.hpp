// Where idempotent producers' records sit in a log's tail, by sequence number. The Kafka
// listener's producer state lives in memory; after kbusd restarts, a client retrying a batch
// whose answer the restart lost is answered from here with the offset the batch got the first
// time, as Kafka answers a duplicate, instead of being appended again (the spill would drop the
// copy as a duplicate, and the client would hold the offset of a gap).
//
// Built once from the tail (log_tail.hpp), then only read. Not thread-safe while built.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kbus/log/record_batch.hpp"

namespace kbus::log {

class LoggedProducerBatches {
  public:
    // A batch of the tail, oldest first (control batches and unstamped ones are passed over).
    void add(const BatchView& b);
    // The offset of the record with sequence `first` of producer `id` at `epoch`, when the tail
    // holds it and every record up to sequence `last` after it; nullopt otherwise.
    [[nodiscard]] std::optional<std::int64_t> offset_of(std::int64_t id, std::int16_t epoch,
                                                        std::int32_t first,
                                                        std::int32_t last) const;
    [[nodiscard]] bool empty() const noexcept { return spans_.empty(); }

    // The spans kept per producer, newest: a client retries at most its 5 in-flight batches, and
    // the spill may have split each among several batches.
    static constexpr std::size_t spans_per_producer = 64;

  private:
    struct Span {
        std::int16_t epoch = -1;
        std::int32_t first_sequence = 0;
        std::int64_t count = 0;
        std::int64_t base_offset = 0;
        [[nodiscard]] std::optional<std::int64_t> offset_of(std::int32_t sequence) const;
    };
    std::unordered_map<std::int64_t, std::vector<Span>> spans_;  // producer id -> oldest first
};

}  // namespace kbus::log
