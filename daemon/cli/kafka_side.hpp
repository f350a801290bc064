// What the mirror's two directions share about librdkafka: an owning handle, the callbacks that
// turn librdkafka's errors and log lines into a direction's status, a client built from the
// config's pass-through keys, and a topic's partition count in Kafka.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kbus/error.hpp"
#include "mirror/mirror_config.hpp"
#include "mirror_status.hpp"

namespace kbusd::mirror {

// Set by SIGINT/SIGTERM (and a fatal Kafka error): both directions finish what they hold and stop.
// Every access is relaxed: they are flags, no data is published through them, and the
// directions' threads are joined before main reads anything they wrote.
inline std::atomic<bool> g_stop{false};
inline std::atomic<bool> g_failed{false};  // a fatal Kafka error: stop, and exit non-zero

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
            g_failed.store(true, std::memory_order_relaxed);  // relaxed: a flag (see g_stop)
            g_stop.store(true, std::memory_order_relaxed);
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

[[nodiscard]] KafkaHandle kafka_client(
    rd_kafka_type_t type, const kbus::mirror::MirrorConfig& config,
    const std::vector<std::pair<std::string, std::string>>& ours,
    void (*on_delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*), KafkaSide* side);

// A topic's partition count in Kafka (nullopt: it does not exist there); throws when Kafka does
// not answer.
[[nodiscard]] std::optional<std::int32_t> kafka_partitions(rd_kafka_t* k, const std::string& topic);

}  // namespace kbusd::mirror
