// The Kafka listener's transaction coordinator requests: AddPartitionsToTxn, AddOffsetsToTxn,
// TxnOffsetCommit and EndTxn, served by kbusd's one TransactionCoordinator (local producers' too),
// so a Kafka client's transaction gets the same markers, .txnindex entries and timeout. Its
// records go through Produce (kafka_requests.cpp), checked against the open transaction.
#include "kafka_errors.hpp"
#include "kafka_listener.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

// The Kafka error of a coordinator's refusal. PRODUCER_FENCED came with v2 of these APIs: a
// client of an older version is told INVALID_PRODUCER_EPOCH, as Kafka does.
KafkaError transaction_error(const kbus::Error& e, std::int16_t version) {
    if (e.code() == kbus::ErrorCode::producer_fenced && version < 2)
        return KafkaError::invalid_producer_epoch;
    return error_of(e);
}

}  // namespace

void KafkaListener::add_partitions_to_txn(KafkaConnection& c, const KafkaRequest& q) {
    const Value& b = q.body;
    const std::int64_t producer = b["V3AndBelowProducerId"].integer();
    const std::int16_t epoch = b["V3AndBelowProducerEpoch"].i16();
    Value r = response_of(q);
    for (const Value& topic : b["V3AndBelowTopics"].items()) {
        Value& t = r["ResultsByTopicV3AndBelow"].add();
        const std::string name(topic["Name"].text());
        t["Name"].set_text(name);
        for (const Value& partition : topic["Partitions"].items()) {
            Value& p = t["ResultsByPartition"].add();
            p["PartitionIndex"].set(partition.i32());
            KafkaError error = KafkaError::none;
            try {
                backend_.add_to_transaction(producer, epoch, name, partition.i32());
            } catch (const kbus::Error& e) {
                error = transaction_error(e, q.version());
                warn("transactions", "AddPartitionsToTxn of producer " + std::to_string(producer) +
                                         " for " + name + "-" + std::to_string(partition.i32()) +
                                         " refused: " + e.what());
            }
            p["PartitionErrorCode"].set(std::int16_t(error));
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::add_offsets_to_txn(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    try {
        backend_.open_transaction(q.body["ProducerId"].integer(), q.body["ProducerEpoch"].i16());
    } catch (const kbus::Error& e) {
        set_error(r, transaction_error(e, q.version()));
        warn("transactions", std::string("AddOffsetsToTxn refused: ") + e.what());
    }
    respond_with(c, q, r);
}

void KafkaListener::txn_offset_commit(KafkaConnection& c, const KafkaRequest& q) {
    const Value& b = q.body;
    kbus::group::TxnOffsetCommitRequest t;
    t.producer_id = b["ProducerId"].integer();
    t.epoch = b["ProducerEpoch"].i16();
    t.group = b["GroupId"].text();
    t.generation = b["GenerationId"].i32();  // -1 before v3: a commit outside any generation
    t.member_id = b["MemberId"].text();
    for (const Value& topic : b["Topics"].items())
        for (const Value& p : topic["Partitions"].items())
            t.offsets.push_back({{std::string(topic["Name"].text()), p["PartitionIndex"].i32()},
                                 p["CommittedOffset"].integer()});
    KafkaError error = KafkaError::none;
    try {
        backend_.add_transaction_offsets(t);
    } catch (const kbus::Error& e) {
        error = e.code() == kbus::ErrorCode::producer_fenced ? KafkaError::invalid_producer_epoch
                                                             : error_of(e);
        warn("transactions", "TxnOffsetCommit of group '" + t.group + "' refused: " + e.what());
    }
    Value r = response_of(q);
    for (const Value& topic : b["Topics"].items()) {
        Value& out = r["Topics"].add();
        out["Name"].set_text(std::string(topic["Name"].text()));
        for (const Value& p : topic["Partitions"].items()) {
            Value& part = out["Partitions"].add();
            part["PartitionIndex"].set(p["PartitionIndex"].i32());
            part["ErrorCode"].set(std::int16_t(error));
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::end_txn(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const std::int64_t producer = q.body["ProducerId"].integer();
    const bool commit = q.body["Committed"].boolean();
    try {
        backend_.end_transaction(producer, q.body["ProducerEpoch"].i16(), commit);
    } catch (const kbus::Error& e) {
        set_error(r, transaction_error(e, q.version()));
        warn("transactions", std::string("EndTxn (") + (commit ? "commit" : "abort") +
                                 ") of producer " + std::to_string(producer) +
                                 " refused: " + e.what());
    }
    respond_with(c, q, r);
}

}  // namespace kbusd
