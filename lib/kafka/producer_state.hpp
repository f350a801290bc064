// Kafka's idempotent producers, as the listener keeps them: producer ids handed out by
// InitProducerId, and per partition each producer's epoch and the sequence ranges and offsets of
// its last five batches (Kafka keeps five: the most in-flight requests idempotence allows). A
// retried batch is answered with the offset it got the first time instead of being written
// again; a gap in the sequence is refused with OUT_OF_ORDER_SEQUENCE_NUMBER and an old epoch with
// INVALID_PRODUCER_EPOCH. A producer a partition has no state for starts wherever it is, as in
// Kafka 2.5+ (KIP-360): the state lives in memory, so after a kbusd restart a producer goes on
// (a batch in flight across the restart may then be written twice; exactly-once across
// restarts needs the producer stamp in the stored batches).
//
// Rules from Kafka's ProducerStateManager (ProducerAppendInfo.checkSequence). One thread's: the
// listener's.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "kafka/batch_appender.hpp"
#include "kafka/kafka_api.hpp"

namespace kbus::kafka {

class ProducerStateTable {
  public:
    // new_id: where new producer ids come from (kbusd's registry, one space with local
    // producers; it keeps a restarted kbusd from handing out an id a client still holds).
    explicit ProducerStateTable(std::function<std::int64_t()> new_id)
        : new_id_(std::move(new_id)) {}

    struct ProducerId {
        std::int64_t id = -1;
        std::int16_t epoch = -1;
    };
    // InitProducerId: a new id at epoch 0, or, for an id and epoch this table handed out (KIP-360's
    // epoch bump), the same id at the next epoch (a new id once the epoch is exhausted).
    [[nodiscard]] ProducerId init(std::optional<ProducerId> current);

    // The verdict on a batch of `stamp` for a partition, before it is appended.
    enum class Verdict { append, duplicate, refuse };
    struct Check {
        Verdict verdict = Verdict::append;
        KafkaError error = KafkaError::none;  // refuse
        std::int64_t base_offset = -1;        // duplicate: the offset the batch got before
        bool unknown_here = false;  // append: the partition has no state for this producer
    };
    [[nodiscard]] Check check(const std::string& partition_key, const ProducerStamp& stamp) const;
    // After the batch is appended at base_offset.
    void appended(const std::string& partition_key, const ProducerStamp& stamp,
                  std::int64_t base_offset, std::int64_t now_ms);

    // Producer state idle longer than this is forgotten (Kafka's producer.id.expiration.ms).
    static constexpr std::int64_t expiration_ms = 24LL * 3600 * 1000;
    // Grants remembered for an epoch bump (the oldest forgotten first: its producer gets a new id).
    static constexpr std::size_t max_issued = 100'000;
    [[nodiscard]] std::size_t entries() const noexcept { return partitions_.size(); }

  private:
    struct BatchSpan {
        std::int32_t first = -1;
        std::int32_t last = -1;
        std::int64_t base_offset = -1;
    };
    struct Entry {
        std::int16_t epoch = -1;
        std::array<BatchSpan, 5> recent{};  // a ring of the last five batches
        std::size_t count = 0;              // batches recorded (the newest is count-1 mod 5)
        std::int64_t last_used_ms = 0;
        [[nodiscard]] const BatchSpan& newest() const { return recent[(count - 1) % 5]; }
    };
    void expire(std::int64_t now_ms);

    std::map<std::pair<std::string, std::int64_t>, Entry> partitions_;  // (partition, id)
    std::map<std::int64_t, std::int16_t> issued_;                       // id -> epoch
    std::function<std::int64_t()> new_id_;
    std::int64_t next_expiry_ms_ = 0;
};

}  // namespace kbus::kafka
