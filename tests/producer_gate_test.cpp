// ProducerGate, the daemon's half of the ring protocol (DESIGN.md invariants 4 and 5), over a ring
// in ordinary memory: where readers are tethered, who may free a slot, the producer limit it
// publishes, and the detach of a reader that holds producers back past its hold timeout.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "kbus/error.hpp"
#include "spill/producer_gate.hpp"
#include "test_ring.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
using kbus::spill::ProducerGate;

namespace {

constexpr std::uint64_t capacity = 64 * 1024;
constexpr std::uint32_t hold_ms = 1000;
constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t t0 = 1'000'000'000'000;  // a monotonic clock well past its start

struct Gate {
    TestRing ring{capacity};
    LogLines log;
    ProducerGate gate{ring.ref, hold_ms, log.sink()};
    RingWriter writer{ring.ref};
    std::vector<RingClaim> records;  // records[offset]

    RingHeader& h() { return ring.ref.header(); }
    std::uint64_t tail() { return load_tail(h()); }
    std::uint64_t next() { return load_next_offset(h()); }
    std::uint64_t limit() { return h().limit.producer_limit.load(); }
    std::uint32_t limit_seq() { return h().limit.limit_seq.load(); }
    ReaderSlot& slot(std::uint32_t i) { return h().readers[i]; }
    ReaderSlotState state(std::uint32_t i) { return ReaderSlotState(slot(i).state.load()); }
    void set_blocked(bool blocked) { h().limit.blocked_producers.store(blocked ? 1 : 0); }

    // Records of 152 bytes (a 48-byte header and 104 of value) until the tail reaches `position`.
    void fill_to(std::uint64_t position) {
        while (tail() < position)
            records.push_back(write_value(writer, std::string(104, 'r')));
    }
    // The same past the first lap, the spill keeping up (the limit raised whenever it is near).
    void advance_to(std::uint64_t position, std::uint64_t now) {
        while (tail() < position) {
            if (tail() + 2 * 152 > limit()) gate.update(tail(), now);
            write(1);
        }
    }
    void write(int count) {
        for (int i = 0; i < count; ++i)
            records.push_back(write_value(writer, std::string(104, 'r')));
    }
};

}  // namespace

// --- readers ---------------------------------------------------------------------------------

TEST_CASE("attach tethers a reader at the ring position of the offset it asks for", "[gate]") {
    Gate g;
    g.write(10);
    const protocol::ReaderAttachment a = g.gate.attach(3, -1, 7);
    CHECK_FALSE(a.on_disk);
    CHECK(a.slot == 0);
    CHECK(a.offset == 3);
    CHECK(a.position == g.records[3].position);
    CHECK(g.state(0) == ReaderSlotState::attached);
    CHECK(g.slot(0).owner_connection == 7);
    CHECK(g.slot(0).position.load() == g.records[3].position);
    CHECK(g.slot(0).offset.load() == 3);
    using Readers = std::vector<std::pair<std::uint32_t, std::int64_t>>;
    CHECK(g.gate.readers() == Readers{{0, 3}});
    // A second reader takes the next free slot.
    const protocol::ReaderAttachment b = g.gate.attach(0, -1, 8);
    CHECK(b.slot == 1);
    CHECK(b.position == 0);
    CHECK(g.gate.readers() == Readers{{0, 3}, {1, 0}});
}

TEST_CASE("attach at the high watermark tethers at the tail, also on an empty ring", "[gate]") {
    Gate g;
    const protocol::ReaderAttachment empty = g.gate.attach(0, -1, 1);
    CHECK_FALSE(empty.on_disk);
    CHECK(empty.position == 0);
    CHECK(empty.offset == 0);
    g.write(5);
    const protocol::ReaderAttachment a = g.gate.attach(5, -1, 2);
    CHECK_FALSE(a.on_disk);
    CHECK(a.offset == 5);
    CHECK(a.position == g.tail());
    CHECK(g.slot(a.slot).position.load() == g.tail());
}

