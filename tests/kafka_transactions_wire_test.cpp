// Kafka's transaction coordinator APIs at the wire, encoded at Kafka's own versions through the
// schema tables: InitProducerId with a transactional id, AddPartitionsToTxn, transactional
// Produce, EndTxn; what a client out of turn, a fenced instance and a bad timeout are told, and
// the log the transactions leave, read by a reader kbus did not write.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "independent_segment_reader.hpp"
#include "kafka_schema_client.hpp"
#include "kbus/log/control_record.hpp"
#include "read_values.hpp"
#include "segment_batches.hpp"

using namespace std::chrono_literals;
using kbus::kafka::ApiKey;
using kbus::kafka::KafkaError;
using kbus::kafka::Value;
using kbus::test::error_in;
using kbus::test::produce;
using kbus::test::SchemaClient;
using kbus::test::stamped_batch;

namespace {

constexpr std::int16_t transactional = kbus::log::transactional_flag;

// A transactional producer of one partition ("wt"-0) as a Kafka client drives it.
struct WireProducer {
    SchemaClient& s;
    std::string id;
    std::int64_t pid = -1;
    std::int16_t epoch = -1;

    Value init(std::int32_t timeout_ms) {
        Value q = SchemaClient::request(ApiKey::init_producer_id);
        q["TransactionalId"].set_text(id);
        q["TransactionTimeoutMs"].set(timeout_ms);
        Value r = s.call(ApiKey::init_producer_id, 1, q);
        if (error_in(r) == KafkaError::none) {
            pid = r["ProducerId"].integer();
            epoch = r["ProducerEpoch"].i16();
        }
        return r;
    }
    KafkaError add(std::int16_t at_epoch, std::int16_t version) {
        Value q = SchemaClient::request(ApiKey::add_partitions_to_txn);
        q["V3AndBelowTransactionalId"].set_text(id);
        q["V3AndBelowProducerId"].set(pid);
        q["V3AndBelowProducerEpoch"].set(at_epoch);
        Value& t = q["V3AndBelowTopics"].add();
        t["Name"].set_text("wt");
        t["Partitions"].add().set(0);
        const Value r = s.call(ApiKey::add_partitions_to_txn, version, q);
        return KafkaError(r["ResultsByTopicV3AndBelow"]
                              .items()
                              .at(0)["ResultsByPartition"]
                              .items()
                              .at(0)["PartitionErrorCode"]
                              .i16());
    }
    KafkaError end(bool commit, std::int16_t version = 1) {
        Value q = SchemaClient::request(ApiKey::end_txn);
        q["TransactionalId"].set_text(id);
        q["ProducerId"].set(pid);
        q["ProducerEpoch"].set(epoch);
        q["Committed"].set(commit ? 1 : 0);
        return error_in(s.call(ApiKey::end_txn, version, q));
    }
    kbus::test::Produced send(std::int16_t at_epoch, std::int32_t sequence, int count,
                              std::int16_t flags = transactional) {
        return produce(s, "wt", stamped_batch(pid, at_epoch, sequence, count, flags), id.c_str());
    }
};

std::vector<std::string> values_read(kbus::Client& c, kbus::IsolationLevel level) {
    return kbus::test::values_in(c, "wt", level);
}

}  // namespace

TEST_CASE("Kafka transactions at the wire: out of turn, fenced, retried, and the log they leave",
          "[kafka][transactions]") {
    kbus::test::KafkaDaemon k("ktx-wire");
    kbus::Client c(k.d.options());
    c.create_topic("wt", 1);
    SchemaClient s(k.broker);
    WireProducer p{s, "wire-app"};

    // A bad timeout and an empty id are refused.
    CHECK(error_in(p.init(0)) == KafkaError::invalid_transaction_timeout);
    CHECK(error_in(p.init(3'600'000)) == KafkaError::invalid_transaction_timeout);
    WireProducer nameless{s, ""};
    CHECK(error_in(nameless.init(1000)) == KafkaError::invalid_request);
    REQUIRE(error_in(p.init(60'000)) == KafkaError::none);
    const std::int64_t pid = p.pid;
    const std::int16_t first_epoch = p.epoch;
    REQUIRE(pid >= 0);

    // Out of turn: an end with nothing open, records to a partition never added.
    CHECK(p.end(true) == KafkaError::invalid_txn_state);
    CHECK(p.send(p.epoch, 0, 2).error == KafkaError::invalid_txn_state);
    CHECK(p.add(p.epoch, 1) == KafkaError::none);
    CHECK(p.send(p.epoch, 0, 2).base_offset == 0);
    // A batch of the same producer without the transactional bit, inside its transaction: it
    // would escape the transaction's abort, and Kafka refuses it.
    CHECK(p.send(p.epoch, 2, 1, 0).error == KafkaError::invalid_txn_state);
    // Markers are the coordinator's: a client's control batch is refused.
    CHECK(p.send(p.epoch, 2, 1, transactional | kbus::log::control_flag).error ==
          KafkaError::invalid_record);
    CHECK(p.end(true) == KafkaError::none);  // the COMMIT marker at offset 2
    CHECK(p.end(true) == KafkaError::none);  // a retry, its answer lost: answered again
    CHECK(p.end(false) == KafkaError::invalid_txn_state);  // the other outcome: out of turn

    // A new instance fences the old one: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before.
    REQUIRE(error_in(p.init(60'000)) == KafkaError::none);
    CHECK(p.pid == pid);
    CHECK(p.epoch == first_epoch + 1);
    CHECK(p.add(first_epoch, 1) == KafkaError::invalid_producer_epoch);
    CHECK(p.add(first_epoch, 2) == KafkaError::producer_fenced);
    CHECK(p.send(first_epoch, 2, 1).error == KafkaError::invalid_producer_epoch);
    // The new instance's transaction, left open: the next instance aborts it (the ABORT at 6).
    CHECK(p.add(p.epoch, 3) == KafkaError::none);
    CHECK(p.send(p.epoch, 0, 3).base_offset == 3);
    REQUIRE(error_in(p.init(60'000)) == KafkaError::none);
    CHECK(p.epoch == first_epoch + 2);

    CHECK(values_read(c, kbus::IsolationLevel::read_committed) ==
          std::vector<std::string>{"seq-0", "seq-1"});
    CHECK(values_read(c, kbus::IsolationLevel::read_uncommitted).size() == 5);
    kbus::test::wait_spilled(c, "wt");
    const std::string id = std::to_string(pid);
    CHECK(kbus::test::independent_segment_lines(k.d.data_dir() + "/wt-0") ==
          std::vector<std::string>{"data 0 1 " + id + " 1 -", "control 2 2 " + id + " 1 commit",
                                   "data 3 5 " + id + " 1 -", "control 6 6 " + id + " 1 abort",
                                   "aborted " + id + " 3 6 7"});
}
