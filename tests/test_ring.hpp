// A partition ring in ordinary memory for single-process tests: the test plays the daemon.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "kbus/ring_writer.hpp"

namespace kbus::testing {

using namespace kbus::ring;

struct TestRing {
    explicit TestRing(std::uint64_t capacity, std::uint32_t max_record = 1 << 20) {
        const RingLayout layout = ring_layout(capacity);
        memory.reset(static_cast<std::byte*>(std::aligned_alloc(4096, layout.total_bytes)));
        std::memset(memory.get(), 0, layout.total_bytes);
        ref = RingRef::initialize(memory.get(), capacity, 7, 0, max_record,
                                  TimestampType::create_time);
    }
    // The daemon's job: let producers go up to `reader_position + capacity`.
    void release_up_to(std::uint64_t reader_position) {
        ref.header().limit.producer_limit.store(reader_position + ref.capacity(),
                                                std::memory_order_release);
    }
    struct Free {
        void operator()(std::byte* p) const { std::free(p); }
    };
    std::unique_ptr<std::byte, Free> memory;
    RingRef ref;
};

// Writes one data record with a value (and no key/headers) and commits it.
inline RingClaim write_value(RingWriter& w, const std::string& value, bool commit = true) {
    const PayloadLayout l = payload_layout(-1, std::int32_t(value.size()), 0);
    RingClaim c;
    REQUIRE(w.try_claim(l, c) == ClaimStatus::claimed);
    std::memcpy(reinterpret_cast<std::byte*>(c.record) + l.value_offset, value.data(),
                value.size());
    RingWriter::write_header(c, 1234, -1, std::int32_t(value.size()), 0, 0);
    if (commit) w.commit(c);
    return c;
}

}  // namespace kbus::testing
