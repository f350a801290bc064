// The Kafka listener's idempotent and transactional producers. InitProducerId hands out producer
// ids and epochs: an idempotent producer's from producer_state.hpp's table (which checks every
// stamped batch before it is appended), a transactional id's from kbusd's registry, as a local
// transactional producer's (a newer instance fences the older, whose open transaction aborts).
#include "kafka_errors.hpp"
#include "kafka_listener.hpp"

namespace kbusd {

using namespace kbus::kafka;

void KafkaListener::init_producer_id(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    if (!q.body["TransactionalId"].is_null()) {
        init_transactional_producer(c, q, r);
        return;
    }
    std::optional<ProducerStateTable::ProducerId> current;
    if (q.body["ProducerId"].integer() >= 0)
        current = ProducerStateTable::ProducerId{q.body["ProducerId"].integer(),
                                                 q.body["ProducerEpoch"].i16()};
    const auto granted = producers_.init(current);
    r["ProducerId"].set(granted.id);
    r["ProducerEpoch"].set(granted.epoch);
    respond_with(c, q, r);
}

void KafkaListener::init_transactional_producer(KafkaConnection& c, const KafkaRequest& q,
                                                Value& r) {
    const std::string id(q.body["TransactionalId"].text());
    r["ProducerId"].set(std::int64_t(-1));
    r["ProducerEpoch"].set(-1);
    if (id.empty()) {  // as Kafka: an empty transactional id is no id at all
        set_error(r, KafkaError::invalid_request);
        respond_with(c, q, r);
        return;
    }
    try {
        const KafkaBackend::ProducerGrant g =
            backend_.init_transactional(id, q.body["TransactionTimeoutMs"].integer());
        r["ProducerId"].set(g.id);
        r["ProducerEpoch"].set(g.epoch);
    } catch (const kbus::Error& e) {
        set_error(r, e.code() == kbus::ErrorCode::invalid_argument
                         ? KafkaError::invalid_transaction_timeout
                         : error_of(e));
        warn("transactions",
             "InitProducerId for transactional id '" + id + "' refused: " + e.what());
    }
    respond_with(c, q, r);
}

// An idempotent producer's batch against what the partition has seen from it: appended,
// answered as the duplicate it is (with the offset it got before), or refused. A batch of a
// producer the partition has no state for, or one out of sequence, may be a retry across a kbusd
// restart: the log's tail has what the last run wrote (the state is not seeded from it, so each
// such retry is looked up there, and the producer's next new batch starts its state afresh).
std::optional<ProducedPartition> KafkaListener::check_producer(const std::string& topic,
                                                               const std::string& partition_key,
                                                               ProducedPartition result) {
    const ProducerStateTable::Check check = producers_.check(partition_key, decoder_.producer());
    const bool may_be_retry =
        check.unknown_here || check.error == KafkaError::out_of_order_sequence_number;
    if (may_be_retry)
        if (const auto at =
                backend_.offset_before_start(topic, result.index, decoder_.producer())) {
            result.base_offset = *at;
            return result;
        }
    switch (check.verdict) {
        case ProducerStateTable::Verdict::append:
            return std::nullopt;
        case ProducerStateTable::Verdict::duplicate:
            result.base_offset = check.base_offset;
            return result;
        case ProducerStateTable::Verdict::refuse:
            result.error = check.error;
            warn("producer " + partition_key,
                 "Kafka produce to " + partition_key + " refused: producer " +
                     std::to_string(decoder_.producer().id) + " epoch " +
                     std::to_string(decoder_.producer().epoch) + " sequence " +
                     std::to_string(decoder_.producer().first_sequence) + " (" +
                     (check.error == KafkaError::out_of_order_sequence_number ? "out of order"
                      : check.error == KafkaError::invalid_producer_epoch     ? "an old epoch"
                      : check.error == KafkaError::unknown_producer_id ? "an unknown producer"
                                                                       : "a bad stamp") +
                     ")");
            return result;
    }
    return std::nullopt;
}

}  // namespace kbusd
