// Fuzz target: one Kafka request frame as the listener receives it (after the size): the
// header, then the body of whichever served API and version the header names, decoded as the
// listener decodes it; a Produce's batches also go through the batch decoder and onto a ring.
// Decoders may refuse (KafkaDecodeError) but never read outside the frame or trust a count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kafka/api_schemas.hpp"
#include "kafka/batch_appender.hpp"
#include "kafka/kafka_api.hpp"
#include "kafka/legacy_message_set.hpp"
#include "kafka/schema_codec.hpp"

using namespace kbus;
using namespace kbus::kafka;

namespace {

// A 1 MiB ring in ordinary memory, its producer limit always a lap ahead of the tail (the
// target plays the daemon, whose spill would free the space).
struct FuzzRing {
    FuzzRing() {
        const ring::RingLayout layout = ring::ring_layout(capacity);
        memory = static_cast<std::byte*>(std::aligned_alloc(4096, layout.total_bytes));
        std::memset(memory, 0, layout.total_bytes);
        ref = ring::RingRef::initialize(memory, capacity, 1, 0, 1 << 18,
                                        ring::TimestampType::create_time);
    }
    void free_space() {
        ref.header().limit.producer_limit.store(ring::load_tail(ref.header()) + capacity);
    }
    static constexpr std::uint64_t capacity = 1 << 20;
    std::byte* memory;
    ring::RingRef ref;
};

// The body as the listener decodes it: the schema codec at the header's version, then a
// Produce's batches through the batch decoder and onto a ring, and the decoded message encoded
// again (a response's path through the same codec).
void decode_body(const RequestHeader& h, WireReader& r) {
    const std::int16_t v = h.api_version;
    const schema::Api* api = schema::find_api(h.api_key);
    if (api == nullptr) return;
    const bool flexible = api->flexible(v);
    if (flexible) SchemaCodec::skip_tagged_fields(r);
    const Value body = SchemaCodec::decode(r, *api->request, v, flexible);
    WireWriter again;
    SchemaCodec::encode(again, body, v, flexible);
    if (ApiKey(h.api_key) != ApiKey::produce) return;
    static FuzzRing ring;
    static BatchDecoder decoder;
    static log::BatchBuilder builder;
    static std::string converted;
    for (const Value& t : body["TopicData"].items())
        for (const Value& part : t["PartitionData"].items()) {
            if (part["Records"].is_null()) continue;
            std::string_view records = part["Records"].text();
            if (v < 3) {  // a message set of magic 0/1, converted as the listener converts it
                if (legacy::upconvert(records, 0, 1 << 20, builder, converted).error !=
                    KafkaError::none)
                    continue;
                (void)legacy::downconvert(converted, 1, 1 << 20);
                records = converted;
            }
            if (decoder.decode(records, 1 << 16).error != KafkaError::none) continue;
            ring.free_space();
            ring::RingWriter w(ring.ref);
            (void)append_to_ring(w, decoder, -1);
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    WireReader r({reinterpret_cast<const char*>(data), size});
    try {
        const RequestHeader h = RequestHeader::read(r);
        // Every version of every API with a table, served or not yet: all of it is decoder input.
        const schema::Api* api = schema::find_api(h.api_key);
        if (api == nullptr || !api->valid.has(h.api_version)) return 0;
        decode_body(h, r);
    } catch (const KafkaDecodeError&) {
    }
    return 0;
}
