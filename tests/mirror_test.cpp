// `kbus mirror` against librdkafka's mock cluster (Debian's librdkafka-dev 2.0.2, in this
// process): records out to Kafka and in from it, keys, values, headers and timestamps intact,
// in order per partition; the mirror SIGKILLed and restarted and a broker taken down mid-stream,
// with every record arriving (duplicates counted, within what at-least-once allows); its own
// records never copied back; bad configs refused by name.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "kafka_test_support.hpp"

using namespace std::chrono_literals;
using kbus::test::cli_output;
using kbus::test::cli_run;
using kbus::test::kafka_client;
using kbus::test::KafkaHandle;
using kbus::test::MirrorProcess;
using kbus::test::MockKafka;
using kbus::test::produce_copy;

namespace {

// A client of the cluster at `bootstrap`.
KafkaHandle kafka(rd_kafka_type_t type, const std::string& bootstrap,
                  std::map<std::string, std::string> settings = {}) {
    return kafka_client(type, bootstrap, std::move(settings));
}

struct KafkaRecord {
    std::int32_t partition;
    std::int64_t offset;
    std::string key, value;
    std::int64_t timestamp;
    std::map<std::string, std::string> headers;
};

// Everything in a Kafka topic's partitions from the beginning, until `want` distinct keys
// (and a further half second, for late duplicates) or the patience runs out.
std::vector<KafkaRecord> read_kafka(const std::string& bootstrap, const std::string& topic,
                                    int partitions, std::size_t want,
                                    std::chrono::seconds patience = 30s) {
    KafkaHandle c = kafka(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", "test-reader"}});
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<KafkaRecord> got;
    std::set<std::string> keys;
    auto deadline = std::chrono::steady_clock::now() + patience;
    bool all_seen = false;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!all_seen && keys.size() >= want) {
            all_seen = true;
            deadline = std::chrono::steady_clock::now() + 500ms;
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 100);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            KafkaRecord r{m->partition,
                          m->offset,
                          m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : "",
                          std::string(static_cast<const char*>(m->payload), m->len),
                          0,
                          {}};
            rd_kafka_timestamp_type_t type;
            r.timestamp = rd_kafka_message_timestamp(m, &type);
            rd_kafka_headers_t* h = nullptr;
            if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name;
                const void* value;
                std::size_t size;
                for (std::size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == 0;
                     ++i)
                    r.headers[name] =
                        value ? std::string(static_cast<const char*>(value), size) : "(null)";
            }
            keys.insert(r.key);
            got.push_back(std::move(r));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c.get());
    return got;
}

void produce_local(kbus::Client& c, const std::string& topic, int from, int count) {
    kbus::Producer p(c);
    for (int i = from; i < from + count; ++i) {
        const std::string key = "k" + std::to_string(i), seq = std::to_string(i);
        const kbus::HeaderView headers[] = {{"seq", kbus::BytesView(seq)}};
        kbus::SendOptions o;
        o.partition = i % 2;
        o.timestamp = 1'600'000'000'000 + i;
        o.headers = headers;
        (void)p.send(topic, key, "value-" + seq, o);
    }
}

}  // namespace

