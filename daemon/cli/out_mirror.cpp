// The out direction: local topics to Kafka (mirror_directions.hpp).
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

class OutMirror : public Direction, KafkaSide {
  public:
    OutMirror(const kbus::mirror::MirrorConfig& config, const kbus::ClientOptions& bus,
              std::string origin, DirectionStatus& status)
        : KafkaSide(status), config_(config), client_(bus), origin_(std::move(origin)) {
        // Idempotent: librdkafka's retries after a broker failure never duplicate in Kafka.
        producer_ = kafka_client(RD_KAFKA_PRODUCER, config_,
                                 {{"enable.idempotence", "true"}, {"linger.ms", "5"}},
                                 &OutMirror::on_delivery, this);
        kbus::ConsumerOptions o;
        o.group_id = config_.group_id;
        o.enable_auto_commit = false;
        o.auto_offset_reset = kbus::OffsetReset::earliest;
        o.max_poll_records = 5000;
        consumer_ = std::make_unique<kbus::Consumer>(client_, o);
    }

    void run() override {
        auto last_scan = std::chrono::steady_clock::time_point{};
        auto last_lag = last_scan;
        while (!g_stop.load(std::memory_order_relaxed)) {  // a flag
            try {
                if (std::chrono::steady_clock::now() - last_scan > 2s) {
                    rescan();
                    last_scan = std::chrono::steady_clock::now();
                }
                if (subscribed_.empty()) {
                    std::this_thread::sleep_for(100ms);
                    continue;
                }
                const auto& batch = consumer_->poll(100ms);
                if (!batch.empty()) copy(batch);
                if (std::chrono::steady_clock::now() - last_lag > 500ms) {
                    update_lags();
                    last_lag = std::chrono::steady_clock::now();
                }
            } catch (const Error& e) {
                status_.error(e.what());
                std::this_thread::sleep_for(1s);  // then again: the bus may be restarting
            }
        }
        rd_kafka_flush(producer_.get(), 10'000);
    }

  private:
    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<OutMirror*>(static_cast<KafkaSide*>(opaque));
        if (m->err) {
            self->failed_.fetch_add(1, std::memory_order_relaxed);
            const std::string target = rd_kafka_topic_name(m->rkt);
            const std::string source = target.substr(self->config_.out_prefix.size());
            self->status_.error("delivery to " + target + " failed: " + rd_kafka_err2str(m->err),
                                &source);
        }
        self->pending_.fetch_sub(1, std::memory_order_relaxed);
    }

    void rescan() {
        std::set<std::string> wanted;
        for (const std::string& t : client_.list_topics())
            if (kbus::mirror::matches(config_.out_rules, t)) wanted.insert(t);
        if (wanted == subscribed_) return;
        subscribed_ = wanted;
        if (!wanted.empty())
            consumer_->subscribe(std::vector<std::string>(wanted.begin(), wanted.end()));
        log_line("INFO", "out: mirroring " + std::to_string(wanted.size()) + " local topics");
    }

    // The Kafka partition count of a target, creating the topic (with the source's count, as
    // MirrorMaker does) when it is missing. A cluster that does not answer CreateTopics (or
    // refuses it) gets a metadata request naming the topic: its auto-creation, with its own
    // default count, and records then placed by key.
    std::int32_t target_partitions(const std::string& source, const std::string& target) {
        if (auto it = partitions_.find(target); it != partitions_.end()) return it->second;
        std::optional<std::int32_t> n = kafka_partitions(producer_.get(), target);
        if (!n) {
            const std::int32_t wanted = client_.describe_topic(source).metadata.partitions;
            if (create_in_kafka(target, wanted)) {
                for (int i = 0; i < 50 && !n; ++i) {
                    std::this_thread::sleep_for(100ms);
                    n = kafka_partitions(producer_.get(), target);
                }
            }
            if (!n) n = auto_created(target);
            if (!n)
                throw Error(ErrorCode::unknown_topic,
                            "topic " + target + " is not in Kafka and could not be created");
            if (*n != wanted)
                log_line("WARN", "out: " + target + " has " + std::to_string(*n) +
                                     " partitions in Kafka, " + source + " has " +
                                     std::to_string(wanted) + ": records are placed by key");
        }
        return partitions_[target] = *n;
    }

