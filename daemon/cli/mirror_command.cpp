#include "mirror_command.hpp"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "config/properties.hpp"
#include "kbus/bus_location.hpp"
#include "kbus/kbus.hpp"
#include "mirror/mirror_config.hpp"
#include "mirror/record_mapping.hpp"
#include "mirror_status.hpp"

namespace kbusd {
namespace {

using namespace std::chrono_literals;
using kbus::Error;
using kbus::ErrorCode;
using mirror::DirectionStatus;
using mirror::log_line;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_failed{false};  // a fatal Kafka error: stop, and exit non-zero
void on_stop_signal(int) {
    g_stop.store(true);
}

struct KafkaDeleter {
    void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// What a librdkafka client's callbacks reach (their opaque): the direction that owns it. Errors
// that are not about one record (brokers down, authentication failed) land in its status; a
// fatal one (the client cannot go on) stops the mirror with a non-zero exit.
class KafkaSide {
  public:
    explicit KafkaSide(DirectionStatus& status) : status_(status) {}

    static void on_error(rd_kafka_t* k, int code, const char* reason, void* opaque) {
        auto* self = static_cast<KafkaSide*>(opaque);
        if (code == RD_KAFKA_RESP_ERR__FATAL) {
            char why[512] = "";
            rd_kafka_fatal_error(k, why, sizeof why);
            self->status_.error(std::string("Kafka (fatal, stopping): ") + why);
            g_failed.store(true);
            g_stop.store(true);
            return;
        }
        self->status_.error(std::string("Kafka: ") + reason);
        self->remember(reason);
    }

    // librdkafka's log, on stderr as before; its errors (a refused SASL handshake, say, which
    // reaches no error callback) become the rules' last error too.
    static void on_log(const rd_kafka_t* k, int level, const char* facility, const char* line) {
        std::fprintf(stderr, "kbus mirror librdkafka %s %s\n", facility, line);
        if (level <= 3)
            if (auto* self = static_cast<KafkaSide*>(rd_kafka_opaque(k))) {
                self->status_.keep_error(std::string("Kafka: ") + line);
                self->remember(line);
            }
    }

  protected:
    ~KafkaSide() = default;

    // What Kafka last complained of, for errors of our own that only know a request failed.
    [[nodiscard]] std::string kafka_said() {
        std::lock_guard lock(mutex_);
        return last_kafka_error_.empty() ? "" : " (Kafka said: " + last_kafka_error_ + ")";
    }

    DirectionStatus& status_;

  private:
    void remember(const std::string& what) {
        std::lock_guard lock(mutex_);  // librdkafka's threads log; the direction's reads
        last_kafka_error_ = what;
    }

    std::mutex mutex_;
    std::string last_kafka_error_;
};

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

// ---- out: local topics to Kafka ----

class OutMirror : KafkaSide {
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

