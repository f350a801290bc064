// Fuzz target: the control protocol as a stream of frames (kbusd's framing), each payload fed to
// the decoder its type selects: every request and reply message, and the consumer protocol's
// subscription and assignment. Every malformed input must end in kbus::Error, never in a read out
// of bounds or an allocation a hostile count asked for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kbus/control_messages.hpp"
#include "kbus/error.hpp"
#include "kbus/group_messages.hpp"

using namespace kbus;

namespace {

template <class T>
void decode_as(std::string_view payload) {
    (void)codec::decoded<T>(payload);
}

// Every message of the control protocol, requests and replies (the first ten keep the indexes
// the corpus was recorded with).
void decode(std::uint16_t type, std::string_view payload) {
    using namespace protocol;
    using namespace group;
    using Decoder = void (*)(std::string_view);
    static constexpr Decoder decoders[] = {
        decode_as<TopicMetadata>,
        decode_as<PartitionState>,
        decode_as<ReaderAttachment>,
        decode_as<FetchReply>,
        decode_as<JoinGroupRequest>,
        decode_as<JoinGroupReply>,
        decode_as<SyncGroupRequest>,
        decode_as<GroupDescription>,
        [](std::string_view p) { (void)decode_subscription(std::string(p)); },
        [](std::string_view p) { (void)decode_assignment(std::string(p)); },
        decode_as<HelloRequest>,
        decode_as<HelloReply>,
        decode_as<CreateTopicRequest>,
        decode_as<AlterTopicRequest>,
        decode_as<AttachReaderRequest>,
        decode_as<FetchRequest>,
        decode_as<SyncGroupReply>,
        decode_as<CommitOffsetsRequest>,
        decode_as<PartitionOffsetsReply>,
        decode_as<GroupListingReply>,
        decode_as<ResetOffsetsRequest>,
        decode_as<stats::BusStats>,
        decode_as<TopicDescription>,
        decode_as<TopicNames>,
    };
    decoders[type % std::size(decoders)](payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view stream(reinterpret_cast<const char*>(data), size);
    for (;;) {
        // A small limit, so that the fuzzer meets oversized frames as well as whole ones.
        const protocol::SplitFrame f = protocol::split_frame(stream, 4096);
        if (f.status != protocol::SplitFrame::Status::frame) break;
        if (f.frame_bytes > stream.size() || f.payload.size() != f.header.payload_length)
            __builtin_trap();
        try {
            decode(f.header.type, f.payload);
        } catch (const Error&) {
        }
        stream.remove_prefix(f.frame_bytes);
    }
    return 0;
}
