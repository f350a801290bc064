#include "kafka_side.hpp"

namespace kbusd::mirror {

using kbus::Error;
using kbus::ErrorCode;

// A librdkafka client from the config's pass-through keys plus the mirror's own settings; a key
// librdkafka refuses is reported by name.
KafkaHandle kafka_client(rd_kafka_type_t type, const kbus::mirror::MirrorConfig& config,
                         const std::vector<std::pair<std::string, std::string>>& ours,
                         void (*on_delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*),
                         KafkaSide* side) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const std::string& k, const std::string& v) {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw Error(ErrorCode::invalid_argument,
                        "librdkafka refused " + k + "=" + v + ": " + err);
        }
    };
    for (const auto& [k, v] : ours)
        set(k, v);
    for (const auto& [k, v] : config.kafka)  // the user's word wins
        set(k, v);
    if (on_delivery) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, &KafkaSide::on_error);
    rd_kafka_conf_set_log_cb(conf, &KafkaSide::on_log);
    rd_kafka_conf_set_opaque(conf, side);
    rd_kafka_t* k = rd_kafka_new(type, conf, err, sizeof err);
    if (!k) {
        rd_kafka_conf_destroy(conf);
        throw Error(ErrorCode::invalid_argument, std::string("librdkafka: ") + err);
    }
    return KafkaHandle(k);
}

// A topic's partition count in Kafka (nullopt: it does not exist there); throws when Kafka does
// not answer. Asks for every topic's metadata: a request naming the topic would make a cluster
// with auto.create.topics.enable (the broker default) create it with its own num.partitions,
// not the source's count.
std::optional<std::int32_t> kafka_partitions(rd_kafka_t* k, const std::string& topic) {
    const rd_kafka_metadata_t* md = nullptr;
    if (const rd_kafka_resp_err_t e = rd_kafka_metadata(k, 1, nullptr, &md, 5000); e)
        throw Error(ErrorCode::not_connected,
                    "no metadata from Kafka for " + topic + ": " + rd_kafka_err2str(e));
    std::optional<std::int32_t> n;
    for (int i = 0; i < md->topic_cnt; ++i)
        if (md->topics[i].topic == topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topics[i].partition_cnt > 0)
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

}  // namespace kbusd::mirror
