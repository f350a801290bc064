// Fuzz target: one Kafka request frame as the listener receives it (after the size): the
// header, then the body of whichever served API and version the header names, decoded as the
// listener decodes it; a Produce's batches also go through the batch decoder and onto a ring.
// Decoders may refuse (KafkaDecodeError) but never read outside the frame or trust a count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kafka/batch_appender.hpp"
#include "kafka/kafka_messages.hpp"

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

void decode_body(const RequestHeader& h, WireReader& r) {
    const std::int16_t v = h.api_version;
    switch (ApiKey(h.api_key)) {
        case ApiKey::produce: {
            static FuzzRing ring;
            static BatchDecoder decoder;
            const ProduceRequest p = ProduceRequest::read(r, v);
            for (const auto& t : p.topics)
                for (const auto& part : t.partitions) {
                    if (!part.records) continue;
                    if (decoder.decode(*part.records, 1 << 16).error != KafkaError::none) continue;
                    ring.free_space();
                    ring::RingWriter w(ring.ref);
                    (void)append_to_ring(w, decoder, -1);
                }
            return;
        }
        case ApiKey::fetch:
            (void)FetchRequest::read(r, v);
            return;
        case ApiKey::list_offsets:
            (void)ListOffsetsRequest::read(r, v);
            return;
        case ApiKey::metadata:
            (void)MetadataRequest::read(r, v);
            return;
        case ApiKey::offset_commit:
            (void)OffsetCommitRequest::read(r, v);
            return;
        case ApiKey::offset_fetch:
            (void)OffsetFetchRequest::read(r, v);
            return;
        case ApiKey::find_coordinator:
            (void)r.string();
            return;
        case ApiKey::join_group:
            (void)JoinGroupRequest::read(r, v);
            return;
        case ApiKey::heartbeat:
            (void)HeartbeatRequest::read(r, v);
            return;
        case ApiKey::leave_group:
            (void)LeaveGroupRequest::read(r, v);
            return;
        case ApiKey::sync_group:
            (void)SyncGroupRequest::read(r, v);
            return;
        case ApiKey::create_topics:
            (void)CreateTopicsRequest::read(r, v);
            return;
        case ApiKey::delete_topics:
            (void)DeleteTopicsRequest::read(r, v);
            return;
        case ApiKey::api_versions:
            return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    WireReader r({reinterpret_cast<const char*>(data), size});
    try {
        const RequestHeader h = RequestHeader::read(r);
        if (!is_supported(h.api_key, h.api_version)) return 0;
        decode_body(h, r);
    } catch (const KafkaDecodeError&) {
    }
    return 0;
}
