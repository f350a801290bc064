// The fault harness's Kafka-protocol producer: librdkafka against kbusd's listener, as its own
// program (the harness forks and execs it), so that the harness itself never runs librdkafka's
// threads (TSan cannot follow them, and a fork must not copy them). It sends paced records until
// SIGTERM, then flushes and exits; a record is noted as acknowledged ("A ..." in its history)
// only from a successful delivery report. Retries are off: kbusd's listener is not idempotent,
// so a retried Produce may legitimately land twice, and the harness counts duplicates as bugs.
//
//   kbus_harness_kafka_producer <broker host:port> <topic> <history file> <writer> <seed> <rate>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <string>

#include "harness/history_file.hpp"
#include "harness/record_content.hpp"
#include "harness/workers.hpp"

namespace {

std::atomic<int> stop_requested{0};
void on_term(int) {
    stop_requested.store(1);
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    const auto* history = static_cast<const kbus::harness::HistoryFile*>(opaque);
    const std::string_view key(static_cast<const char*>(m->key), m->key_len);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        history->error(std::string(key) + ": " + rd_kafka_err2str(m->err));
        return;
    }
    const std::string_view value(static_cast<const char*>(m->payload), m->len);
    history->write("A " + std::to_string(m->partition) + " " + std::to_string(m->offset) + " " +
                   std::string(key) + " " +
                   std::to_string(kbus::harness::content_hash(key, value)) + "\n");
}

rd_kafka_t* make_producer(const std::string& broker, const kbus::harness::HistoryFile& history) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", broker},
        {"acks", "all"},
        {"enable.idempotence", "false"},
        {"message.send.max.retries", "0"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "10000"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "500"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"log_level", "3"}};
    for (const auto& [k, v] : settings)
        if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "kafka producer: %s=%s: %s\n", k, v.c_str(), err);
            return nullptr;
        }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, const_cast<kbus::harness::HistoryFile*>(&history));
    rd_kafka_t* k = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!k) std::fprintf(stderr, "kafka producer: %s\n", err);
    return k;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 7) {
        std::fprintf(stderr, "usage: %s broker topic history writer seed rate\n", argv[0]);
        return 2;
    }
    ::signal(SIGTERM, on_term);
    const std::string topic = argv[2], writer = argv[4];
    const kbus::harness::HistoryFile history(argv[3]);
    rd_kafka_t* producer = make_producer(argv[1], history);
    if (!producer) return 1;
    std::mt19937_64 rng(std::stoull(argv[5]));
    kbus::harness::Pacer pace(std::stod(argv[6]));
    for (std::uint64_t seq = 0; stop_requested.load() == 0; ++seq) {
        const std::string key = kbus::harness::record_key(writer, seq);
        const std::string value = kbus::harness::record_value(key, seq, 16 + rng() % 300);
        const rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(std::int32_t(seq % 3)),
            RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) history.error(key + ": " + rd_kafka_err2str(e));
        rd_kafka_poll(producer, 0);
        pace.wait();
    }
    rd_kafka_flush(producer, 15000);
    rd_kafka_destroy(producer);
    return 0;
}