TEST_CASE("out: local records reach Kafka intact, through a SIGKILL and a broker outage",
          "[mirror]") {
    MockKafka k(3);
    k.create_topic("edge.orders", 2, 3);
    for (int p = 0; p < 2; ++p)
        REQUIRE(rd_kafka_mock_partition_set_leader(k.cluster, "edge.orders", p, 1) == 0);
    DaemonFixture d("mirror-out");
    kbus::Client c(d.options());
    c.create_topic("orders", 2);
    produce_local(c, "orders", 0, 1000);
    MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap +
                           "\nout.topics=ord.*\nout.topic.prefix=edge.\ngroup.id=m-out\n"
                           "mirror.id=edge1\n");
    REQUIRE(read_kafka(k.bootstrap, "edge.orders", 2, 1000).size() >= 1000);

    // Killed mid-stream, restarted: it goes on from its last commit.
    std::thread more([&] { produce_local(c, "orders", 1000, 2000); });
    std::this_thread::sleep_for(100ms);
    m.kill_hard();
    m.start();
    more.join();
    // The cluster fails under it mid-stream: produce requests are refused (not leader, timed
    // out) and the partitions fail over to another broker. The mirror's idempotent producer
    // retries through it. (Debian's 2.0.2 mock aborts its process on rd_kafka_mock_broker_
    // set_down, so a broker's loss is played by the errors and the leader change it causes.)
    rd_kafka_mock_push_request_errors(
        k.cluster, 0 /* Produce */, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    std::thread outage([&] { produce_local(c, "orders", 3000, 500); });
    for (int p = 0; p < 2; ++p)
        REQUIRE(rd_kafka_mock_partition_set_leader(k.cluster, "edge.orders", p, 2) == 0);
    outage.join();

    const auto all = read_kafka(k.bootstrap, "edge.orders", 2, 3500, 30s);
    std::map<int, int> copies;
    std::map<std::int32_t, int> last_seq;
    for (const KafkaRecord& r : all) {
        const int i = std::stoi(r.key.substr(1));
        ++copies[i];
        CHECK(r.partition == i % 2);  // one to one
        CHECK(r.value == "value-" + std::to_string(i));
        CHECK(r.timestamp == 1'600'000'000'000 + i);
        CHECK(r.headers.at("seq") == std::to_string(i));
        CHECK(r.headers.at("kbus.mirror.origin") == "edge1");
        // In order per partition: a duplicate run may restart lower, never skip ahead.
        if (last_seq.count(r.partition) && i > last_seq[r.partition])
            CHECK(i - last_seq[r.partition] == 2);
        last_seq[r.partition] = i;
    }
    std::size_t duplicates = 0;
    for (int i = 0; i < 3500; ++i) {
        INFO("record " << i);
        REQUIRE(copies[i] >= 1);  // every record arrived
        duplicates += std::size_t(copies[i] - 1);
    }
    // At least once: only what was in flight at the kill may come twice.
    WARN("duplicates after a SIGKILL and a broker outage: " << duplicates);
    CHECK(duplicates <= 2000);
    CHECK(WIFEXITED(m.stop()));
}

namespace {

// A Kafka topic's partition count, asked without naming it (a request naming it would have the
// mock create it by itself); -1 until it exists.
int kafka_partition_count(const std::string& bootstrap, const std::string& topic) {
    KafkaHandle probe = kafka(RD_KAFKA_PRODUCER, bootstrap);
    const rd_kafka_metadata_t* md = nullptr;
    int partitions = -1;
    if (rd_kafka_metadata(probe.get(), 1, nullptr, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int t = 0; t < md->topic_cnt; ++t)
            if (md->topics[t].topic == topic) partitions = md->topics[t].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    return partitions;
}

void produce_sensors(kbus::Client& c, int partitions, int count) {
    c.create_topic("sensors", partitions);
    kbus::Producer p(c);
    for (int i = 0; i < count; ++i) {
        kbus::SendOptions o;
        o.partition = i % partitions;
        (void)p.send("sensors", "s" + std::to_string(i), "reading", o);
    }
}

}  // namespace

// The mock has no CreateTopics, so the cluster here is a second kbusd serving Kafka clients.
TEST_CASE("out: a topic missing in Kafka is created with the source's partition count",
          "[mirror]") {
    DaemonFixture kafka_side("mirror-cluster", {"--override", "listeners=PLAINTEXT://127.0.0.1:0"});
    const std::string bootstrap = kafka_side.kafka_broker();
    REQUIRE(!bootstrap.empty());
    DaemonFixture d("mirror-create");
    kbus::Client c(d.options());
    produce_sensors(c, 7, 70);
    // kbusd serves no InitProducerId, and CreateTopics only below v4 (which has no "the
    // cluster's default" replication factor).
    MirrorProcess m(d, "bootstrap.servers=" + bootstrap +
                           "\nout.topics=sensors\nenable.idempotence=false\n"
                           "out.topic.replication.factor=1\n");
    kbus::Client cluster(kafka_side.options());
    kbus::Consumer con(cluster, {.wait = kbus::WaitMode::blocking});
    for (int i = 0; i < 100 && kafka_partition_count(bootstrap, "sensors") < 0; ++i)
        std::this_thread::sleep_for(100ms);
    INFO(m.log_text());
    REQUIRE(kafka_partition_count(bootstrap, "sensors") == 7);
    CHECK_THAT(m.log_text(), Catch::Contains("created sensors in Kafka with 7 partitions"));
    for (int p = 0; p < 7; ++p)
        con.assign("sensors", p, kbus::OffsetSpec::beginning());
    int seen = 0;
    for (int idle = 0; seen < 70 && idle < 100;) {
        const auto& batch = con.poll(100ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& r : batch) {
            ++seen;
            CHECK(r.partition() == std::stoi(std::string(r.key().str().substr(1))) % 7);
        }
    }
    CHECK(seen == 70);
    CHECK(WIFEXITED(m.stop()));
}

TEST_CASE(
    "out: a cluster that cannot create topics gets its own auto-creation, records placed "
    "by key with murmur2",
    "[mirror]") {
    MockKafka k;
    DaemonFixture d("mirror-autocreate");
    kbus::Client c(d.options());
    produce_sensors(c, 7, 70);
    MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap + "\nout.topics=sensors\n");
    for (int i = 0; i < 300 && kafka_partition_count(k.bootstrap, "sensors") < 0; ++i)
        std::this_thread::sleep_for(100ms);
    REQUIRE(kafka_partition_count(k.bootstrap, "sensors") == 4);  // the mock's default
    const auto all = read_kafka(k.bootstrap, "sensors", 4, 70);
    INFO(m.log_text());
    CHECK_THAT(m.log_text(), Catch::Contains("relying on the cluster's auto-creation"));
    CHECK_THAT(m.log_text(), Catch::Contains("sensors has 4 partitions in Kafka, sensors has 7"));
    // Every record, at least once: a slow creation (under ASan, say) can outlast the local
    // group's session, and the poll then goes again under the next generation.
    std::set<std::string> keys;
    for (const KafkaRecord& r : all)
        keys.insert(r.key);
    CHECK(keys.size() == 70);
    CHECK(all.size() <= 140);
    for (const KafkaRecord& r : all)
        CHECK(r.partition ==
              kbus::partition_for_key(reinterpret_cast<const unsigned char*>(r.key.data()),
                                      r.key.size(), 4));
    CHECK(WIFEXITED(m.stop()));
}

