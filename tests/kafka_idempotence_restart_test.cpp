// An idempotent Kafka producer's batch retried across a kbusd restart, at the wire: the answer
// to its first try was lost with the old kbusd, so the client sends it again to the new one.
// Kafka answers a duplicate with the offset the batch got the first time, and so does kbusd,
// from the log's tail: after a clean stop (SIGTERM, everything on disk) and after a SIGKILL (the
// ring left in shared memory, adopted by the new kbusd). The log holds every record once.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kafka_daemon.hpp"
#include "kafka_schema_client.hpp"
#include "read_values.hpp"

using kbus::kafka::ApiKey;
using kbus::kafka::KafkaError;
using kbus::kafka::Value;
using kbus::test::error_in;
using kbus::test::produce;
using kbus::test::SchemaClient;
using kbus::test::stamped_batch;
using kbus::test::values_in;

namespace {

std::int64_t init_producer(SchemaClient& s) {
    Value init = SchemaClient::request(ApiKey::init_producer_id);
    init["TransactionalId"].set_null();
    init["TransactionTimeoutMs"].set(60000);
    const Value granted = s.call(ApiKey::init_producer_id, 4, init);
    REQUIRE(error_in(granted) == KafkaError::none);
    REQUIRE(granted["ProducerEpoch"].i16() == 0);
    return granted["ProducerId"].integer();
}

}  // namespace

TEST_CASE("an idempotent Kafka producer's batch retried across a kbusd restart keeps its offset",
          "[kafka][idempotence]") {
    const bool crash = GENERATE(false, true);
    INFO((crash ? "SIGKILL" : "SIGTERM"));
    kbus::test::KafkaDaemon k(crash ? "kidem-kill" : "kidem-term", /*fixed_port=*/true);
    kbus::Client(k.d.options()).create_topic("ir", 1);
    std::int64_t pid = -1, other = -1;
    {
        SchemaClient s(k.broker);
        pid = init_producer(s);
        other = init_producer(s);
        CHECK(produce(s, "ir", stamped_batch(pid, 0, 0, 3)).base_offset == 0);
        CHECK(produce(s, "ir", stamped_batch(other, 0, 0, 1)).base_offset == 3);
        CHECK(produce(s, "ir", stamped_batch(pid, 0, 3, 2)).base_offset == 4);
    }
    if (crash)
        k.d.kill_hard();
    else
        REQUIRE(k.d.stop() == 0);
    k.d.restart();

    SchemaClient s(k.broker);
    // Its last batch again, then the one before (both of its five in flight): their first offsets.
    const kbus::test::Produced again = produce(s, "ir", stamped_batch(pid, 0, 3, 2));
    CHECK(again.error == KafkaError::none);
    CHECK(again.base_offset == 4);
    CHECK(produce(s, "ir", stamped_batch(pid, 0, 0, 3)).base_offset == 0);
    CHECK(produce(s, "ir", stamped_batch(other, 0, 0, 1)).base_offset == 3);
    // It goes on where it left off, and a gap is refused again, now that the state is back.
    CHECK(produce(s, "ir", stamped_batch(pid, 0, 5, 1)).base_offset == 6);
    CHECK(produce(s, "ir", stamped_batch(pid, 0, 9, 1)).error ==
          KafkaError::out_of_order_sequence_number);
    // A producer of this run starts anywhere, as before (KIP-360).
    const std::int64_t fresh = init_producer(s);
    CHECK(produce(s, "ir", stamped_batch(fresh, 0, 0, 1)).base_offset == 7);

    kbus::Client c(k.d.options());
    CHECK(c.describe_topic("ir").partitions.at(0).high_watermark == 8);
    CHECK(values_in(c, "ir") == std::vector<std::string>{"seq-0", "seq-1", "seq-2", "seq-0",
                                                         "seq-3", "seq-4", "seq-5", "seq-0"});
}
