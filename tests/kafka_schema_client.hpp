// A Kafka client at the wire level for kbusd's listener tests: any API at any version, encoded
// and decoded through the listener's own schema tables (whose field lists are Kafka's), and
// RecordBatches stamped as an idempotent or transactional producer stamps them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"
#include "kafka/api_schemas.hpp"
#include "kafka/kafka_api.hpp"
#include "kafka/schema_codec.hpp"
#include "kafka_daemon.hpp"
#include "kbus/detail/big_endian.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/log/record_batch_descriptor.hpp"
#include "log/batch_builder.hpp"

namespace kbus::test {

using kafka::ApiKey;
using kafka::KafkaError;
using kafka::SchemaCodec;
using kafka::Value;
using kafka::WireReader;
using kafka::WireWriter;

// A client that speaks any API at any version through the schema tables.
class SchemaClient {
  public:
    explicit SchemaClient(const std::string& broker) {
        const auto port = std::uint16_t(std::stoi(broker.substr(broker.rfind(':') + 1)));
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~SchemaClient() { ::close(fd_); }
    SchemaClient(const SchemaClient&) = delete;
    SchemaClient& operator=(const SchemaClient&) = delete;

    [[nodiscard]] static Value request(ApiKey key) {
        return Value::object_of(*kbus::kafka::schema::find_api(std::int16_t(key))->request);
    }

    // Sends `body` as a request of `key` at `version`, and decodes the answer.
    Value call(ApiKey key, std::int16_t version, const Value& body) {
        const auto* api = kbus::kafka::schema::find_api(std::int16_t(key));
        const bool flexible = api->flexible(version);
        WireWriter w;
        w.i16(std::int16_t(key));
        w.i16(version);
        w.i32(++correlation_);
        w.nullable_string("kbus-admin-test");
        if (flexible) w.uvarint(0);  // header v2: no tagged fields
        SchemaCodec::encode(w, body, version, flexible);
        std::string frame(4, '\0');
        kbus::detail::store_be(frame.data(), std::int32_t(w.buffer().size()));
        frame += w.buffer();
        REQUIRE(::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) == ssize_t(frame.size()));
        // Decoded text views into the answer: kept for as long as this client lives.
        const std::string& answer =
            *answers_.emplace_back(std::make_unique<std::string>(receive()));
        WireReader r(answer);
        REQUIRE(r.i32() == correlation_);
        if (flexible) SchemaCodec::skip_tagged_fields(r);  // response header v1
        return SchemaCodec::decode(r, *api->response, version, flexible);
    }

  private:
    std::string receive() {
        std::string got;
        std::size_t want = 4;
        while (got.size() < want) {
            pollfd p{fd_, POLLIN, 0};
            REQUIRE(::poll(&p, 1, 10'000) == 1);
            char buf[65536];
            const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, want - got.size()), 0);
            REQUIRE(n > 0);
            got.append(buf, std::size_t(n));
            if (got.size() == 4)
                want = 4 + std::size_t(kbus::detail::load_be<std::int32_t>(got.data()));
        }
        return got.substr(4);
    }
    int fd_ = -1;
    std::int32_t correlation_ = 0;
    std::vector<std::unique_ptr<std::string>> answers_;
};

inline KafkaError error_in(const Value& v) {
    return KafkaError(v["ErrorCode"].i16());
}

// A RecordBatch v2 of `count` records stamped by an idempotent producer, with Kafka's attribute
// `flags` (transactional_flag for a transactional producer's).
inline std::string stamped_batch(std::int64_t producer_id, std::int16_t epoch,
                                 std::int32_t first_sequence, int count, std::int16_t flags = 0) {
    kbus::log::BatchBuilder b;
    for (int i = 0; i < count; ++i) {
        const std::string value = "seq-" + std::to_string(first_sequence + i);
        b.add(i, 1'700'000'000'000 + i, {}, kbus::BytesView(value), {});
    }
    b.set_flags(flags);
    std::string batch(b.finish(kbus::config::Compression::none));
    namespace d = kbus::log;
    kbus::detail::store_be(batch.data() + d::producer_id_offset, producer_id);
    kbus::detail::store_be(batch.data() + d::producer_epoch_offset, epoch);
    kbus::detail::store_be(batch.data() + d::base_sequence_offset, first_sequence);
    kbus::detail::store_be(batch.data() + d::crc_offset,
                           kbus::detail::crc32c(batch.data() + d::attributes_offset,
                                                batch.size() - d::attributes_offset));
    return batch;
}

struct Produced {
    KafkaError error;
    std::int64_t base_offset;
};

inline Produced produce(SchemaClient& s, const std::string& topic, const std::string& batch,
                        const char* transactional_id = nullptr) {
    Value q = SchemaClient::request(ApiKey::produce);
    if (transactional_id != nullptr)
        q["TransactionalId"].set_text(transactional_id);
    else
        q["TransactionalId"].set_null();
    q["Acks"].set(-1);
    q["TimeoutMs"].set(5000);
    Value& t = q["TopicData"].add();
    t["Name"].set_text(topic);
    Value& p = t["PartitionData"].add();
    p["Index"].set(0);
    p["Records"].set_text(batch);
    const Value r = s.call(ApiKey::produce, 9, q);
    const Value& answer = r["Responses"].items().at(0)["PartitionResponses"].items().at(0);
    return {error_in(answer), answer["BaseOffset"].integer()};
}

}  // namespace kbus::test