namespace {

// `kbus mirror --status` once it shows `want` (or after ten seconds), for the test's message.
std::string mirror_status(const DaemonFixture& d, const MirrorProcess& m, const std::string& want) {
    std::string status;
    for (int i = 0; i < 100; ++i) {
        status = cli_output(d, "mirror --config " + m.config + " --status");
        if (status.find(want) != std::string::npos) break;
        std::this_thread::sleep_for(100ms);
    }
    return status;
}

}  // namespace

TEST_CASE(
    "in: Kafka records reach the bus, topics made with Kafka's partition count, "
    "and a mirror never copies its own records back",
    "[mirror]") {
    MockKafka k;
    k.create_topic("remote", 3);
    DaemonFixture d("mirror-in");
    kbus::Client c(d.options());
    {
        KafkaHandle p = kafka(RD_KAFKA_PRODUCER, k.bootstrap);
        for (int i = 0; i < 300; ++i) {
            const std::string key = "r" + std::to_string(i), value = "remote-" + std::to_string(i);
            REQUIRE(rd_kafka_producev(
                        p.get(), RD_KAFKA_V_TOPIC("remote"), RD_KAFKA_V_PARTITION(i % 3),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("h", "x", 1),
                        RD_KAFKA_V_TIMESTAMP(1'700'000'000'000 + i),
                        RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        REQUIRE(rd_kafka_flush(p.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    // In and out at once, with out.topics taking the in-mirrored topic too: its records came
    // from this cluster, so they must not go back.
    MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap +
                           "\nin.topics=rem.*\nout.topics=remote\nout.topic.prefix=back.\n"
                           "group.id=m-in\nsession.timeout.ms=6000\n");
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    for (int i = 0; i < 300; ++i) {
        const auto topics = c.list_topics();
        if (std::find(topics.begin(), topics.end(), "remote") != topics.end()) break;
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE(c.describe_topic("remote").metadata.partitions == 3);
    for (int p = 0; p < 3; ++p)
        con.assign("remote", p, kbus::OffsetSpec::beginning());
    std::set<int> seen;
    for (int idle = 0; seen.size() < 300 && idle < 300;) {
        const auto& batch = con.poll(100ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& r : batch) {
            const int i = std::stoi(std::string(r.key().str().substr(1)));
            seen.insert(i);
            CHECK(r.partition() == i % 3);
            CHECK(r.value().str() == "remote-" + std::to_string(i));
            CHECK(r.timestamp() == 1'700'000'000'000 + i);
            CHECK(r.header("h")->str() == "x");
            CHECK(r.header("kbus.mirror.origin")->str() == "kafka:" + k.bootstrap);
        }
    }
    CHECK(seen.size() == 300);
    // --status shows the skipped records; nothing went back.
    const std::string status = mirror_status(d, m, "skipped=300");
    INFO(status);
    CHECK(status.find("out rule=remote records=300 ") != std::string::npos);
    CHECK(status.find("in rule=rem.* records=300 ") != std::string::npos);
    CHECK(status.find(" lag=0 ") != std::string::npos);
    CHECK(status.find("skipped=300") != std::string::npos);
    // kbus stats shows the same, for people and (--json) for scripts.
    const std::string json = cli_output(d, "stats --json --interval 100");
    INFO(json);
    CHECK_THAT(json, Catch::Contains("\"mirrors\":[{\"group\":\"m-in\",\"age_s\":") &&
                         Catch::Contains("{\"direction\":\"out\",\"rule\":\"remote\",\"records\":"
                                         "300,") &&
                         Catch::Contains("\"skipped\":300,\"last_error\":null}") &&
                         Catch::Contains("{\"direction\":\"in\",\"rule\":\"rem.*\",\"records\":"
                                         "300,"));
    CHECK_THAT(cli_output(d, "stats --interval 100"),
               Catch::Contains("MIRROR m-in (reported ") &&
                   Catch::Contains("out rule=remote records=300 "));
    CHECK(read_kafka(k.bootstrap, "back.remote", 3, 1, 2s).empty());
    CHECK(WIFEXITED(m.stop()));
}

TEST_CASE(
    "in: the mirror SIGKILLed mid-stream and restarted: every Kafka record reaches the bus "
    "in order per partition, duplicates within the uncommitted window",
    "[mirror]") {
    MockKafka k;
    k.create_topic("feed", 3);
    DaemonFixture d("mirror-in-kill");
    kbus::Client c(d.options());
    KafkaHandle producer = kafka(RD_KAFKA_PRODUCER, k.bootstrap, {{"linger.ms", "2"}});
    auto produce = [&](int from, int count) {
        for (int i = from; i < from + count; ++i) {
            const std::string key = "f" + std::to_string(i), value = "v" + std::to_string(i);
            REQUIRE(produce_copy(producer.get(), "feed", i % 3, key, value) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR);
            if (i % 10 == 0) std::this_thread::sleep_for(10ms);  // about 1000 records/s
        }
        REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    };
    auto on_bus = [&] {
        std::int64_t n = 0;
        try {
            for (const auto& p : c.describe_topic("feed").partitions)
                n += p.high_watermark;
        } catch (const kbus::Error&) {  // not created yet
        }
        return n;
    };
    produce(0, 1000);
    MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap +
                           "\nin.topics=feed\ngroup.id=m-in-kill\nsession.timeout.ms=6000\n");
    for (int i = 0; i < 1000 && on_bus() < 100; ++i)  // the mirror has joined and is copying
        std::this_thread::sleep_for(10ms);
    std::thread more([&] { produce(1000, 2000); });
    for (int i = 0; i < 1000 && on_bus() < 1500; ++i)
        std::this_thread::sleep_for(5ms);
    const std::int64_t at_kill = on_bus();
    m.kill_hard();
    m.start();
    more.join();

    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    for (int p = 0; p < 3; ++p)
        con.assign("feed", p, kbus::OffsetSpec::beginning());
    std::map<int, int> copies;
    std::map<std::int32_t, int> last;
    for (int idle = 0; copies.size() < 3000 && idle < 300;) {
        const auto& batch = con.poll(100ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& r : batch) {
            const int i = std::stoi(std::string(r.key().str().substr(1)));
            ++copies[i];
            CHECK(r.partition() == i % 3);
            CHECK(r.value().str() == "v" + std::to_string(i));
            // In order per partition: a duplicate run may restart lower, never skip ahead.
            if (last.count(r.partition()) && i > last[r.partition()])
                CHECK(i - last[r.partition()] == 3);
            last[r.partition()] = i;
        }
    }
    INFO(m.log_text());
    REQUIRE(copies.size() == 3000);  // every record arrived
    std::int64_t duplicates = 0;
    for (const auto& [i, n] : copies)
        duplicates += n - 1;
    // At least once: what was copied but not yet committed to Kafka (the mirror commits every
    // 100 ms) may come twice: at this stream's 1000 records/s, a tenth of a second's worth,
    // bounded here at half a second's.
    WARN("duplicates after a SIGKILL of the in mirror: " << duplicates << " (" << at_kill
                                                         << " on the bus at the kill)");
    CHECK(duplicates <= 500);
    const int status = m.stop();
    INFO("wait status " << status);
    CHECK(WIFEXITED(status));
}

TEST_CASE("in: a rule matches whole Kafka topic names, not names that contain a match",
          "[mirror]") {
    MockKafka k;
    for (const char* t : {"feed", "feedback", "xfeed", "rem1", "rem1x"})
        k.create_topic(t, 1);
    DaemonFixture d("mirror-in-whole");
    kbus::Client c(d.options());
    KafkaHandle producer = kafka(RD_KAFKA_PRODUCER, k.bootstrap, {{"linger.ms", "0"}});
    for (const char* t : {"feed", "feedback", "xfeed", "rem1", "rem1x"})
        REQUIRE(produce_copy(producer.get(), t, 0, "k", "v") == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    // A plain name, and a regex with its own anchors.
    MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap +
                           "\nin.topics=feed,^rem[0-9]$\ngroup.id=m-in-whole\n");
    auto copied = [&](const std::string& topic) {
        try {
            return c.describe_topic(topic).partitions.at(0).high_watermark;
        } catch (const kbus::Error&) {  // not created
            return std::int64_t(-1);
        }
    };
    for (int i = 0; i < 1500 && (copied("feed") < 1 || copied("rem1") < 1); ++i)
        std::this_thread::sleep_for(10ms);
    INFO(m.log_text());
    REQUIRE(copied("feed") == 1);
    REQUIRE(copied("rem1") == 1);
    // One subscription takes every matching topic in the same assignment: had the others
    // matched, they would be on their way by now. Give them a second anyway.
    std::this_thread::sleep_for(1s);
    CHECK(copied("feedback") == -1);
    CHECK(copied("xfeed") == -1);
    CHECK(copied("rem1x") == -1);
    CHECK(WEXITSTATUS(m.stop()) == 0);
}

TEST_CASE(
    "unreachable brokers and refused credentials: the reason in the log and --status, the "
    "mirror retrying, nothing committed",
    "[mirror]") {
    DaemonFixture d("mirror-unreachable");
    kbus::Client c(d.options());
    c.create_topic("orders", 2);
    produce_local(c, "orders", 0, 10);
    SECTION("nothing listens at the bootstrap address") {
        MirrorProcess m(d, "bootstrap.servers=127.0.0.1:1\nout.topics=orders\n");
        const std::string status = mirror_status(d, m, "lag=10 ");
        INFO(status << m.log_text());
        CHECK_THAT(status, Catch::Contains("out rule=orders records=0 ") &&
                               Catch::Contains("lag=10 ") && Catch::Contains("Connection refused"));
        CHECK(::waitpid(m.pid, nullptr, WNOHANG) == 0);  // still trying
        CHECK(WEXITSTATUS(m.stop()) == 0);
    }
    SECTION("the cluster refuses the credentials") {
        MockKafka k;
        MirrorProcess m(d, "bootstrap.servers=" + k.bootstrap +
                               "\nout.topics=orders\nsecurity.protocol=SASL_PLAINTEXT\n"
                               "sasl.mechanisms=PLAIN\nsasl.username=mirror\n"
                               "sasl.password=wrong\n");
        const std::string status = mirror_status(d, m, "lag=10 ");
        INFO(status << m.log_text());
        CHECK_THAT(status, Catch::Contains("lag=10 ") &&
                               Catch::Contains("Failed to initialize SASL authentication"));
        CHECK(::waitpid(m.pid, nullptr, WNOHANG) == 0);
        CHECK(WEXITSTATUS(m.stop()) == 0);
    }
}

TEST_CASE("a bad mirror config: a clear message and a non-zero exit", "[mirror]") {
    DaemonFixture d("mirror-bad");
    auto run = [&](const std::string& text) {
        const std::string file = d.dir + "/bad.properties";
        std::ofstream(file) << text;
        const auto [out, exit_code] = cli_run(d, "mirror --config " + file);
        CHECK(exit_code != 0);
        return out;
    };
    CHECK_THAT(run("bootstrap.servers=127.0.0.1:1\nout.topics=a(\n"),
               Catch::Contains("out.topics: 'a(' is not a valid regex"));
    CHECK_THAT(run("out.topics=a\n"), Catch::Contains("bootstrap.servers"));
    CHECK_THAT(
        run("bootstrap.servers=127.0.0.1:1\nout.topics=a\nsecurity.protocol=carrier-pigeon\n"),
        Catch::Contains("security.protocol"));
}
