// What a Producer is made with (ProducerOptions, Kafka's producer configs that apply on one
// machine), what each send may say (SendOptions, BatchRecord), and what it answers
// (RecordMetadata).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "kbus/bytes.hpp"
#include "kbus/error.hpp"
#include "kbus/header_block.hpp"

namespace kbus {

struct ProducerOptions {
    std::chrono::milliseconds max_block{60000};  ///< Kafka's max.block.ms
    /// Owns every partition it sends to, from its first send there until it is destroyed: its
    /// claims are plain stores, without the locked compare-and-swap that lets producers share a
    /// ring. Any other producer of such a partition (exclusive or not, local or through the Kafka
    /// listener) is refused with Error(partition_owned). An owner that dies lets go at once,
    /// but a child it forked holds the lease (as it holds every open file) until it execs or
    /// exits; the child's copy of the Producer neither claims with plain stores nor lets go.
    bool exclusive = false;
    /// Kafka's enable.idempotence: the producer gets a producer id and epoch from the daemon (at
    /// construction) and a slot in each partition's ring at its first send there; its records
    /// name the slot, and the daemon's spill writes them to the log as Kafka's RecordBatch does,
    /// with the producer id, epoch and consecutive sequence numbers, for any Kafka tool to see.
    /// A record still goes into the ring with one claim and one commit, and not a byte more.
    bool enable_idempotence = false;
    /// Kafka's transactional.id (implies enable_idempotence): a stable identity. Constructing a
    /// producer with it takes the id's next epoch and fences the instance before it, whose next
    /// send throws Error(producer_fenced); the daemon keeps the id across its restarts. Such a
    /// producer sends only inside a transaction (begin_transaction).
    std::string transactional_id{};
    /// Kafka's transaction.timeout.ms: the daemon aborts a transaction open longer (and fences
    /// the producer, whose next call throws Error(producer_fenced)).
    std::chrono::milliseconds transaction_timeout{60000};
};

struct SendOptions {
    std::span<const HeaderView> headers{};
    std::optional<std::int64_t> timestamp;  ///< ms since the epoch; default: now (CreateTime)
    std::optional<std::int32_t> partition;  ///< default: by key, else round robin
};

/// One record of Producer::send_batch (views: the bytes are copied into the ring).
struct BatchRecord {
    BytesView key{};
    BytesView value{};
    std::span<const HeaderView> headers{};
};

struct RecordMetadata {
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::int64_t timestamp = 0;
};

/// Throws Error(invalid_argument) for transactional options Kafka would refuse.
inline void check_transactional_options(const ProducerOptions& o) {
    if (o.transactional_id.empty()) return;
    if (o.exclusive)
        throw Error(ErrorCode::invalid_argument,
                    "a transactional producer cannot be exclusive: the daemon writes its "
                    "transactions' markers into the rings it sends to");
    if (o.transactional_id.size() > 32767)  // Kafka's longest string
        throw Error(ErrorCode::invalid_argument, "a transactional id over 32767 bytes");
    // Kafka's transaction.max.timeout.ms (15 minutes) bounds it, as the broker does.
    if (o.transaction_timeout < std::chrono::milliseconds(1) ||
        o.transaction_timeout > std::chrono::minutes(15))
        throw Error(ErrorCode::invalid_argument,
                    "transaction_timeout of " + std::to_string(o.transaction_timeout.count()) +
                        " ms: it is 1 ms to 15 minutes (Kafka's transaction.max.timeout.ms)");
}

}  // namespace kbus
