// kbusd's Kafka listener (listeners=PLAINTEXT://host:port): serves unmodified Kafka clients
// (librdkafka, kcat, kafkajs) the protocol subset of kafka/kafka_api.hpp, as a one-broker
// cluster whose node 0 is this address. One thread, one epoll loop, non-blocking sockets; on
// each connection requests are answered strictly in order (Kafka's rule), pipelined requests
// are read ahead, and a request that must wait (a fetch's max wait, a join, a full ring) parks
// its connection alone. Fetches send segment bytes with sendfile, as they are stored.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "kafka/batch_appender.hpp"
#include "kafka/message.hpp"
#include "kafka/producer_state.hpp"
#include "kafka/schema.hpp"
#include "kafka_backend.hpp"
#include "kafka_connection.hpp"
#include "log/batch_builder.hpp"
#include "logging/log_sink.hpp"

namespace kbusd {

struct KafkaListenerOptions {
    std::string bind_host = "127.0.0.1";  // empty: every interface
    std::uint16_t port = 9092;            // 0: any free port
    std::string advertised_host;          // empty: the bound address (127.0.0.1 for "any")
    std::int32_t advertised_port = -1;    // -1: the bound port
    std::int32_t max_request_bytes = kbus::kafka::default_max_request_bytes;
    std::string cluster_id = "kbus";
};

// A request being served: its header, its API's schema and its body, decoded at its version.
struct KafkaRequest {
    kbus::kafka::RequestHeader header;
    const kbus::kafka::schema::Api* api = nullptr;
    bool flexible = false;
    kbus::kafka::Value body;
    [[nodiscard]] std::int16_t version() const noexcept { return header.api_version; }
};

class KafkaListener {
  public:
    using Log = kbus::logging::LogSink;
    KafkaListener(KafkaBackend& backend, KafkaListenerOptions options, Log log);
    KafkaListener(const KafkaListener&) = delete;
    KafkaListener& operator=(const KafkaListener&) = delete;
    ~KafkaListener() { stop(); }

    // Binds and starts serving; returns the bound port. Throws Error(io_error) naming the
    // address (a port in use, an address not of this host).
    std::uint16_t start();
    void stop();
    // From any thread: parked requests are tried again now (the spill wrote what a fetch waits
    // for), not at the next 1 ms look.
    void wake() noexcept;

  private:
    void run();
    void accept_all();
    void on_readable(KafkaConnection& c);
    void on_writable(KafkaConnection& c);
    void serve_requests(KafkaConnection& c, std::int64_t now_ms);
    void update_interest(KafkaConnection& c);
    void close(KafkaConnection& c, const std::string& why);
    // Closes once the responses queued before the bad request are sent.
    void close_after_answers(KafkaConnection& c, const std::string& why);

    // One request: true when answered (or answered by silence), false when parked.
    bool serve(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
               kbus::kafka::WireReader& body, std::int64_t now_ms);
    bool dispatch(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms);
    void respond(KafkaConnection& c, const kbus::kafka::RequestHeader& h, ResponseBuilder& body);
    // A response message encoded at the request's version (records spliced in from files).
    void respond_with(KafkaConnection& c, const KafkaRequest& q, const kbus::kafka::Value& r,
                      std::vector<FileExtent> extents = {});
    [[nodiscard]] kbus::kafka::Value response_of(const KafkaRequest& q) const;
    void answer_api_versions(KafkaConnection& c, const kbus::kafka::RequestHeader& h);

