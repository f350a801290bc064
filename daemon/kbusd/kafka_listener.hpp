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
#include "kafka_backend.hpp"
#include "kafka_connection.hpp"
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
    void respond(KafkaConnection& c, const kbus::kafka::RequestHeader& h, ResponseBuilder& body);
    // A response message written at the request's version and queued.
    template <class Response>
    void respond_with(KafkaConnection& c, const kbus::kafka::RequestHeader& h, const Response& r) {
        ResponseBuilder out;
        r.write(out.bytes(), h.api_version);
        respond(c, h, out);
    }
    // Heartbeat and LeaveGroup: the call's failure, as Kafka's error code, is the whole answer.
    template <class Call>
    void answer_error_only(KafkaConnection& c, const kbus::kafka::RequestHeader& h, Call call) {
        kbus::kafka::ErrorOnlyResponse r;
        try {
            call();
        } catch (const kbus::Error& e) {
            r.error = kbus::kafka::kafka_error_of(e.code());
        }
        respond_with(c, h, r);
    }

    void refuse_or_answer_versions(KafkaConnection& c, const kbus::kafka::RequestHeader& h);
    void serve_at_once(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                       kbus::kafka::WireReader& body);
    struct FetchPart {
        kbus::kafka::FetchPartitionHeader header;
        std::optional<FileExtent> extent;
    };
    FetchPart fetch_partition(const std::string& topic,
                              const kbus::kafka::FetchRequest::Partition& p, std::uint64_t room,
                              bool first);
    bool produce(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                 kbus::kafka::WireReader& body, std::int64_t now_ms);
    std::optional<kbus::kafka::ProduceResponse::Partition> produce_partition(
        const kbus::kafka::ProduceRequest& q, const std::string& topic,
        const kbus::kafka::ProduceRequest::Partition& p, bool may_wait);
    bool fetch(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
               kbus::kafka::WireReader& body, std::int64_t now_ms);
    bool join_group(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                    kbus::kafka::WireReader& body, std::int64_t now_ms);
    bool sync_group(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                    kbus::kafka::WireReader& body, std::int64_t now_ms);
    void metadata(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                  kbus::kafka::WireReader& body);
    void list_offsets(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                      kbus::kafka::WireReader& body);
    void offset_commit(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                       kbus::kafka::WireReader& body);
    void offset_fetch(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                      kbus::kafka::WireReader& body);
    void create_topics(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                       kbus::kafka::WireReader& body);
    void delete_topics(KafkaConnection& c, const kbus::kafka::RequestHeader& h,
                       kbus::kafka::WireReader& body);

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
};

}  // namespace kbusd