    void run() {
        auto last_scan = std::chrono::steady_clock::time_point{};
        auto last_lag = last_scan;
        while (!g_stop.load()) {
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
            self->failed_.fetch_add(1);
            const std::string target = rd_kafka_topic_name(m->rkt);
            const std::string source = target.substr(self->config_.out_prefix.size());
            self->status_.error("delivery to " + target + " failed: " + rd_kafka_err2str(m->err),
                                &source);
        }
        self->pending_.fetch_sub(1);
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
        for (std::chrono::milliseconds backoff = 100ms; !g_stop.load();
             backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000))) {
            failed_ = 0;
            const bool sent = produce_all(batch);
            while (pending_.load() > 0 && !g_stop.load())
                rd_kafka_poll(producer_.get(), 50);
            if (sent && failed_.load() == 0) {
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
            pending_.fetch_add(1);
            const rd_kafka_resp_err_t e = rd_kafka_producev(
                producer_.get(), RD_KAFKA_V_TOPIC(target.c_str()), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(m.key().is_null() ? nullptr : m.key().data(), m.key().size()),
                RD_KAFKA_V_VALUE(
                    m.value().is_null() ? nullptr : const_cast<std::byte*>(m.value().data()),
                    m.value().size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(m.timestamp()),
                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // librdkafka owns the headers now
            pending_.fetch_sub(1);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_headers_destroy(headers);
                failed_.fetch_add(1);
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
    std::atomic<std::int64_t> pending_{0};
    std::atomic<std::int64_t> failed_{0};
};

// ---- in: Kafka topics into the bus ----

class InMirror : KafkaSide {
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
            // librdkafka takes a subscription starting with '^' as a regex.
            const std::string pattern =
                rule.pattern.front() == '^' ? rule.pattern : "^" + rule.pattern;
            rd_kafka_topic_partition_list_add(topics, pattern.c_str(), RD_KAFKA_PARTITION_UA);
        }
        const rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer_.get(), topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e)
            throw Error(ErrorCode::invalid_argument,
                        std::string("in: subscribe: ") + rd_kafka_err2str(e));
    }

    void run() {
        auto last_lag = std::chrono::steady_clock::time_point{};
        while (!g_stop.load()) {
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
                    if (g_stop.load()) return;  // not stored: read again after a restart
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

constexpr std::string_view status_prefix = "mirror-", status_suffix = ".status";

std::string status_path(const kbus::ClientOptions& bus, const std::string& group) {
    const kbus::BusLocation loc = kbus::resolve_bus_location({bus.bus, bus.run_dir, std::nullopt});
    return loc.run_dir + "/" + std::string(status_prefix) + group + std::string(status_suffix);
}

}  // namespace

int mirror_command(const std::vector<std::string>& args, const kbus::ClientOptions& bus_given) {
    // First: a SIGTERM that comes while the mirror starts must still stop it cleanly.
    ::signal(SIGINT, on_stop_signal);
    ::signal(SIGTERM, on_stop_signal);
    std::vector<kbus::config::Property> properties;
    bool status_only = false, config_given = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if ((a == "--config" || a == "--override") && i + 1 >= args.size())
            throw Error(ErrorCode::invalid_argument, a + " needs a value");
        if (a == "--config") {
            const auto file = kbus::config::read_properties_file(args[++i]);
            properties.insert(properties.end(), file.begin(), file.end());
            config_given = true;
        } else if (a == "--override") {
            properties.push_back(kbus::config::parse_override(args[++i]));
        } else if (a == "--status") {
            status_only = true;
        } else {
            throw Error(ErrorCode::invalid_argument,
                        "unknown flag '" + a + "' (see kbus mirror --help)");
        }
    }
    if (!config_given) throw Error(ErrorCode::invalid_argument, "kbus mirror needs --config FILE");
    const kbus::mirror::MirrorConfig config = kbus::mirror::make_mirror_config(properties);
    kbus::ClientOptions bus = bus_given;
    if (config.bus) bus.bus = config.bus;
    if (config.run_dir) bus.run_dir = config.run_dir;
    bus.client_name = "kbus-mirror";
    const std::string status_file = status_path(bus, config.group_id);
    if (status_only) {
        std::ifstream in(status_file);
        if (!in)
            throw Error(ErrorCode::not_connected,
                        "no mirror status at " + status_file + " (is the mirror running?)");
        std::cout << in.rdbuf();
        return 0;
    }
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    const std::string origin =
        config.mirror_id.value_or(std::string(host) + "/" + bus.bus.value_or("default"));

    DirectionStatus out_status("out", config.out_rules), in_status("in", config.in_rules);
    std::unique_ptr<OutMirror> out;
    std::unique_ptr<InMirror> in;
    if (!config.out_rules.empty())
        out = std::make_unique<OutMirror>(config, bus, origin, out_status);
    if (!config.in_rules.empty()) in = std::make_unique<InMirror>(config, bus, origin, in_status);
    log_line("INFO", "mirroring between the bus and " + config.bootstrap_servers + " (group " +
                         config.group_id + ", origin " + origin + ")");
    std::thread out_thread, in_thread;
    if (out) out_thread = std::thread([&] { out->run(); });
    if (in) in_thread = std::thread([&] { in->run(); });
    auto last = std::chrono::steady_clock::now();
    while (!g_stop.load()) {
        std::this_thread::sleep_for(200ms);
        const auto now = std::chrono::steady_clock::now();
        if (now - last < 1s) continue;
        mirror::write_status_file(status_file, config, out_status, in_status,
                                  std::chrono::duration<double>(now - last).count());
        last = now;
    }
    if (out_thread.joinable()) out_thread.join();
    if (in_thread.joinable()) in_thread.join();
    log_line("INFO", "stopped");
    return g_failed.load() ? 1 : 0;
}

std::vector<MirrorReport> mirror_reports(const std::string& run_dir) {
    namespace fs = std::filesystem;
    std::vector<MirrorReport> reports;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(status_prefix) || !name.ends_with(status_suffix)) continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        const auto written = fs::last_write_time(entry.path(), ec);
        MirrorReport r;
        r.group = name.substr(status_prefix.size(),
                              name.size() - status_prefix.size() - status_suffix.size());
        r.age_s =
            ec ? 0
               : std::chrono::duration<double>(fs::file_time_type::clock::now() - written).count();
        r.text = text.str();
        reports.push_back(std::move(r));
    }
    std::sort(reports.begin(), reports.end(),
              [](const auto& a, const auto& b) { return a.group < b.group; });
    return reports;
}

}  // namespace kbusd