TEST_CASE("attach behind the gate sends the reader to the log and frees the slot it had",
          "[gate]") {
    Gate g;
    g.set_blocked(true);  // grants at once, so that the ring moves past its first lap
    g.fill_to(40 * 1024);
    g.gate.update(g.tail(), t0);
    const std::uint64_t gate_position = g.limit() - capacity;
    REQUIRE(gate_position > g.records[1].position);  // offsets 0 and 1 are below the gate

    const protocol::ReaderAttachment behind = g.gate.attach(0, -1, 1);
    CHECK(behind.on_disk);
    CHECK(behind.offset == 0);
    CHECK(g.gate.readers().empty());  // no slot taken: it holds producers back not at all

    // A reader with a slot of its own that seeks behind the ring gives its slot up.
    const protocol::ReaderAttachment live = g.gate.attach(g.next(), -1, 1);
    REQUIRE_FALSE(live.on_disk);
    const protocol::ReaderAttachment seek = g.gate.attach(1, std::int32_t(live.slot), 1);
    CHECK(seek.on_disk);
    CHECK(seek.offset == 1);
    CHECK(g.state(live.slot) == ReaderSlotState::free);

    // Someone else's slot is not given up for it.
    const protocol::ReaderAttachment other = g.gate.attach(g.next(), -1, 2);
    const protocol::ReaderAttachment stranger = g.gate.attach(0, std::int32_t(other.slot), 3);
    CHECK(stranger.on_disk);
    CHECK(g.state(other.slot) == ReaderSlotState::attached);
    CHECK(g.slot(other.slot).owner_connection == 2);
}

TEST_CASE("a connection that attaches again with its own slot keeps that slot", "[gate]") {
    Gate g;
    g.write(10);
    const protocol::ReaderAttachment first = g.gate.attach(2, -1, 1);
    const protocol::ReaderAttachment again = g.gate.attach(7, std::int32_t(first.slot), 1);
    CHECK(again.slot == first.slot);
    CHECK(again.position == g.records[7].position);
    CHECK(g.slot(first.slot).offset.load() == 7);
    CHECK(g.gate.readers().size() == 1);

    // Another connection naming that slot gets a slot of its own; the first one's is untouched.
    const protocol::ReaderAttachment other = g.gate.attach(4, std::int32_t(first.slot), 2);
    CHECK(other.slot != first.slot);
    CHECK(g.slot(first.slot).owner_connection == 1);
    CHECK(g.slot(first.slot).offset.load() == 7);

    // Slot numbers out of range ask for a new slot.
    for (const std::int32_t bad : {-5, 64, 1000, std::numeric_limits<std::int32_t>::max()}) {
        const protocol::ReaderAttachment fresh = g.gate.attach(0, bad, 3);
        CHECK(fresh.slot < ring::reader_slot_count);
        CHECK(fresh.slot != first.slot);
        CHECK(fresh.slot != other.slot);
    }
}

TEST_CASE("any connection may adopt an orphan slot left by an earlier daemon run", "[gate]") {
    Gate g;
    g.write(10);
    const protocol::ReaderAttachment a = g.gate.attach(4, -1, 1);
    g.gate.orphan_all();
    CHECK(g.state(a.slot) == ReaderSlotState::attached);  // consumers read on undisturbed
    CHECK(g.slot(a.slot).owner_connection == spill::orphan_owner);

    const protocol::ReaderAttachment adopted = g.gate.attach(4, std::int32_t(a.slot), 9);
    CHECK(adopted.slot == a.slot);
    CHECK(g.slot(a.slot).owner_connection == 9);
    // Adopted, it is no orphan any more: its old connection cannot free it.
    g.gate.release(a.slot, 1);
    CHECK(g.state(a.slot) == ReaderSlotState::attached);
}

TEST_CASE("attach with every reader slot taken throws resource_exhausted", "[gate]") {
    Gate g;
    g.write(3);
    for (std::uint32_t c = 1; c <= ring::reader_slot_count; ++c)
        REQUIRE(g.gate.attach(1, -1, c).slot == c - 1);
    CHECK(code_of([&] { (void)g.gate.attach(1, -1, 100); }) == ErrorCode::resource_exhausted);
    CHECK(g.gate.readers().size() == ring::reader_slot_count);
    // Reusing one's own slot needs no free one.
    CHECK(g.gate.attach(2, 5, 6).slot == 5);
    // A freed slot is given out again.
    g.gate.release(17, 18);
    CHECK(g.gate.attach(0, -1, 100).slot == 17);
    CHECK(g.slot(17).owner_connection == 100);
}

