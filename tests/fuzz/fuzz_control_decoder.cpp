// Fuzz target: the control protocol as a stream of frames (kbusd's framing), each payload fed to
// the decoder its type byte selects: topic metadata, partition state, reader attachments, fetch
// replies, the group requests and replies, and the consumer protocol's subscription and
// assignment. Every malformed input must end in kbus::Error, never in a read out of bounds or an
// allocation a hostile count asked for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kbus/error.hpp"
#include "kbus/group_protocol.hpp"
#include "kbus/protocol.hpp"

using namespace kbus;

namespace {

void decode(std::uint16_t type, std::string_view payload) {
    protocol::Reader r(payload);
    switch (type % 10) {
        case 0:
            (void)protocol::TopicMetadata::read(r);
            break;
        case 1:
            (void)protocol::PartitionState::read(r);
            break;
        case 2:
            (void)protocol::ReaderAttachment::read(r);
            break;
        case 3:
            (void)protocol::FetchReply::read(r);
            break;
        case 4:
            (void)group::JoinGroupRequest::read(r);
            break;
        case 5:
            (void)group::JoinGroupReply::read(r);
            break;
        case 6:
            (void)group::SyncGroupRequest::read(r);
            break;
        case 7:
            (void)group::GroupDescription::read(r);
            break;
        case 8:
            (void)group::decode_subscription(std::string(payload));
            break;
        case 9:
            (void)group::decode_assignment(std::string(payload));
            break;
    }
    r.expect_end();
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
