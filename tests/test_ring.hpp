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
    const FramePlan plan = frame_plan(BytesView(), std::int32_t(value.size()), {});
    RingClaim c;
    REQUIRE(w.try_claim(plan.layout, c) == ClaimStatus::claimed);
    write_data_frame(w.payload(c), c.position, plan, 1234, BytesView(), std::int32_t(value.size()),
                     {});
    ring::write_value(w.payload(c), plan, BytesView(value));
    if (commit) REQUIRE(w.commit(c));
    return c;
}

// Fills a claimed frame with a record of no key and `value_size` bytes of value (left as they
// are), as a zero-copy producer would before it commits.
inline void fill_frame(RingWriter& w, const RingClaim& c, std::int32_t value_size) {
    write_data_frame(w.payload(c), c.position, frame_plan(BytesView(), value_size, {}), 0,
                     BytesView(), value_size, {});
}

}  // namespace kbus::testing
