// The in direction: Kafka topics into the bus (mirror_directions.hpp).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kafka_side.hpp"
#include "kbus/kbus.hpp"
#include "mirror/record_mapping.hpp"
#include "mirror_directions.hpp"

namespace kbusd::mirror {
namespace {

using namespace std::chrono_literals;
using kbus::Error;
using kbus::ErrorCode;

// A rule's own leading '^' and trailing '$' (it is anchored at both ends anyway).
std::string strip_anchors(std::string pattern) {
    if (!pattern.empty() && pattern.front() == '^') pattern.erase(0, 1);
    if (!pattern.empty() && pattern.back() == '$' &&
        (pattern.size() < 2 || pattern[pattern.size() - 2] != '\\'))
        pattern.pop_back();
    return pattern;
}

class InMirror : public Direction, KafkaSide {
  public:
    InMirror(const kbus::mirror::MirrorConfig& config, const kbus::ClientOptions& bus,
             std::string origin, DirectionStatus& status)
        : KafkaSide(status),
          config_(config),
          client_(bus),
          producer_(client_),
          origin_(std::move(origin)) {
        // Offsets are stored by hand, once a record is committed to the ring; librdkafka then
        // commits only stored offsets.
        consumer_ = kafka_client(RD_KAFKA_CONSUMER, config_,
                                 {{"group.id", config_.group_id},
                                  {"enable.auto.offset.store", "false"},
                                  {"enable.auto.commit", "true"},
                                  // The at-least-once window after a crash.
                                  {"auto.commit.interval.ms", "100"},
                                  {"auto.offset.reset", "earliest"}},
                                 nullptr, this);
        rd_kafka_poll_set_consumer(consumer_.get());
        rd_kafka_topic_partition_list_t* topics =
            rd_kafka_topic_partition_list_new(int(config_.in_rules.size()));
        for (const auto& rule : config_.in_rules) {
            // librdkafka takes a subscription starting with '^' as a regex, which it searches
            // for: anchored at both ends, as the rules match whole names (a rule "feed" must
            // not take "feedback").
            const std::string pattern = "^(" + strip_anchors(rule.pattern) + ")$";
            rd_kafka_topic_partition_list_add(topics, pattern.c_str(), RD_KAFKA_PARTITION_UA);
        }
        const rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer_.get(), topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e)
            throw Error(ErrorCode::invalid_argument,
                        std::string("in: subscribe: ") + rd_kafka_err2str(e));
    }

    void run() override {
        auto last_lag = std::chrono::steady_clock::time_point{};
        while (!g_stop.load(std::memory_order_relaxed)) {  // a flag
            if (std::chrono::steady_clock::now() - last_lag > 500ms) {
                update_lags();
                last_lag = std::chrono::steady_clock::now();
            }
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100);
            if (!m) continue;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    const std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
                    status_.error(rd_kafka_message_errstr(m), topic.empty() ? nullptr : &topic);
                }
            } else {
                copy(m);
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_commit(consumer_.get(), nullptr, 0);  // what was stored, synchronously
        rd_kafka_consumer_close(consumer_.get());
    }

