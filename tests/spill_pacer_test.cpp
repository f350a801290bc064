// SpillPacer, when a partition's spill next needs a look: lingering records at their linger's end,
// a moving tail before producers use up their room, a stuck head at the retry interval, and an
// idle partition never.
#include <catch2/catch.hpp>

#include "spill/spill_pacer.hpp"

using namespace kbus::spill;

namespace {

constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t t0 = 1'000 * ms;

SpillSnapshot idle_at(std::uint64_t tail) {
    SpillSnapshot s;
    s.tail = tail;
    s.granted_room = 1 << 20;
    s.due_at_bytes = 256 << 10;
    s.linger_ns = 2 * ms;
    return s;
}

}  // namespace

TEST_CASE("an idle partition has no deadline", "[spill-pacer]") {
    SpillPacer pacer(30 * ms);
    CHECK(pacer.next_due_ns(idle_at(4096), t0) == no_deadline);
    CHECK(pacer.next_due_ns(idle_at(4096), t0 + 50 * ms) == no_deadline);
}

TEST_CASE("pending records are due when their linger ends, or at the retry if it has",
          "[spill-pacer]") {
    SpillPacer pacer(30 * ms);
    SpillSnapshot s = idle_at(0);
    CHECK(pacer.next_due_ns(s, t0) == no_deadline);
    s.pending = 100;
    s.pending_since_ns = t0;
    s.tail = 0;  // (the tail standing still: no rate to pace by)
    CHECK(pacer.next_due_ns(s, t0) == t0 + 2 * ms);
    // Past the linger and still pending (its oldest claim not committed): the retry interval.
    CHECK(pacer.next_due_ns(s, t0 + 5 * ms) == t0 + 35 * ms);
}

TEST_CASE("a moving tail is looked at again before producers would use up half their room",
          "[spill-pacer]") {
    SpillPacer pacer(30 * ms);
    SpillSnapshot s = idle_at(0);
    s.due_at_bytes = 1 << 30;  // only the room counts here
    s.granted_room = 1'000'000;
    CHECK(pacer.next_due_ns(s, t0) == no_deadline);  // first look: no rate yet
    // 100 KB in 1 ms: 100 bytes a microsecond, so the room lasts 10 ms; half of it is 5 ms.
    s.tail = 100'000;
    CHECK(pacer.next_due_ns(s, t0 + 1 * ms) == t0 + 6 * ms);
    // Twice as fast: half the time.
    s.tail = 300'000;
    CHECK(pacer.next_due_ns(s, t0 + 2 * ms) == t0 + 2 * ms + 2'500'000);
    // Stopped: no deadline after one quiet interval.
    CHECK(pacer.next_due_ns(s, t0 + 10 * ms) == no_deadline);
}

TEST_CASE("the size that makes a batch due paces like the room does", "[spill-pacer]") {
    SpillPacer pacer(30 * ms);
    SpillSnapshot s = idle_at(0);
    s.granted_room = 1 << 30;
    s.due_at_bytes = 200'000;
    s.pending = 0;
    (void)pacer.next_due_ns(s, t0);
    s.tail = 100'000;
    s.pending = 100'000;
    s.pending_since_ns = t0 + 1 * ms;
    s.linger_ns = 100 * ms;
    // 100 bytes/us with 100 KB to go: 1 ms until due; looked at after half of that.
    CHECK(pacer.next_due_ns(s, t0 + 1 * ms) == t0 + 1 * ms + 500'000);
}

TEST_CASE("ring-only, a moving tail sets no deadline: the producers ring the doorbell instead",
          "[spill-pacer]") {
    SpillPacer pacer(30 * ms);
    SpillSnapshot s = idle_at(0);
    s.due_at_bytes = 1 << 30;
    s.granted_room = 1'000'000;
    s.paced_by_rate = false;
    CHECK(pacer.next_due_ns(s, t0) == no_deadline);
    s.tail = 100'000;
    CHECK(pacer.next_due_ns(s, t0 + 1 * ms) == no_deadline);
    // Pending records still have their linger.
    s.pending = 100'000;
    s.pending_since_ns = t0;
    s.linger_ns = 100 * ms;
    CHECK(pacer.next_due_ns(s, t0 + 2 * ms) == t0 + 100 * ms);
}