TEST_CASE("release frees a slot for its owner or of an orphan, and no other", "[gate]") {
    Gate g;
    g.write(3);
    const std::uint32_t mine = g.gate.attach(1, -1, 1).slot;
    g.gate.release(mine, 2);  // not connection 2's
    CHECK(g.state(mine) == ReaderSlotState::attached);
    g.gate.release(mine, 1);
    CHECK(g.state(mine) == ReaderSlotState::free);
    CHECK(g.gate.readers().empty());

    const std::uint32_t orphan = g.gate.attach(1, -1, 1).slot;
    g.gate.orphan_all();
    g.gate.release(orphan, 42);
    CHECK(g.state(orphan) == ReaderSlotState::free);

    // Slot numbers out of range are ignored.
    const std::uint32_t kept = g.gate.attach(1, -1, 1).slot;
    for (const std::uint32_t bad : {64u, 1000u, 0x80000000u, 0xffffffffu})
        g.gate.release(bad, 1);
    CHECK(g.state(kept) == ReaderSlotState::attached);
}

TEST_CASE("release_all_of frees every slot of a closed connection and no other", "[gate]") {
    Gate g;
    g.write(3);
    const std::uint32_t a = g.gate.attach(0, -1, 1).slot;
    const std::uint32_t b = g.gate.attach(1, -1, 1).slot;
    const std::uint32_t c = g.gate.attach(2, -1, 2).slot;
    g.slot(b).state.store(std::uint32_t(ReaderSlotState::detached));  // as after a hold timeout
    g.gate.release_all_of(1);
    CHECK(g.state(a) == ReaderSlotState::free);
    CHECK(g.state(b) == ReaderSlotState::free);
    CHECK(g.state(c) == ReaderSlotState::attached);
    g.gate.release_all_of(3);  // a connection that had none
    CHECK(g.state(c) == ReaderSlotState::attached);
}

TEST_CASE("orphaned tethers still hold the producer limit", "[gate]") {
    Gate g;
    g.write(1);
    const std::uint32_t s = g.gate.attach(0, -1, 1).slot;
    g.gate.orphan_all();
    g.set_blocked(true);
    g.fill_to(60 * 1024);
    g.gate.update(g.tail(), t0);
    CHECK(g.limit() == capacity);  // position 0 + capacity: the orphan is respected
    g.gate.release(s, 5);
    g.gate.update(g.tail(), t0 + 1);
    CHECK(g.limit() == g.tail() + capacity / 2);
}

// --- the producer limit ----------------------------------------------------------------------

TEST_CASE(
    "the limit is the spill position or the slowest tether plus the capacity, never more "
    "than half a ring past the tail",
    "[gate]") {
    Gate g;
    g.set_blocked(true);  // every change granted at once (steps are checked below)
    g.write(1);
    const std::uint32_t reader = g.gate.attach(0, -1, 1).slot;
    g.fill_to(40 * 1024);
    const std::uint64_t tail = g.tail();

    // The reader at position 0 holds the limit at the capacity.
    CHECK_FALSE(g.gate.update(tail, t0));
    CHECK(g.limit() == capacity);

    // The consumer moves on (it stores its own position): the limit follows it.
    const std::uint64_t read_to = g.records[20].position;
    g.slot(reader).position.store(read_to);
    g.slot(reader).offset.store(20);
    CHECK(g.gate.update(tail, t0 + 1));
    CHECK(g.limit() == read_to + capacity);

    // Released, the spill position governs...
    g.gate.release(reader, 1);
    const std::uint64_t spill = g.records[40].position;
    REQUIRE(spill + capacity < tail + capacity / 2);
    CHECK(g.gate.update(spill, t0 + 2));
    CHECK(g.limit() == spill + capacity);

    // ...up to half a ring past the tail.
    CHECK(g.gate.update(tail, t0 + 3));
    CHECK(g.limit() == tail + capacity / 2);

    // The limit only grows: a lower spill position changes nothing.
    CHECK_FALSE(g.gate.update(0, t0 + 4));
    CHECK(g.limit() == tail + capacity / 2);
}