    // Records: kafka_requests.cpp.
    void metadata(KafkaConnection& c, const KafkaRequest& q);
    bool produce(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms);
    [[nodiscard]] std::optional<ProducedPartition> produce_partition(
        const KafkaRequest& q, const std::string& topic, const kbus::kafka::Value& partition,
        bool may_wait);
    [[nodiscard]] std::optional<ProducedPartition> append_partition(const std::string& topic,
                                                                    ProducedPartition result,
                                                                    bool may_wait);
    [[nodiscard]] kbus::kafka::DecodeResult decode_and_check(const KafkaRequest& q,
                                                             std::string_view records,
                                                             const std::string& topic);
    [[nodiscard]] kbus::kafka::DecodeResult decode_records(const KafkaRequest& q,
                                                           std::string_view records,
                                                           const std::string& topic);
    [[nodiscard]] std::string downconverted(const FileExtent& extent, std::int8_t magic,
                                            std::int64_t from_offset, std::size_t max_bytes) const;
    // The timestamp of the record at `offset` (ListOffsets by time answers with it), -1 if
    // it cannot be read.
    [[nodiscard]] std::int64_t timestamp_at(const std::string& topic, std::int32_t partition,
                                            std::int64_t offset);
    bool fetch(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms);
    struct FetchPart {
        kbus::kafka::KafkaError error = kbus::kafka::KafkaError::none;
        std::int64_t high_watermark = -1;
        std::int64_t log_start_offset = -1;
        std::int64_t last_stable_offset = -1;
        std::vector<std::pair<std::int64_t, std::int64_t>> aborted;  // producer id, first offset
        std::optional<FileExtent> extent;
    };
    // `read_committed`: Fetch's isolation_level 1, served below the last stable offset.
    [[nodiscard]] FetchPart fetch_partition(const std::string& topic,
                                            const kbus::kafka::Value& partition, std::uint64_t room,
                                            bool first, bool read_committed);
    // What a Fetch's response holds so far.
    struct FetchProgress {
        std::vector<FileExtent> extents;
        std::uint64_t total = 0;
        std::uint64_t response_max = 0;
        bool any_error = false;
    };
    void answer_fetch_partition(const KafkaRequest& q, const std::optional<std::string>& topic,
                                const kbus::kafka::Value& p, kbus::kafka::Value& result,
                                FetchProgress& progress);
    void list_offsets(KafkaConnection& c, const KafkaRequest& q);
    // Log-wide: kafka_log_requests.cpp.
    void delete_records(KafkaConnection& c, const KafkaRequest& q);
    void offset_for_leader_epoch(KafkaConnection& c, const KafkaRequest& q);
    void describe_log_dirs(KafkaConnection& c, const KafkaRequest& q);
    // Idempotent and transactional producers: kafka_producer_requests.cpp.
    void init_producer_id(KafkaConnection& c, const KafkaRequest& q);
    void init_transactional_producer(KafkaConnection& c, const KafkaRequest& q,
                                     kbus::kafka::Value& r);
    // nullopt: append the decoded batch; else the answer (a duplicate's offset, or a refusal).
    [[nodiscard]] std::optional<ProducedPartition> check_producer(const std::string& topic,
                                                                  const std::string& partition_key,
                                                                  ProducedPartition result);
    // Transactions: kafka_transaction_requests.cpp.
    void add_partitions_to_txn(KafkaConnection& c, const KafkaRequest& q);
    void add_offsets_to_txn(KafkaConnection& c, const KafkaRequest& q);
    void txn_offset_commit(KafkaConnection& c, const KafkaRequest& q);
    void end_txn(KafkaConnection& c, const KafkaRequest& q);
    // Groups: kafka_group_requests.cpp.
    void find_coordinator(KafkaConnection& c, const KafkaRequest& q);
    bool join_group(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms);
    bool sync_group(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms);
    void heartbeat(KafkaConnection& c, const KafkaRequest& q);
    void leave_group(KafkaConnection& c, const KafkaRequest& q);
    void offset_commit(KafkaConnection& c, const KafkaRequest& q);
    void offset_fetch(KafkaConnection& c, const KafkaRequest& q);
    void committed_offsets(const std::string& group, const kbus::kafka::Value& topics,
                           kbus::kafka::Value& out);
    void list_groups(KafkaConnection& c, const KafkaRequest& q);
    void describe_groups(KafkaConnection& c, const KafkaRequest& q);
    void delete_groups(KafkaConnection& c, const KafkaRequest& q);
    void offset_delete(KafkaConnection& c, const KafkaRequest& q);
    // Topics: kafka_admin_requests.cpp.
    void create_topics(KafkaConnection& c, const KafkaRequest& q);
    void delete_topics(KafkaConnection& c, const KafkaRequest& q);
    void describe_configs(KafkaConnection& c, const KafkaRequest& q);
    void describe_cluster(KafkaConnection& c, const KafkaRequest& q);
    // Topic changes: kafka_config_requests.cpp.
    void alter_configs(KafkaConnection& c, const KafkaRequest& q);
    void incremental_alter_configs(KafkaConnection& c, const KafkaRequest& q);
    template <typename OverridesOf>
    void alter_resource(const kbus::kafka::Value& resource, kbus::kafka::Value& out,
                        bool validate_only, bool incremental, OverridesOf overrides_of);
    void create_partitions(KafkaConnection& c, const KafkaRequest& q);

    // Topic ids (Metadata v10+, Fetch v13+): derived from the name, found again by a lookup
    // over the bus's topics when the cache does not know them.
    [[nodiscard]] std::optional<std::string> topic_named_by(const kbus::kafka::Value::Uuid& id);
    std::map<kbus::kafka::Value::Uuid, std::string> topic_ids_;

    // A WARN line, at most one a second per cause (`key`): a client looping on a bad request
    // or garbage on the port must not flood the log.
    void warn(const std::string& key, const std::string& message);

    KafkaBackend& backend_;
    KafkaListenerOptions options_;
    Log log_;
    kbus::logging::RateLimitedLog limited_log_{log_};
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;  // an eventfd: stop() wakes the loop
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::map<int, std::unique_ptr<KafkaConnection>> connections_;  // by fd
    std::uint64_t next_connection_id_ = 1;
    kbus::kafka::BatchDecoder decoder_;
    kbus::kafka::ProducerStateTable producers_;
    // Produce v0-2: a legacy message set converted to RecordBatch v2 (reused, as the decoder is).
    kbus::log::BatchBuilder legacy_builder_;
    std::string legacy_batch_;
};

}  // namespace kbusd