  private:
    // Into the ring (retrying while the bus is away), then the offset is stored for commit.
    void copy(rd_kafka_message_t* m) {
        const std::string source = rd_kafka_topic_name(m->rkt);
        rd_kafka_headers_t* headers = nullptr;
        std::vector<kbus::Header> kept;
        bool ours = false;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name;
            const void* value;
            std::size_t size;
            for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                                    RD_KAFKA_RESP_ERR_NO_ERROR;
                 ++i) {
                if (name == kbus::mirror::origin_header && value &&
                    std::string_view(static_cast<const char*>(value), size) == origin_)
                    ours = true;
                kbus::Header h;
                h.key = name;
                if (value) h.value = std::string(static_cast<const char*>(value), size);
                kept.push_back(std::move(h));
            }
        }
        if (!ours) {
            const std::string target = config_.in_prefix + source;
            kbus::Header origin{std::string(kbus::mirror::origin_header),
                                kbus::mirror::kafka_origin(config_.bootstrap_servers)};
            std::vector<kbus::HeaderView> views;
            for (const auto& h : kept)
                if (h.key != kbus::mirror::origin_header) views.push_back(h.view());
            views.push_back(origin.view());
            for (std::chrono::milliseconds backoff = 100ms;;
                 backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000))) {
                try {
                    send(source, target, m, views);
                    break;
                } catch (const Error& e) {
                    status_.error("copying to " + target + ": " + e.what(), &source);
                    if (g_stop.load(std::memory_order_relaxed))
                        return;  // not stored: read again after a restart
                    std::this_thread::sleep_for(backoff);
                }
            }
        } else {
            status_.of(source).skipped.fetch_add(1, std::memory_order_relaxed);
        }
        // Committed to the ring (or ours): the next offset may be committed to Kafka.
        rd_kafka_topic_partition_list_t* done = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(done, source.c_str(), m->partition)->offset =
            m->offset + 1;
        rd_kafka_offsets_store(consumer_.get(), done);
        rd_kafka_topic_partition_list_destroy(done);
        status_.of(source).records.fetch_add(1, std::memory_order_relaxed);
    }

    // Per rule: Kafka's high watermarks (as of the last fetch) less the consumer's positions.
    void update_lags() {
        rd_kafka_topic_partition_list_t* assigned = nullptr;
        if (rd_kafka_assignment(consumer_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
        rd_kafka_position(consumer_.get(), assigned);
        std::map<std::string, std::int64_t> lag;
        for (int i = 0; i < assigned->cnt; ++i) {
            const rd_kafka_topic_partition_t& tp = assigned->elems[i];
            std::int64_t low = 0, high = 0;
            if (rd_kafka_get_watermark_offsets(consumer_.get(), tp.topic, tp.partition, &low,
                                               &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                high < 0)
                continue;
            const std::int64_t at = tp.offset >= 0 ? tp.offset : low;
            lag[tp.topic] += std::max<std::int64_t>(0, high - at);
        }
        rd_kafka_topic_partition_list_destroy(assigned);
        status_.set_lags(lag);
    }

    void send(const std::string& source, const std::string& target, const rd_kafka_message_t* m,
              const std::vector<kbus::HeaderView>& headers) {
        const std::int32_t source_partitions = kafka_source_partitions(source);
        std::int32_t local = local_partitions(target, source_partitions);
        kbus::SendOptions o;
        const kbus::BytesView key =
            m->key ? kbus::BytesView(m->key, m->key_len) : kbus::BytesView();
        o.partition = kbus::mirror::target_partition(m->partition, source_partitions, local, key);
        rd_kafka_timestamp_type_t type;
        if (const std::int64_t ts = rd_kafka_message_timestamp(m, &type); ts >= 0) o.timestamp = ts;
        o.headers = headers;
        (void)producer_.send(
            target, key, m->payload ? kbus::BytesView(m->payload, m->len) : kbus::BytesView(), o);
    }

    std::int32_t kafka_source_partitions(const std::string& topic) {
        if (auto it = source_partitions_.find(topic); it != source_partitions_.end())
            return it->second;
        const auto n = kafka_partitions(consumer_.get(), topic);
        if (!n) throw Error(ErrorCode::unknown_topic, "in: no metadata for " + topic + " in Kafka");
        return source_partitions_[topic] = *n;
    }

    // The bus's partition count for a target, creating it with the source's when missing.
    std::int32_t local_partitions(const std::string& target, std::int32_t source_partitions) {
        if (auto it = local_partitions_.find(target); it != local_partitions_.end())
            return it->second;
        try {
            return local_partitions_[target] = client_.describe_topic(target).metadata.partitions;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::unknown_topic) throw;
        }
        try {
            client_.create_topic(target, source_partitions);
            log_line("INFO", "in: created " + target + " on the bus with " +
                                 std::to_string(source_partitions) + " partitions");
        } catch (const Error& e) {
            if (e.code() != ErrorCode::topic_exists) throw;
        }
        return local_partitions_[target] = client_.describe_topic(target).metadata.partitions;
    }

    const kbus::mirror::MirrorConfig& config_;
    kbus::Client client_;
    kbus::Producer producer_;
    std::string origin_;
    KafkaHandle consumer_;
    std::map<std::string, std::int32_t> source_partitions_;
    std::map<std::string, std::int32_t> local_partitions_;
};

}  // namespace

std::unique_ptr<Direction> make_in_mirror(const kbus::mirror::MirrorConfig& config,
                                          const kbus::ClientOptions& bus, std::string origin,
                                          DirectionStatus& status) {
    return std::make_unique<InMirror>(config, bus, std::move(origin), status);
}

}  // namespace kbusd::mirror