TEST_CASE("blocked producers are granted at once and their futex word is bumped", "[gate]") {
    Gate g;
    g.set_blocked(true);
    g.fill_to(40 * 1024);
    std::uint32_t seq = g.limit_seq();
    CHECK(g.gate.update(g.tail(), t0));
    CHECK(g.limit() == g.tail() + capacity / 2);
    CHECK(g.limit_seq() == seq + 1);

    // A grant far smaller than an eighth of the ring still goes to a waiting producer.
    seq = g.limit_seq();
    g.write(1);
    CHECK(g.gate.update(g.tail(), t0 + 1));
    CHECK(g.limit() == g.tail() + capacity / 2);
    CHECK(g.limit_seq() == seq + 1);

    // Nothing new to grant: no wake-up.
    seq = g.limit_seq();
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 2));
    CHECK(g.limit_seq() == seq);
}

TEST_CASE("every grant comes with a doorbell mark an eighth of the ring below it", "[gate]") {
    Gate g;
    CHECK(g.h().limit.doorbell_at.load() == 0);  // no grant yet: producers never ring
    g.fill_to(40 * 1024);
    CHECK_FALSE(g.gate.update(g.tail(), t0));  // a grant producers do not wait for
    CHECK(g.limit() == g.tail() + capacity / 2);
    CHECK(g.h().limit.doorbell_at.load() == g.limit() - capacity / 8);
    // No new grant (less than an eighth more): the mark stays with the limit it came with.
    const std::uint64_t mark = g.h().limit.doorbell_at.load();
    g.write(1);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 1));
    CHECK(g.h().limit.doorbell_at.load() == mark);
}

TEST_CASE("without blocked producers the limit moves in steps of an eighth of the ring", "[gate]") {
    Gate g;
    g.fill_to(40 * 1024);  // the limit it wants: tail + 32 KiB, at least 8 KiB past the first
    const std::uint32_t seq = g.limit_seq();
    CHECK_FALSE(g.gate.update(g.tail(), t0));  // nobody waits for it
    const std::uint64_t granted = g.limit();
    CHECK(granted == g.tail() + capacity / 2);

    // Less than an eighth more: no new limit (the producers' cached one stays good).
    const std::uint64_t from = g.tail();
    g.fill_to(from + capacity / 8 - 200);
    REQUIRE(g.tail() - from < capacity / 8);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 1));
    CHECK(g.limit() == granted);

    // An eighth or more: granted.
    g.fill_to(from + capacity / 8);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 2));
    CHECK(g.limit() == g.tail() + capacity / 2);
    CHECK(g.limit_seq() == seq);  // nobody sleeps: no futex bump
}

// --- holding producers back ------------------------------------------------------------------

namespace {

// A reader tethered at position 0 while the producers filled the ring up to it, and wait.
struct HeldGate : Gate {
    std::uint32_t reader = 0;
    explicit HeldGate(std::uint32_t connection = 1) {
        write(1);
        reader = gate.attach(0, -1, connection).slot;
        fill_to(capacity - 1024);
        set_blocked(true);
    }
};

}  // namespace

TEST_CASE(
    "a reader holding blocked producers back past the hold timeout is detached, and only "
    "then does the limit rise",
    "[gate]") {
    HeldGate g;
    CHECK_FALSE(g.gate.update(g.tail(), t0));
    CHECK(g.limit() == capacity);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + (hold_ms - 1) * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::attached);
    CHECK(g.limit() == capacity);

    const std::uint32_t seq = g.limit_seq();
    CHECK(g.gate.update(g.tail(), t0 + hold_ms * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::detached);
    CHECK(g.slot(g.reader).owner_connection == 1);  // still its owner's, to reattach with
    CHECK(g.limit() == capacity);                   // the detach comes before any higher limit
    CHECK(g.limit_seq() == seq);
    CHECK(g.log.count("WARN", "consumer.hold.timeout.ms") == 1);

    CHECK(g.gate.update(g.tail(), t0 + hold_ms * ms + 1));
    CHECK(g.limit() == g.tail() + capacity / 2);
    CHECK(g.limit_seq() == seq + 1);
    CHECK(g.gate.readers().empty());
    CHECK(g.log.count("WARN", "consumer.hold.timeout.ms") == 1);

    // A detached slot is not free for others, but its owner reattaches with it.
    CHECK(g.gate.attach(g.next(), -1, 2).slot != g.reader);
    CHECK(g.gate.attach(g.next(), std::int32_t(g.reader), 1).slot == g.reader);
    CHECK(g.state(g.reader) == ReaderSlotState::attached);
}