    // CreateTopics through the admin API; false when the cluster refused it or did not answer.
    bool create_in_kafka(const std::string& topic, std::int32_t partitions) {
        char err[256];
        rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(
            topic.c_str(), partitions, config_.out_replication_factor, err, sizeof err);
        if (!t) throw Error(ErrorCode::invalid_argument, err);
        rd_kafka_AdminOptions_t* options =
            rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(options, 5000, err, sizeof err);
        rd_kafka_queue_t* q = rd_kafka_queue_new(producer_.get());
        rd_kafka_CreateTopics(producer_.get(), &t, 1, options, q);
        bool created = false;
        std::string why = "no answer within 5 s";
        // A little past the request's own timeout, so that its own answer is the one seen.
        if (rd_kafka_event_t* e = rd_kafka_queue_poll(q, 6000)) {
            std::size_t n = 0;
            const auto* result = rd_kafka_event_CreateTopics_result(e);
            const rd_kafka_topic_result_t** r =
                result ? rd_kafka_CreateTopics_result_topics(result, &n) : nullptr;
            const rd_kafka_resp_err_t code =
                n == 1 ? rd_kafka_topic_result_error(r[0]) : rd_kafka_event_error(e);
            created = code == RD_KAFKA_RESP_ERR_NO_ERROR ||
                      code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
            why = rd_kafka_err2str(code);
            rd_kafka_event_destroy(e);
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(t);
        if (created)
            log_line("INFO", "out: created " + topic + " in Kafka with " +
                                 std::to_string(partitions) + " partitions");
        else
            log_line("WARN", "out: creating " + topic + " in Kafka: " + why +
                                 " (relying on the cluster's auto-creation)");
        return created;
    }

    // A metadata request naming the topic: a cluster with auto.create.topics.enable makes it.
    std::optional<std::int32_t> auto_created(const std::string& topic) {
        rd_kafka_topic_t* t = rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr);
        std::optional<std::int32_t> n;
        for (int i = 0; i < 4 && !n; ++i) {
            const rd_kafka_metadata_t* md = nullptr;
            if (rd_kafka_metadata(producer_.get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                md->topics[0].partition_cnt > 0)
                n = md->topics[0].partition_cnt;
            if (md) rd_kafka_metadata_destroy(md);
            if (!n) std::this_thread::sleep_for(250ms);
        }
        rd_kafka_topic_destroy(t);
        return n;
    }

    // Produces the poll's records (a failed delivery sends the whole poll again, with backoff:
    // its views stay valid until the next poll), then commits their offsets.
    void copy(const kbus::Batch& batch) {
        for (std::chrono::milliseconds backoff = 100ms; !g_stop.load(std::memory_order_relaxed);
             backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000))) {
            failed_.store(0, std::memory_order_relaxed);
            const bool sent = produce_all(batch);
            while (pending_.load(std::memory_order_relaxed) > 0 &&
                   !g_stop.load(std::memory_order_relaxed))
                rd_kafka_poll(producer_.get(), 50);
            if (sent && failed_.load(std::memory_order_relaxed) == 0) {
                commit(batch);
                return;
            }
            update_lags();
            std::this_thread::sleep_for(backoff);  // Kafka refused: the same records again
        }
    }

    // False when a record has no target yet (topic creation failing): the whole poll waits and
    // goes again, since the consumer's position has moved past it and nothing else would send it.
    bool produce_all(const kbus::Batch& batch) {
        const std::string our_origin = kbus::mirror::kafka_origin(config_.bootstrap_servers);
        for (const kbus::Message& m : batch) {
            if (const auto origin = m.header(kbus::mirror::origin_header);
                origin && origin->str() == our_origin) {
                // It came from this cluster: sending it back would loop.
                status_.of(std::string(m.topic())).skipped.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            try {
                produce(m);
            } catch (const Error& e) {
                const std::string topic(m.topic());
                status_.error(e.what() + kafka_said(), &topic);
                return false;
            }
        }
        return true;
    }

    // Every partition's next offset after the poll, committed; records counted per rule.
    void commit(const kbus::Batch& batch) {
        kbus::group::OffsetList offsets;     // a poll spans few partitions: a short list
        std::vector<std::uint64_t> records;  // beside each entry
        for (const kbus::Message& m : batch) {
            auto it = std::find_if(offsets.begin(), offsets.end(), [&](const auto& o) {
                return o.first.partition == m.partition() && o.first.topic == m.topic();
            });
            if (it == offsets.end()) {
                offsets.push_back({{std::string(m.topic()), m.partition()}, 0});
                records.push_back(0);
                it = offsets.end() - 1;
            }
            it->second = std::max(it->second, m.offset() + 1);
            ++records[std::size_t(it - offsets.begin())];
        }
        consumer_->commit_sync(offsets);
        for (std::size_t i = 0; i < offsets.size(); ++i) {
            const auto& [tp, offset] = offsets[i];
            committed_[{tp.topic, tp.partition}] = offset;
            status_.of(tp.topic).records.fetch_add(records[i], std::memory_order_relaxed);
        }
    }

    std::int64_t start_of(const kbus::group::TopicPartition& tp) {
        if (const auto offset = consumer_->committed(tp.topic, tp.partition)) return *offset;
        for (const auto& p : client_.describe_topic(tp.topic).partitions)
            if (p.partition == tp.partition) return p.log_start_offset;
        return 0;
    }

    // Per rule: what the bus holds beyond the mirror's commits on its assigned partitions.
    void update_lags() {
        std::map<std::string, std::int64_t> lag;
        const auto assigned = consumer_->assignment();
        std::erase_if(committed_, [&](const auto& entry) {  // moved away: its figure is stale
            return std::none_of(assigned.begin(), assigned.end(), [&](const auto& tp) {
                return tp.topic == entry.first.first && tp.partition == entry.first.second;
            });
        });
        for (const kbus::group::TopicPartition& tp : assigned) {
            auto c = committed_.find({tp.topic, tp.partition});
            if (c == committed_.end())  // the group's commit, else where the log starts
                c = committed_.emplace(std::pair{tp.topic, tp.partition}, start_of(tp)).first;
            lag[tp.topic] += std::max<std::int64_t>(
                0, consumer_->high_watermark(tp.topic, tp.partition) - c->second);
        }
        status_.set_lags(lag);
    }

    std::int32_t source_partitions_of(const std::string& topic) {
        if (auto it = source_partitions_.find(topic); it != source_partitions_.end())
            return it->second;
        return source_partitions_[topic] = client_.describe_topic(topic).metadata.partitions;
    }

    void produce(const kbus::Message& m) {
        const std::string target = config_.out_prefix + m.topic();
        const std::int32_t partitions = target_partitions(m.topic(), target);
        const std::int32_t source_partitions = source_partitions_of(m.topic());
        const std::int32_t partition =
            kbus::mirror::target_partition(m.partition(), source_partitions, partitions, m.key());
        rd_kafka_headers_t* headers = rd_kafka_headers_new(m.header_count() + 1);
        for (auto h = m.headers(); !h.done(); ++h)
            rd_kafka_header_add(headers, h->key.data(), ssize_t(h->key.size()),
                                h->value.is_null() ? nullptr : h->value.data(),
                                h->value.is_null() ? 0 : ssize_t(h->value.size()));
        rd_kafka_header_add(headers, kbus::mirror::origin_header.data(),
                            ssize_t(kbus::mirror::origin_header.size()), origin_.data(),
                            ssize_t(origin_.size()));
        for (;;) {
            pending_.fetch_add(1, std::memory_order_relaxed);
            const rd_kafka_resp_err_t e = rd_kafka_producev(
                producer_.get(), RD_KAFKA_V_TOPIC(target.c_str()), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(m.key().is_null() ? nullptr : m.key().data(), m.key().size()),
                RD_KAFKA_V_VALUE(
                    m.value().is_null() ? nullptr : const_cast<std::byte*>(m.value().data()),
                    m.value().size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(m.timestamp()),
                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // librdkafka owns the headers now
            pending_.fetch_sub(1, std::memory_order_relaxed);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_headers_destroy(headers);
                failed_.fetch_add(1, std::memory_order_relaxed);
                const std::string source(m.topic());
                status_.error("producing to " + target + ": " + rd_kafka_err2str(e), &source);
                return;
            }
            rd_kafka_poll(producer_.get(), 10);
        }
    }

    const kbus::mirror::MirrorConfig& config_;
    kbus::Client client_;
    std::string origin_;
    KafkaHandle producer_;
    std::unique_ptr<kbus::Consumer> consumer_;
    std::set<std::string> subscribed_;
    std::map<std::string, std::int32_t> partitions_;
    std::map<std::string, std::int32_t> source_partitions_;
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> committed_;
    // Relaxed throughout: librdkafka runs delivery reports on this thread, inside rd_kafka_poll,
    // so these only count; atomics in case a future librdkafka setting moves the callbacks.
    std::atomic<std::int64_t> pending_{0};
    std::atomic<std::int64_t> failed_{0};
};

}  // namespace

std::unique_ptr<Direction> make_out_mirror(const kbus::mirror::MirrorConfig& config,
                                           const kbus::ClientOptions& bus, std::string origin,
                                           DirectionStatus& status) {
    return std::make_unique<OutMirror>(config, bus, std::move(origin), status);
}

}  // namespace kbusd::mirror
