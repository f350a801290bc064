// kbusd's Kafka listener against librdkafka's C API (Debian's librdkafka-dev) and against raw
// sockets sending what no client should: records cross between Kafka and shared memory with the
// same offsets, delivery reports carry them, admin requests create and delete topics, and bad
// frames get an error or a closed connection while everyone else is served.
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "kafka/kafka_api.hpp"
#include "kafka_daemon.hpp"
#include "kafka_test_support.hpp"
#include "kbus/detail/big_endian.hpp"
#include "log_damage.hpp"
#include "segment_batches.hpp"

using namespace std::chrono_literals;

namespace {

using kbus::test::KafkaHandle;
using kbus::test::produce_copy;

using kbus::test::KafkaDaemon;

struct Delivery {
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::string key;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* reports = static_cast<std::vector<Delivery>*>(opaque);
    reports->push_back({m->err, m->partition, m->offset,
                        m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : ""});
}

KafkaHandle make_client(rd_kafka_type_t type, const std::string& broker,
                        const std::map<std::string, std::string>& settings,
                        std::vector<Delivery>* reports = nullptr) {
    return kbus::test::kafka_client(type, broker, settings, reports ? on_delivery : nullptr,
                                    reports);
}

std::string value_for(int i) {
    return "value-" + std::to_string(i) + std::string(std::size_t(i % 50), 'x');
}

// A raw TCP connection to the listener, for what real clients never send.
struct RawConnection {
    int fd = -1;
    explicit RawConnection(std::uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~RawConnection() { ::close(fd); }
    void send(const std::string& bytes) const {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
    }
    // One response frame's body (after the size), or nullopt if the connection closed.
    [[nodiscard]] std::optional<std::string> receive(std::chrono::milliseconds wait = 5s) const {
        std::string got;
        std::size_t want = 4;
        const auto deadline = std::chrono::steady_clock::now() + wait;
        while (got.size() < want) {
            pollfd p{fd, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            REQUIRE(left.count() > 0);  // an answer or a close, never silence
            if (::poll(&p, 1, int(left.count())) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - got.size()), 0);
            if (n <= 0) return std::nullopt;
            got.append(buf, std::size_t(n));
            if (got.size() == 4)
                want = 4 + std::size_t(kbus::detail::load_be<std::int32_t>(got.data()));
        }
        return got.substr(4);
    }
};

std::string frame(std::int16_t key, std::int16_t version, std::int32_t correlation,
                  const std::string& body) {
    std::string f(4 + 2 + 2 + 4 + 2, '\0');
    kbus::detail::store_be(f.data(), std::int32_t(f.size() - 4 + body.size()));
    kbus::detail::store_be(f.data() + 4, key);
    kbus::detail::store_be(f.data() + 6, version);
    kbus::detail::store_be(f.data() + 8, correlation);
    kbus::detail::store_be(f.data() + 12, std::int16_t(-1));  // null client id
    return f + body;
}

std::int32_t correlation_of(const std::string& body) {
    return kbus::detail::load_be<std::int32_t>(body.data());
}

}  // namespace

TEST_CASE("librdkafka produces with delivery reports, and Kafka and shared memory share offsets",
          "[kafka]") {
    KafkaDaemon k("rdkafka");
    kbus::Client c(k.d.options());
    c.create_topic("events", 2);
    // Local records first: the Kafka producer's offsets follow them.
    {
        kbus::Producer p(c);
        kbus::SendOptions to_first;
        to_first.partition = 0;
        for (int i = 0; i < 5; ++i)
            (void)p.send("events", "local", "local-" + std::to_string(i), to_first);
    }
    const int n = 20000;
    std::vector<Delivery> reports;
    {
        KafkaHandle producer = make_client(
            RD_KAFKA_PRODUCER, k.broker,
            {{"acks", "1"}, {"linger.ms", "5"}, {"batch.num.messages", "1000"}}, &reports);
        for (int i = 0; i < n; ++i) {
            const std::string key = "key-" + std::to_string(i), value = value_for(i);
            const std::string seq = std::to_string(i);
            for (;;) {
                const rd_kafka_resp_err_t e = rd_kafka_producev(
                    producer.get(), RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_PARTITION(i % 2),
                    RD_KAFKA_V_KEY(key.data(), key.size()),
                    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_HEADER("seq", seq.data(), ssize_t(seq.size())),
                    RD_KAFKA_V_TIMESTAMP(1'600'000'000'000 + i), RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
                    break;
                }
                rd_kafka_poll(producer.get(), 10);
            }
        }
        REQUIRE(rd_kafka_flush(producer.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    REQUIRE(reports.size() == std::size_t(n));
    std::map<std::string, std::pair<std::int32_t, std::int64_t>> placed;
    std::int64_t next[2] = {5, 0};
    for (const Delivery& d : reports) {
        REQUIRE(d.error == RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE((d.partition == 0 || d.partition == 1));
        CHECK(d.offset == next[d.partition]++);  // per partition, in order, dense
        placed[d.key] = {d.partition, d.offset};
    }

    // The shared-memory consumer sees each record where its delivery report said, intact.
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign("events", 0, kbus::OffsetSpec::beginning());
    con.assign("events", 1, kbus::OffsetSpec::beginning());
    int seen = 0, local = 0;
    for (int idle = 0; seen + local < n + 5 && idle < 300;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            if (m.key().str() == "local") {
                CHECK(m.offset() == local++);
                continue;
            }
            const auto where = placed.at(std::string(m.key().str()));
            const int i = std::stoi(std::string(m.key().str().substr(4)));
            CHECK(m.partition() == where.first);
            CHECK(m.offset() == where.second);
            CHECK(m.value().str() == value_for(i));
            CHECK(m.timestamp() == 1'600'000'000'000 + i);
            REQUIRE(m.header("seq").has_value());
            CHECK(m.header("seq")->str() == std::to_string(i));
            ++seen;
        }
    }
    CHECK(seen == n);
    CHECK(local == 5);

    // And a librdkafka consumer reads every record back, the local ones too.
    KafkaHandle consumer = make_client(RD_KAFKA_CONSUMER, k.broker, {{"group.id", "reader"}});
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(parts, "events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(parts, "events", 1)->offset = RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(consumer.get(), parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    std::int64_t expect[2] = {0, 0};
    int got = 0;
    for (int idle = 0; got < n + 5 && idle < 100;) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
        if (!m) {
            ++idle;
            continue;
        }
        idle = 0;
        INFO(rd_kafka_err2str(m->err));
        REQUIRE(m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
        CHECK(m->offset == expect[m->partition]++);
        const std::string key(static_cast<const char*>(m->key), m->key_len);
        if (key != "local") {
            const int i = std::stoi(key.substr(4));
            CHECK(std::string(static_cast<const char*>(m->payload), m->len) == value_for(i));
            rd_kafka_timestamp_type_t type;
            CHECK(rd_kafka_message_timestamp(m, &type) == 1'600'000'000'000 + i);
            rd_kafka_headers_t* headers = nullptr;
            REQUIRE(rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR);
            const void* v = nullptr;
            std::size_t vlen = 0;
            REQUIRE(rd_kafka_header_get_last(headers, "seq", &v, &vlen) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR);
            CHECK(std::string(static_cast<const char*>(v), vlen) == std::to_string(i));
        }
        ++got;
        rd_kafka_message_destroy(m);
    }
    CHECK(got == n + 5);
    rd_kafka_consumer_close(consumer.get());

    // offsetsForTimes: the time index answers ListOffsets by timestamp.
    for (int i = 0; i < 50 && c.describe_topic("events").partitions[1].high_watermark < n / 2; ++i)
        std::this_thread::sleep_for(20ms);
    rd_kafka_topic_partition_list_t* at = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(at, "events", 1)->offset = 1'600'000'000'000 + 1001;
    REQUIRE(rd_kafka_offsets_for_times(consumer.get(), at, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(at->elems[0].offset == placed.at("key-1001").second);
    rd_kafka_topic_partition_list_destroy(at);
}

TEST_CASE("librdkafka producing to a partition an exclusive local producer owns fails at once",
          "[kafka][exclusive]") {
    KafkaDaemon k("owned");
    kbus::Client c(k.d.options());
    c.create_topic("owned", 1);
    std::vector<Delivery> reports;
    KafkaHandle producer = make_client(RD_KAFKA_PRODUCER, k.broker, {}, &reports);  // defaults
    const auto produce = [&] {
        const std::string value = "from kafka";
        REQUIRE(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("owned"),
                                  RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
        (void)rd_kafka_flush(producer.get(), 20000);
    };
    {
        kbus::Producer owner(c, {.exclusive = true});
        (void)owner.send("owned", "k", "local");
        const auto start = std::chrono::steady_clock::now();
        produce();
        REQUIRE(reports.size() == 1);
        INFO(rd_kafka_err2str(reports[0].error));
        CHECK(reports[0].error == RD_KAFKA_RESP_ERR_POLICY_VIOLATION);  // not retried for good
        CHECK(std::chrono::steady_clock::now() - start < 15s);
    }
    produce();  // the owner is gone
    REQUIRE(reports.size() == 2);
    CHECK(reports[1].error == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(reports[1].offset == 1);
}

TEST_CASE("records Kafka acknowledged survive a kbusd SIGKILL right after the acks", "[kafka]") {
    KafkaDaemon k("rdkafka-kill");
    kbus::Client c(k.d.options());
    c.create_topic("acked", 2);
    const int n = 3000;
    std::vector<Delivery> reports;
    {
        KafkaHandle producer =
            make_client(RD_KAFKA_PRODUCER, k.broker, {{"acks", "1"}, {"linger.ms", "1"}}, &reports);
        for (int i = 0; i < n; ++i) {
            const std::string key = "key-" + std::to_string(i), value = value_for(i);
            REQUIRE(produce_copy(producer.get(), "acked", i % 2, key, value) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        REQUIRE(rd_kafka_flush(producer.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        // Acknowledged: kill the daemon at once, before its spill's linger has passed.
        k.d.kill_hard();
    }
    REQUIRE(reports.size() == std::size_t(n));
    std::map<std::string, std::pair<std::int32_t, std::int64_t>> placed;
    for (const Delivery& d : reports) {
        REQUIRE(d.error == RD_KAFKA_RESP_ERR_NO_ERROR);
        placed[d.key] = {d.partition, d.offset};
    }
    k.d.restart();  // re-attaches the rings left in shared memory and spills them
    kbus::Client after(k.d.options());
    kbus::Consumer con(after, {.wait = kbus::WaitMode::blocking});
    con.assign("acked", 0, kbus::OffsetSpec::beginning());
    con.assign("acked", 1, kbus::OffsetSpec::beginning());
    std::set<std::string> seen;
    for (int idle = 0; seen.size() < std::size_t(n) && idle < 300;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            const std::string key(m.key().str());
            const int i = std::stoi(key.substr(4));
            CHECK(m.partition() == placed.at(key).first);
            CHECK(m.offset() == placed.at(key).second);
            CHECK(m.value().str() == value_for(i));
            CHECK(seen.insert(key).second);  // once
        }
    }
    CHECK(seen.size() == std::size_t(n));
}

TEST_CASE("librdkafka's admin API creates and deletes topics", "[kafka]") {
    KafkaDaemon k("admin");
    kbus::Client c(k.d.options());
    KafkaHandle admin = make_client(RD_KAFKA_PRODUCER, k.broker, {});
    rd_kafka_queue_t* queue = rd_kafka_queue_new(admin.get());
    char err[512];
    auto create = [&](const char* name, int partitions, int replication,
                      std::vector<std::pair<const char*, const char*>> configs) {
        rd_kafka_NewTopic_t* t =
            rd_kafka_NewTopic_new(name, partitions, replication, err, sizeof err);
        REQUIRE(t != nullptr);
        for (const auto& [key, value] : configs)
            REQUIRE(rd_kafka_NewTopic_set_config(t, key, value) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_CreateTopics(admin.get(), &t, 1, nullptr, queue);
        rd_kafka_event_t* e = rd_kafka_queue_poll(queue, 10000);
        REQUIRE(e != nullptr);
        size_t count = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(e), &count);
        REQUIRE(count == 1);
        const rd_kafka_resp_err_t result = rd_kafka_topic_result_error(results[0]);
        rd_kafka_event_destroy(e);
        rd_kafka_NewTopic_destroy(t);
        return result;
    };
    CHECK(create("made-by-kafka", 4, 1, {{"retention.ms", "3600000"}}) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
    const auto desc = c.describe_topic("made-by-kafka");
    CHECK(desc.metadata.partitions == 4);
    std::map<std::string, std::string> config(desc.metadata.config.begin(),
                                              desc.metadata.config.end());
    CHECK(config["retention.ms"] == "3600000");
    CHECK(create("made-by-kafka", 4, 1, {}) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    CHECK(create("three-copies", 1, 3, {}) == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR);
    CHECK(create("bad-config", 1, 1, {{"retention.ms", "soon"}}) ==
          RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    CHECK(create("no/slashes", 1, 1, {}) == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
    CHECK_THROWS_AS(c.describe_topic("three-copies"), kbus::Error);

    rd_kafka_DeleteTopic_t* d = rd_kafka_DeleteTopic_new("made-by-kafka");
    rd_kafka_DeleteTopics(admin.get(), &d, 1, nullptr, queue);
    rd_kafka_event_t* e = rd_kafka_queue_poll(queue, 10000);
    REQUIRE(e != nullptr);
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(e), &count);
    REQUIRE(count == 1);
    CHECK(rd_kafka_topic_result_error(results[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(e);
    rd_kafka_DeleteTopic_destroy(d);
    rd_kafka_queue_destroy(queue);
    CHECK_THROWS_AS(c.describe_topic("made-by-kafka"), kbus::Error);
}

TEST_CASE("bad frames: an error or a closed connection, and everyone else is served", "[kafka]") {
    KafkaDaemon k("kafka-bad");
    kbus::Client c(k.d.options());
    c.create_topic("t", 1);
    RawConnection bystander(k.port());
    const std::string api_versions = frame(18, 2, 1, "");
    auto bystander_served = [&] {
        bystander.send(api_versions);
        const auto r = bystander.receive();
        REQUIRE(r.has_value());
        CHECK(correlation_of(*r) == 1);
        CHECK(kbus::detail::load_be<std::int16_t>(r->data() + 4) == 0);
    };
    bystander_served();

    SECTION("an unknown API key or an unsupported version: the answers due, then closed") {
        // As a Kafka broker does: no answer a client could not parse, and one log line.
        for (const std::string& refused : {frame(27, 0, 7, "anything"), frame(0, 12, 7, "")}) {
            RawConnection r(k.port());
            r.send(api_versions + refused + api_versions);
            const auto a = r.receive();
            REQUIRE(a.has_value());
            CHECK(correlation_of(*a) == 1);  // pipelined before it: answered
            CHECK_FALSE(r.receive().has_value());
        }
        // One cause, whatever the API: the second close within a second is held back.
        const std::string log = k.d.log_text();
        CHECK(log.find("API 27 v0 is not served (UNSUPPORTED_VERSION), closing") !=
              std::string::npos);
        CHECK(log.find("API 0 v12 is not served") == std::string::npos);
    }
    SECTION("ApiVersions v5 (beyond ours): a v0 answer with error 35 and its range") {
        RawConnection r(k.port());
        r.send(frame(18, 5, 9, std::string("\x00\x00\x00", 3)));
        const auto a = r.receive();
        REQUIRE(a.has_value());
        CHECK(correlation_of(*a) == 9);
        CHECK(kbus::detail::load_be<std::int16_t>(a->data() + 4) == 35);
        CHECK(kbus::detail::load_be<std::int32_t>(a->data() + 6) == 1);
        CHECK(kbus::detail::load_be<std::int16_t>(a->data() + 10) == 18);
        CHECK(kbus::detail::load_be<std::int16_t>(a->data() + 14) == 4);
    }
    SECTION("ApiVersions v3 (flexible): header v2 in, header v0 and a compact body out") {
        RawConnection r(k.port());
        // Request header v2: the client id's tagged fields (one unknown tag), then the body:
        // compact client software name and version, and no tagged fields.
        const std::string body =
            std::string("\x01\x07\x02zz", 5) + "\x05kcat" + "\x04" + "1.7" + '\0';
        r.send(frame(18, 3, 10, body));
        const auto a = r.receive();
        REQUIRE(a.has_value());
        CHECK(correlation_of(*a) == 10);
        kbus::kafka::WireReader got(std::string_view(*a).substr(4));  // no header tagged fields
        CHECK(got.i16() == 0);
        const auto count = got.compact_length();
        REQUIRE(count);
        CHECK(*count == kbus::kafka::supported_versions.size());
        for (std::size_t i = 0; i < *count; ++i) {
            const std::int16_t key = got.i16(), min = got.i16(), max = got.i16();
            CHECK(min <= max);
            if (key == 3) CHECK(max == 12);  // Metadata, as Kafka 3.9
            CHECK(got.uvarint() == 0);
        }
        CHECK(got.i32() == 0);  // throttle
        CHECK(got.uvarint() == 0);
        CHECK(got.remaining() == 0);
    }
    SECTION("a negative, a tiny and an oversized frame size: the connection is closed") {
        for (const std::int32_t size : {-5, 3, 200 * 1024 * 1024}) {
            RawConnection r(k.port());
            std::string f(4, '\0');
            kbus::detail::store_be(f.data(), size);
            r.send(f + "garbage!");
            CHECK_FALSE(r.receive().has_value());
        }
    }
    SECTION("a truncated body: closed; pipelined requests before it are answered in order") {
        RawConnection r(k.port());
        r.send(frame(18, 0, 1, "") + frame(18, 1, 2, "") +
               frame(3, 1, 3, std::string("\x00\x00", 2)));
        const auto a = r.receive(), b = r.receive();
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        CHECK(correlation_of(*a) == 1);
        CHECK(correlation_of(*b) == 2);
        CHECK_FALSE(r.receive().has_value());
    }
    SECTION("a corrupt batch: CORRUPT_MESSAGE for that partition") {
        std::string body;
        body += std::string("\xff\xff", 2);  // null transactional id
        body += std::string("\x00\x01", 2);  // acks 1
        body += std::string("\x00\x00\x03\xe8", 4);
        body += std::string("\x00\x00\x00\x01", 4) + std::string("\x00\x01", 2) + "t";
        body += std::string("\x00\x00\x00\x01", 4) + std::string("\x00\x00\x00\x00", 4);
        std::string junk(70, 'j');
        junk[16] = 2;  // magic 2, and nothing else right
        body += std::string("\x00\x00\x00\x46", 4) + junk;
        RawConnection r(k.port());
        r.send(frame(0, 3, 11, body));
        const auto a = r.receive();
        REQUIRE(a.has_value());
        CHECK(correlation_of(*a) == 11);
        // topics[1] "t" partitions[1] index 0, error:
        const std::size_t error_at = 4 + 4 + 2 + 1 + 4 + 4;
        CHECK(kbus::detail::load_be<std::int16_t>(a->data() + error_at) == 2);
    }
    SECTION("a client that sends half a request and goes away") {
        {
            RawConnection r(k.port());
            r.send(frame(18, 2, 5, "").substr(0, 7));
        }
        {
            RawConnection r(k.port());
            std::string f(4, '\0');
            kbus::detail::store_be(f.data(), std::int32_t(1 << 20));
            r.send(f + std::string(1000, 'x'));  // a megabyte announced, a kilobyte sent
        }
    }
    bystander_served();
    CHECK(c.list_topics().size() == 1);  // the control socket too
}

TEST_CASE("many connections at once, each with pipelined requests, all answered in order",
          "[kafka]") {
    KafkaDaemon k("kafka-many");
    std::vector<std::unique_ptr<RawConnection>> connections;
    for (int i = 0; i < 100; ++i)
        connections.push_back(std::make_unique<RawConnection>(k.port()));
    // Metadata v1 for every topic (a null array), then ApiVersions, back to back on each.
    const std::string all_topics("\xff\xff\xff\xff", 4);
    for (std::size_t i = 0; i < connections.size(); ++i)
        connections[i]->send(frame(3, 1, std::int32_t(2 * i), all_topics) +
                             frame(18, 2, std::int32_t(2 * i + 1), ""));
    for (std::size_t i = 0; i < connections.size(); ++i) {
        const auto metadata = connections[i]->receive();
        const auto versions = connections[i]->receive();
        REQUIRE(metadata.has_value());
        REQUIRE(versions.has_value());
        CHECK(correlation_of(*metadata) == std::int32_t(2 * i));
        CHECK(correlation_of(*versions) == std::int32_t(2 * i + 1));
    }
}

TEST_CASE("fetch limits: at least one whole batch, no more than the partition's bytes", "[kafka]") {
    KafkaDaemon k("kafka-limits");
    kbus::Client c(k.d.options());
    c.create_topic("t", 1);
    {
        kbus::Producer p(c);
        for (int i = 0; i < 2000; ++i)
            (void)p.send("t", kbus::BytesView(), std::string(200, 'v'));
    }
    auto fetch = [&](std::int32_t partition_max) {
        std::string body;
        auto put32 = [&](std::int32_t v) {
            char b[4];
            kbus::detail::store_be(b, v);
            body.append(b, 4);
        };
        put32(-1);       // replica
        put32(5000);     // max wait
        put32(1);        // min bytes
        put32(1 << 30);  // max bytes
        body.push_back(0);
        put32(1);
        body += std::string("\x00\x01t", 3);
        put32(1);
        put32(0);
        body += std::string(8, '\0');  // offset 0
        put32(partition_max);
        RawConnection r(k.port());
        r.send(frame(1, 4, 3, body));
        const auto a = r.receive();
        REQUIRE(a.has_value());
        // correlation, throttle, [topic "t"], [partition 0]: its records' size comes last.
        const std::size_t size_at = 4 + 4 + 4 + 3 + 4 + 4 + 2 + 8 + 8 + 4;
        REQUIRE(a->size() >= size_at + 4);
        CHECK(kbus::detail::load_be<std::int16_t>(a->data() + 4 + 4 + 4 + 3 + 4 + 4) == 0);
        const auto records = kbus::detail::load_be<std::int32_t>(a->data() + size_at);
        CHECK(a->size() == size_at + 4 + std::size_t(records));
        return records;
    };
    // The records are on disk once the spill has taken them (a few ms).
    for (int i = 0; i < 200 && fetch(1 << 30) < 2000 * 200; ++i)
        std::this_thread::sleep_for(10ms);
    const std::int32_t everything = fetch(1 << 30);
    CHECK(everything > 2000 * 200);
    const std::int32_t one_batch = fetch(1);  // KIP-74: the first batch even if larger
    CHECK(one_batch > 0);
    CHECK(one_batch < everything);
    const std::int32_t limited = fetch(64 * 1024);
    CHECK(limited <= 64 * 1024 + one_batch);
    CHECK(limited < everything);
}

// A fetch at offsets lost to a corrupt batch (found by the restart after a SIGKILL) answers
// Kafka's CORRUPT_MESSAGE for that partition; the batches before it are served as before.
TEST_CASE("a fetch into a corrupt batch answers CORRUPT_MESSAGE", "[kafka][damage]") {
    KafkaDaemon k("kafka-corrupt");
    {
        kbus::Client c(k.d.options());
        c.create_topic("t", 1, {{"segment.bytes", "16384"}});
        kbus::Producer p(c);
        // In rounds the spill writes one by one: a batch each, so several segments.
        for (int round = 0; round < 40; ++round) {
            for (int i = 0; i < 100; ++i)
                (void)p.send("t", kbus::BytesView(), value_for(round * 100 + i));
            for (int i = 0; i < 500; ++i) {
                const auto part = c.describe_topic("t").partitions[0];
                if (part.spill_offset >= part.high_watermark) break;
                std::this_thread::sleep_for(10ms);
            }
        }
    }
    k.d.kill_hard();
    const auto logs = kbus::testing::segment_logs(k.d.data_dir() + "/t-0");
    REQUIRE(logs.size() >= 3);
    const kbus::testing::BatchSpan bad = kbus::testing::damage_middle_batch(logs[1]);
    std::filesystem::resize_file(k.d.dir + "/kbusd.log", 0);  // the new start's port comes next
    k.d.restart();
    const std::string broker = k.d.kafka_broker();
    REQUIRE(!broker.empty());
    const auto port = std::uint16_t(std::stoi(broker.substr(broker.rfind(':') + 1)));
    // Fetch v4 of partition 0 of "t" at `offset`: the partition's error code.
    const auto fetch_error = [&](std::int64_t offset) {
        std::string body;
        const auto put = [&](auto v) {
            char b[sizeof v];
            kbus::detail::store_be(b, v);
            body.append(b, sizeof v);
        };
        put(std::int32_t(-1));   // replica
        put(std::int32_t(100));  // max wait
        put(std::int32_t(1));    // min bytes
        put(std::int32_t(1 << 20));
        body.push_back(0);  // isolation
        put(std::int32_t(1));
        body += std::string("\x00\x01t", 3);
        put(std::int32_t(1));
        put(std::int32_t(0));
        put(offset);
        put(std::int32_t(1 << 20));
        RawConnection r(port);
        r.send(frame(1, 4, 7, body));
        const auto a = r.receive();
        REQUIRE(a.has_value());
        const std::size_t error_at = 4 + 4 + 4 + 3 + 4 + 4;
        REQUIRE(a->size() >= error_at + 2);
        return kbus::detail::load_be<std::int16_t>(a->data() + error_at);
    };
    CHECK(fetch_error(0) == 0);
    CHECK(fetch_error(bad.first_offset - 1) == 0);
    CHECK(fetch_error(bad.first_offset) == 2);  // CORRUPT_MESSAGE
    CHECK(fetch_error(bad.last_offset) == 2);
    CHECK(fetch_error(bad.last_offset + 1) == 0);
}

TEST_CASE("librdkafka's idempotent producer works at its defaults", "[kafka]") {
    KafkaDaemon k("kadmin-rdkafka-idem");
    kbus::Client c(k.d.options());
    c.create_topic("ri", 2);
    {
        auto producer =
            kbus::test::kafka_client(RD_KAFKA_PRODUCER, k.broker, {{"enable.idempotence", "true"}});
        for (int i = 0; i < 2000; ++i)
            REQUIRE(kbus::test::produce_copy(producer.get(), "ri", i % 2, "k",
                                             "v" + std::to_string(i)) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE(rd_kafka_flush(producer.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        char why[256] = "";
        CHECK(rd_kafka_fatal_error(producer.get(), why, sizeof why) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    const auto d = c.describe_topic("ri");
    CHECK(d.partitions.at(0).high_watermark == 1000);
    CHECK(d.partitions.at(1).high_watermark == 1000);
    // The producer's id, epoch and sequences reach the log's batches as it sent them: one
    // producer, its sequences from 0 and consecutive, batch after batch.
    for (int p = 0; p < 2; ++p) {
        for (int i = 0;
             i < 3000 && c.describe_topic("ri").partitions.at(std::size_t(p)).spill_offset < 1000;
             ++i)
            std::this_thread::sleep_for(10ms);
        bool sound = false;
        const auto batches =
            kbus::test::batches_on_disk(k.d.data_dir() + "/ri-" + std::to_string(p), &sound);
        REQUIRE(sound);
        REQUIRE(!batches.empty());
        std::int32_t next_sequence = 0;
        for (const auto& b : batches) {
            CHECK(b.producer_id == batches.front().producer_id);
            CHECK(b.producer_epoch == 0);
            CHECK(b.base_sequence == next_sequence);
            next_sequence = b.base_sequence + b.records;
        }
        CHECK(batches.front().producer_id >= 0);
        CHECK(next_sequence == 1000);
    }
}