TEST_CASE("a reader that holds its batch while no producer waits is never detached", "[gate]") {
    HeldGate g;
    g.set_blocked(false);
    for (std::uint64_t t = t0; t <= t0 + 100 * hold_ms * ms; t += 10 * hold_ms * ms)
        CHECK_FALSE(g.gate.update(g.tail(), t));
    CHECK(g.state(g.reader) == ReaderSlotState::attached);
    CHECK(g.limit() == capacity);
    CHECK(g.log.count("WARN", "detached") == 0);
}

TEST_CASE("an orphan holding blocked producers back past the hold timeout is freed", "[gate]") {
    HeldGate g;
    g.gate.orphan_all();
    g.gate.update(g.tail(), t0);
    CHECK(g.gate.update(g.tail(), t0 + hold_ms * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::free);
    CHECK(g.gate.update(g.tail(), t0 + hold_ms * ms + 1));
    CHECK(g.limit() == g.tail() + capacity / 2);
}

TEST_CASE("the hold timer runs only while producers are blocked", "[gate]") {
    HeldGate g;
    g.gate.update(g.tail(), t0);
    // Producers stop waiting (for longer than the 50 ms window that smooths their retries).
    g.set_blocked(false);
    g.gate.update(g.tail(), t0 + 500 * ms);
    // They wait again: the hold counts from here.
    g.set_blocked(true);
    g.gate.update(g.tail(), t0 + 600 * ms);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 1200 * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::attached);
    CHECK(g.gate.update(g.tail(), t0 + 1600 * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::detached);
}

TEST_CASE("set_hold_timeout_ms changes how long a reader may hold producers back", "[gate]") {
    HeldGate g;
    g.gate.set_hold_timeout_ms(5000);
    g.gate.update(g.tail(), t0);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + 4999 * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::attached);
    CHECK(g.gate.update(g.tail(), t0 + 5000 * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::detached);
}

TEST_CASE("a reader that takes over a released slot does not inherit the last holder's time",
          "[gate]") {
    HeldGate g;
    g.gate.update(g.tail(), t0);  // the reader on slot 0 holds producers back from t0
    g.gate.release(g.reader, 1);
    // Before the next pass, another consumer is tethered to the same slot, as far behind.
    const protocol::ReaderAttachment b = g.gate.attach(0, -1, 2);
    REQUIRE(b.slot == g.reader);
    REQUIRE_FALSE(b.on_disk);
    CHECK_FALSE(g.gate.update(g.tail(), t0 + (hold_ms - 1) * ms));
    // It has held producers back for less than the hold timeout.
    CHECK_FALSE(g.gate.update(g.tail(), t0 + hold_ms * ms));
    CHECK(g.state(b.slot) == ReaderSlotState::attached);
    CHECK(g.gate.update(g.tail(), t0 + 2 * hold_ms * ms));
    CHECK(g.state(b.slot) == ReaderSlotState::detached);
}

TEST_CASE("a reader that attaches again with its own slot does not restart its hold", "[gate]") {
    HeldGate g;
    g.gate.update(g.tail(), t0);
    REQUIRE(g.gate.attach(0, std::int32_t(g.reader), 1).slot == g.reader);
    CHECK(g.gate.update(g.tail(), t0 + hold_ms * ms));
    CHECK(g.state(g.reader) == ReaderSlotState::detached);
}

TEST_CASE(
    "readers attaching and releasing while the spill updates the limit keep the slots "
    "consistent",
    "[gate]") {
    Gate g;
    g.write(20);
    std::atomic<bool> done{false};
    std::thread spill([&] {  // the spill thread's side
        for (std::uint64_t t = t0; !done; t += ms)
            g.gate.update(g.tail(), t);
    });
    for (int round = 0; round < 2000; ++round) {  // the control thread's side
        const std::uint32_t connection = 1 + std::uint32_t(round % 3);
        const protocol::ReaderAttachment a =
            g.gate.attach(std::uint64_t(round % 20), -1, connection);
        if (round % 2 == 0) g.gate.release(a.slot, connection);
        if (round % 8 == 7)  // connections closing now and then
            for (std::uint32_t c = 1; c <= 3; ++c)
                g.gate.release_all_of(c);
    }
    done = true;
    spill.join();
    for (std::uint32_t c = 1; c <= 3; ++c)
        g.gate.release_all_of(c);
    CHECK(g.gate.readers().empty());
    CHECK(g.limit() == capacity);  // nothing moved: the records never passed the gate
}

// --- what the ring holds ---------------------------------------------------------------------

TEST_CASE("earliest and locate give only offsets at or above the gate", "[gate]") {
    Gate g;
    CHECK(g.gate.earliest(0) == 0);
    CHECK_FALSE(g.gate.locate(0));  // nothing written yet
    g.write(10);
    CHECK(g.gate.earliest(10) == 0);
    REQUIRE(g.gate.locate(4));
    CHECK(g.gate.locate(4)->position == g.records[4].position);
    CHECK(g.gate.locate(4)->offset == 4);
    CHECK_FALSE(g.gate.locate(10));  // the high watermark: not written yet

    g.set_blocked(true);
    g.advance_to(100 * 1024, t0);  // past the first lap
    g.gate.update(g.tail(), t0);
    const std::uint64_t gate_position = g.limit() - capacity;
    std::uint64_t first = 0;
    while (g.records[first].position < gate_position)
        ++first;
    REQUIRE(first > 0);
    CHECK(g.gate.earliest(g.next()) == first);
    CHECK_FALSE(g.gate.locate(first - 1));
    CHECK_FALSE(g.gate.locate(0));  // overwritten by the second lap
    REQUIRE(g.gate.locate(first));
    CHECK(g.gate.locate(first)->position == g.records[first].position);
    const std::uint64_t last = g.next() - 1;
    REQUIRE(g.gate.locate(last));
    CHECK(g.gate.locate(last)->position == g.records[last].position);

    // A claim placed but not committed yet is located where its producer placed it: a reader
    // waits there for the commit instead of being sent to a log that cannot have it yet.
    const RingClaim pending = write_value(g.writer, "pending", false);
    REQUIRE(g.gate.locate(pending.offset));
    CHECK(g.gate.locate(pending.offset)->position == pending.position);
    CHECK_FALSE(g.gate.locate(pending.offset + 1));  // beyond every claim
    CHECK(g.gate.earliest(g.next()) == first);
}

// Found by the fault harness: a consumer assigned from the beginning hung for good when the
// offset one journal size (capacity / 32 entries) above it was in the ring. The journal's slot of
// an old offset holds that later offset's position, which lies between the gate and the tail:
// locate() took it for the old offset's own (as for a claim placed but not committed), attach
// tethered the reader there, and it waited for an offset that never comes.
TEST_CASE("an old offset whose journal slot a later offset reused is not located in the ring",
          "[gate]") {
    Gate g;
    g.set_blocked(true);
    const std::uint64_t entries = g.h().info.journal_entries;
    while (g.next() < entries + 1000)
        g.advance_to(g.tail() + capacity / 4, t0);
    g.gate.update(g.tail(), t0);
    const std::uint64_t gate_position = g.limit() - capacity;
    std::uint64_t first = 0;
    while (g.records[first].position < gate_position)
        ++first;
    REQUIRE(first > entries);  // the slot of (first - entries) holds first's position
    REQUIRE(g.gate.locate(first));
    CHECK(g.gate.earliest(g.next()) == first);
    for (const std::uint64_t old : {first - entries, g.next() - 1 - entries})
        CHECK_FALSE(g.gate.locate(old));
    const protocol::ReaderAttachment a = g.gate.attach(first - entries, -1, 1);
    CHECK(a.on_disk);
    CHECK(a.offset == std::int64_t(first - entries));
    CHECK(g.gate.readers().empty());
}

TEST_CASE("fill_bytes counts what producers claimed above the gate", "[gate]") {
    Gate g;
    CHECK(g.gate.fill_bytes(0) == 0);
    g.write(10);
    CHECK(g.gate.fill_bytes(g.tail()) == g.tail());
    g.set_blocked(true);
    g.fill_to(40 * 1024);
    g.gate.update(g.tail(), t0);
    CHECK(g.gate.fill_bytes(g.tail()) == capacity / 2);
    CHECK(g.gate.fill_bytes(0) == 0);  // a tail below the gate (a stale read) is no fill
}
