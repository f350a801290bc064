// librdkafka's transactional producer and read_committed consumer (Debian's librdkafka, at its
// defaults) against kbusd's listener: committed transactions are read, aborted ones never, a
// group's offsets commit with the output, a producer that dies mid-transaction is aborted by its
// timeout, and the log holds Kafka's control batches and .txnindex entries, as a reader kbus did
// not write (kafka-python's) finds them.
#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "independent_segment_reader.hpp"
#include "kafka_daemon.hpp"
#include "kafka_test_support.hpp"
#include "segment_batches.hpp"

using namespace std::chrono_literals;
using kbus::test::KafkaDaemon;
using kbus::test::KafkaHandle;

namespace {

// A librdkafka transactional call's outcome: nothing, or the test fails with its message.
void succeeds(rd_kafka_error_t* e) {
    const std::string why = e ? rd_kafka_error_string(e) : "";
    if (e) rd_kafka_error_destroy(e);
    INFO(why);
    REQUIRE(why.empty());
}

void send(rd_kafka_t* producer, const std::string& topic, std::int32_t partition,
          const std::string& value) {
    REQUIRE(kbus::test::produce_copy(producer, topic.c_str(), partition, "k", value) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

std::vector<std::string> named(const std::string& prefix, int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i)
        v.push_back(prefix + std::to_string(i));
    return v;
}

// Every value a librdkafka consumer at `isolation` reads from both partitions of `topic`, sorted;
// it stops `idle` after the last one.
std::vector<std::string> kafka_read(const std::string& broker, const std::string& topic,
                                    const std::string& isolation, int idle_polls = 15) {
    KafkaHandle consumer = kbus::test::kafka_client(RD_KAFKA_CONSUMER, broker,
                                                    {{"group.id", "reader-" + isolation},
                                                     {"isolation.level", isolation},
                                                     {"enable.auto.commit", "false"}});
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(2);
    for (int p = 0; p < 2; ++p)
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(consumer.get(), parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<std::string> values;
    for (int idle = 0; idle < idle_polls;) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
        if (m == nullptr) {
            ++idle;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            idle = 0;
            values.emplace_back(static_cast<const char*>(m->payload), m->len);
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            FAIL_CHECK(rd_kafka_err2str(m->err));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());
    std::sort(values.begin(), values.end());
    return values;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("librdkafka's transactional producer and read_committed consumer run against kbusd",
          "[kafka][transactions]") {
    KafkaDaemon k("ktx-rdkafka");
    kbus::Client c(k.d.options());
    c.create_topic("rt", 2);
    c.create_topic("rin", 1);
    {
        kbus::Producer local(c);
        for (int i = 0; i < 10; ++i)
            (void)local.send("rin", "k", "in-" + std::to_string(i));
    }
    KafkaHandle tx =
        kbus::test::kafka_client(RD_KAFKA_PRODUCER, k.broker, {{"transactional.id", "rt-app"}});
    succeeds(rd_kafka_init_transactions(tx.get(), 30000));
    // Committed (10 on each partition), aborted (5 on each), committed with the group's offsets.
    succeeds(rd_kafka_begin_transaction(tx.get()));
    for (int i = 0; i < 10; ++i) {
        send(tx.get(), "rt", 0, "c1-" + std::to_string(i));
        send(tx.get(), "rt", 1, "c1-" + std::to_string(10 + i));
    }
    succeeds(rd_kafka_commit_transaction(tx.get(), 30000));
    succeeds(rd_kafka_begin_transaction(tx.get()));
    for (int i = 0; i < 5; ++i) {
        send(tx.get(), "rt", 0, "a2-" + std::to_string(i));
        send(tx.get(), "rt", 1, "a2-" + std::to_string(5 + i));
    }
    // Written first: librdkafka's abort drops what it has not sent yet.
    REQUIRE(rd_kafka_flush(tx.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    succeeds(rd_kafka_abort_transaction(tx.get(), 30000));
    succeeds(rd_kafka_begin_transaction(tx.get()));
    for (int i = 0; i < 3; ++i)
        send(tx.get(), "rt", 0, "c3-" + std::to_string(i));
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, "rin", 0)->offset = 7;
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new("rt-copier");
    succeeds(rd_kafka_send_offsets_to_transaction(tx.get(), offsets, group, 30000));
    rd_kafka_consumer_group_metadata_destroy(group);
    rd_kafka_topic_partition_list_destroy(offsets);
    succeeds(rd_kafka_commit_transaction(tx.get(), 30000));

    std::vector<std::string> committed = named("c1-", 0, 20);
    for (const std::string& v : named("c3-", 0, 3))
        committed.push_back(v);
    committed = sorted(committed);
    std::vector<std::string> everything = committed;
    for (const std::string& v : named("a2-", 0, 10))
        everything.push_back(v);
    everything = sorted(everything);
    CHECK(kafka_read(k.broker, "rt", "read_committed") == committed);
    CHECK(kafka_read(k.broker, "rt", "read_uncommitted") == everything);
    const auto group_offsets = kbus::group::committed(c, "rt-copier", "rin");
    REQUIRE(group_offsets.size() == 1);
    CHECK(group_offsets.front().second == 7);

    // The log: each partition's data batches, transactional, and a marker per transaction.
    kbus::test::wait_spilled(c, "rt");
    const std::vector<std::string> p1 =
        kbus::test::independent_segment_lines(k.d.data_dir() + "/rt-1");
    std::vector<std::string> markers, aborted;
    for (const std::string& line : p1) {
        INFO(line);
        if (line.rfind("aborted", 0) == 0) {
            aborted.push_back(line);
            continue;
        }
        // kind, first and last offset, producer id, then the transactional bit: on every batch.
        CHECK(line.substr(line.rfind(' ') - 1, 2) == "1 ");
        if (line.rfind("control", 0) == 0) markers.push_back(line.substr(line.rfind(' ') + 1));
    }
    CHECK(markers == std::vector<std::string>{"commit", "abort"});  // the third is p0's alone
    REQUIRE(aborted.size() == 1);
    const auto p0 = kbus::test::independent_segment_lines(k.d.data_dir() + "/rt-0");
    CHECK(std::count_if(p0.begin(), p0.end(),
                        [](const std::string& l) { return l.rfind("control", 0) == 0; }) == 3);
}

TEST_CASE("a librdkafka transactional producer that dies mid-transaction is aborted by its timeout",
          "[kafka][transactions]") {
    KafkaDaemon k("ktx-timeout");
    kbus::Client c(k.d.options());
    c.create_topic("rt", 2);
    {
        KafkaHandle tx = kbus::test::kafka_client(
            RD_KAFKA_PRODUCER, k.broker,
            {{"transactional.id", "dies"}, {"transaction.timeout.ms", "1500"}});
        succeeds(rd_kafka_init_transactions(tx.get(), 30000));
        succeeds(rd_kafka_begin_transaction(tx.get()));
        for (int i = 0; i < 4; ++i)
            send(tx.get(), "rt", i % 2, "lost-" + std::to_string(i));
        REQUIRE(rd_kafka_flush(tx.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        // Gone without a word: no commit, no abort (its destructor sends neither).
    }
    // Until the timeout, read_committed readers stop before the records; after it, they are
    // aborted and never read, while read_uncommitted readers get them all.
    for (int i = 0; i < 500 && c.describe_topic("rt").partitions.at(0).high_watermark < 3; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(c.describe_topic("rt").partitions.at(0).high_watermark == 3);  // two, and the ABORT
    CHECK(kafka_read(k.broker, "rt", "read_committed").empty());
    CHECK(kafka_read(k.broker, "rt", "read_uncommitted").size() == 4);
    CHECK(k.d.log_text().find("past its transaction timeout") != std::string::npos);
}
