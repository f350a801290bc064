// Invariant 7 in one process: a claim left uncommitted past the claim timeout (its producer
// killed) becomes an aborted gap that the spill and readers step over, wherever the producer
// died: after writing its record, right after its claim (no journal entry, no byte written), in
// a row with others, or across a lap's end.
#include <algorithm>
#include <catch2/catch.hpp>
#include <tuple>

#include "kbus/error.hpp"
#include "spill/partition_spill.hpp"
#include "temp_dir.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::testing;

namespace {

constexpr std::uint64_t timeout_ns = 1'000'000;

spill::SpillOptions quick_options() {
    spill::SpillOptions o;
    o.linger_ns = 0;
    o.claim_timeout_ns = timeout_ns;
    return o;
}

// A ring, its writer, a log and the spill between them, with the test playing the daemon.
struct SpillRig {
    explicit SpillRig(const std::string& name) : dir(name) { ring.release_up_to(0); }
    std::tuple<TestRing&, RingWriter&, log::PartitionLog&, spill::PartitionSpill&> parts() {
        return {ring, writer, log, spill};
    }
    TempDir dir;
    TestRing ring{64 * 1024};
    RingWriter writer{ring.ref};
    log::PartitionLog log{dir.path, {}, false, sink()};
    spill::PartitionSpill spill{ring.ref, log, config::Compression::none, sink(), quick_options()};
};

// A producer killed right after its claim's compare-and-swap: no journal entry, no header, no
// byte of its record. (The ring layer is the test hook: the client always places what it claims.)
RingRun claim_only(RingWriter& w, std::uint64_t value_bytes) {
    const PayloadLayout l = payload_layout(-1, std::int32_t(value_bytes), 0);
    RingRun run;
    REQUIRE(w.try_claim_run(l.frame_length, 1, l.frame_length, run) == ClaimStatus::claimed);
    return run;
}

// What a reader from `from` finds up to the producers' tail: the value of each record, "-" for
// each aborted offset, with the offsets in order.
std::vector<std::pair<std::uint64_t, std::string>> read_ring(const RingRef& ring, Cursor from) {
    RingReader reader(ring);
    std::vector<std::pair<std::uint64_t, std::string>> out;
    for (RecordRef r;;) {
        const PeekStatus s = reader.peek(from, r);
        if (s == PeekStatus::aborted) {
            out.emplace_back(r.offset, "-");
        } else if (s == PeekStatus::record) {
            const auto* base = reinterpret_cast<const char*>(r.header);
            const PayloadLayout l = payload_layout(-1, r.header->value_length, 0);
            out.emplace_back(
                r.offset, std::string(base + l.value_offset, std::size_t(r.header->value_length)));
        } else {
            REQUIRE(s == PeekStatus::not_ready);
            return out;
        }
        RingReader::advance(from, r);
    }
}

std::vector<std::int64_t> offsets_on_disk(const log::PartitionLog& l) {
    std::vector<std::int64_t> out;
    for (std::int64_t next = l.log_start_offset(); next < l.log_end_offset();) {
        const std::string bytes = l.read(next, 1 << 20);
        REQUIRE(!bytes.empty());
        log::BatchView b({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
        REQUIRE(b.check(true) == log::BatchCheck::ok);
        log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                               b.base_timestamp());
        for (log::RecordView r; it.next(r);)
            out.push_back(r.offset);
        next = b.last_offset() + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("a claim written but never committed becomes a gap once the claim timeout passes",
          "[spill][fault]") {
    SpillRig rig("dead-written");
    auto [ring, w, l, s] = rig.parts();  // references, by the tuple
    (void)write_value(w, "a");
    (void)write_value(w, "dead", false);  // killed between claim and commit
    (void)write_value(w, "c");
    (void)write_value(w, "d");
    CHECK(s.step(1, 0));  // offset 0 reaches the disk; the spill stops at the dead claim
    CHECK(s.cursor().offset == 1);
    CHECK_FALSE(s.step(2, 0));
    CHECK_FALSE(s.step(2 + timeout_ns - 1, 0));  // not before the timeout
    CHECK(s.cursor().offset == 1);
    logged.clear();
    CHECK(s.step(2 + timeout_ns, 0));
    CHECK(s.aborted_offsets() == 1);
    REQUIRE(!logged.empty());
    CHECK(logged.back().find("offsets 1..1 were claimed but not committed") != std::string::npos);
    CHECK(s.step(3 + timeout_ns, 0));  // and on past the gap
    CHECK(s.cursor().offset == 4);
    CHECK(offsets_on_disk(l) == std::vector<std::int64_t>{0, 2, 3});
    CHECK(read_ring(ring.ref, {0, 0}) == std::vector<std::pair<std::uint64_t, std::string>>{
                                             {0, "a"}, {1, "-"}, {2, "c"}, {3, "d"}});
    Cursor at;  // a seek to the gap's offset finds it
    CHECK(RingReader(ring.ref).locate(1, at));
}

TEST_CASE("a producer killed right after its claim: the gap ends at the tail or the next claim",
          "[spill][fault]") {
    SpillRig rig("dead-empty");
    auto [ring, w, l, s] = rig.parts();  // references, by the tuple

    SECTION("nobody claimed after it: the gap ends at the tail") {
        (void)claim_only(w, 100);
        CHECK_FALSE(s.step(1, 0));
        CHECK(s.step(1 + timeout_ns, 0));
        (void)write_value(w, "after");
        CHECK(s.step(2 + timeout_ns, 0));
        CHECK(s.cursor().offset == 2);
        CHECK(read_ring(ring.ref, {0, 0}) ==
              std::vector<std::pair<std::uint64_t, std::string>>{{0, "-"}, {1, "after"}});
    }
    SECTION("two dead in a row, then a live record: one gap per offset") {
        (void)claim_only(w, 100);
        (void)claim_only(w, 3000);
        (void)write_value(w, "live");
        CHECK_FALSE(s.step(1, 0));
        CHECK(s.step(1 + timeout_ns, 0));
        CHECK(s.aborted_offsets() == 2);
        CHECK(s.step(2 + timeout_ns, 0));
        CHECK(offsets_on_disk(l) == std::vector<std::int64_t>{2});
        CHECK(read_ring(ring.ref, {0, 0}) ==
              std::vector<std::pair<std::uint64_t, std::string>>{{0, "-"}, {1, "-"}, {2, "live"}});
    }
    SECTION("claims made after the stall was first seen wait their own timeout") {
        (void)claim_only(w, 100);
        CHECK_FALSE(s.step(1, 0));            // the stall is seen: offset 0 alone was claimed
        (void)write_value(w, "late", false);  // claimed later, still being written
        CHECK(s.step(1 + timeout_ns, 0));     // offset 1 is first seen claimed now
        CHECK(s.aborted_offsets() == 1);      // offset 1 waits for its own producer
        CHECK(s.step(2 + timeout_ns, 0));     // over the gap
        CHECK(s.cursor().offset == 1);
        CHECK_FALSE(s.step(3 + timeout_ns, 0));
        CHECK_FALSE(s.step(2 * timeout_ns, 0));  // its clock started at 1 + timeout
        CHECK(s.aborted_offsets() == 1);
        CHECK(s.step(1 + 2 * timeout_ns, 0));
        CHECK(s.aborted_offsets() == 2);
    }
}

TEST_CASE("a commit that comes within the timeout is never aborted", "[spill][fault]") {
    SpillRig rig("slow");
    auto [ring, w, l, s] = rig.parts();  // references, by the tuple
    const RingClaim slow = write_value(w, "slow", false);
    CHECK_FALSE(s.step(1, 0));               // offset 0 seen claimed at 1
    (void)write_value(w, "next", false);     // offset 1, claimed after that
    CHECK_FALSE(s.step(timeout_ns / 4, 0));  // and seen claimed at timeout / 4
    CHECK(w.commit(slow));                   // within the timeout: sent
    CHECK(s.step(timeout_ns / 2, 0));
    CHECK(s.cursor().offset == 1);
    // Offset 1 counts from when it was first seen claimed, not from offset 0's time.
    CHECK_FALSE(s.step(timeout_ns + 1, 0));
    CHECK_FALSE(s.step(timeout_ns / 4 + timeout_ns - 1, 0));
    CHECK(s.aborted_offsets() == 0);
    CHECK(s.step(timeout_ns / 4 + timeout_ns, 0));
    CHECK(s.aborted_offsets() == 1);
}

TEST_CASE("a producer stalled past the timeout learns at its commit that its record is a gap",
          "[spill][fault]") {
    SpillRig rig("stalled");
    auto [ring, w, l, s] = rig.parts();  // references, by the tuple
    (void)write_value(w, "a");
    const RingClaim stalled = write_value(w, "stalled", false);
    (void)write_value(w, "c");
    CHECK(s.step(1, 0));
    CHECK_FALSE(s.step(2, 0));
    CHECK(s.step(2 + timeout_ns, 0));  // aborted
    CHECK_FALSE(w.commit(stalled));    // too late: not sent
    CHECK(s.step(3 + timeout_ns, 0));
    CHECK(offsets_on_disk(l) == std::vector<std::int64_t>{0, 2});
    // A producer that claims after the repair is not told about it.
    const RingClaim later = write_value(w, "later", false);
    CHECK(w.commit(later));
}

TEST_CASE("producers that die together cost one timeout, live records between them kept",
          "[spill][fault]") {
    SpillRig rig("many-dead");
    auto [ring, w, l, s] = rig.parts();     // references, by the tuple
    (void)claim_only(w, 100);               // dead
    (void)write_value(w, "live-1");         // committed after the first death
    (void)write_value(w, "dead-2", false);  // dead with its record written
    (void)claim_only(w, 300);               // dead before writing a byte
    (void)write_value(w, "live-2");
    (void)write_value(w, "dead-3", false);
    CHECK_FALSE(s.step(1, 0));         // every claim above is seen
    CHECK(s.step(1 + timeout_ns, 0));  // and repaired in one pass
    CHECK(s.aborted_offsets() == 4);
    while (s.step(2 + timeout_ns, 0)) {
    }
    CHECK(s.cursor().offset == 6);
    CHECK(offsets_on_disk(l) == std::vector<std::int64_t>{1, 4});
    CHECK(read_ring(ring.ref, {0, 0}) ==
          std::vector<std::pair<std::uint64_t, std::string>>{
              {0, "-"}, {1, "live-1"}, {2, "-"}, {3, "-"}, {4, "live-2"}, {5, "-"}});
}

TEST_CASE("dead claims across a lap's end are tiled with padding, never straddling it",
          "[spill][fault]") {
    SpillRig rig("dead-wrap");
    auto [ring, w, l, s] = rig.parts();  // references, by the tuple
    const std::string kilobyte(1000, 'x');
    const std::uint64_t frame = payload_layout(-1, 1000, 0).frame_length;  // 1056 bytes
    for (int i = 0; i < 60; ++i)
        (void)write_value(w, kilobyte);
    REQUIRE(s.step(1, 0));
    REQUIRE(s.cursor().position == 60 * frame);
    ring.release_up_to(s.cursor().position);
    (void)claim_only(w, 1000);  // dead, fits before the lap's end (1120 bytes left after it)
    const RingRun wrapped = claim_only(w, 2000);  // dead, its claim pads to the lap's end
    CHECK(wrapped.first_position == 64 * 1024);
    (void)write_value(w, "after the lap");
    CHECK_FALSE(s.step(2, 0));
    CHECK(s.step(2 + timeout_ns, 0));
    CHECK(s.step(3 + timeout_ns, 0));
    CHECK(s.cursor().offset == 63);
    CHECK(read_ring(ring.ref, {60 * frame, 60}) ==
          std::vector<std::pair<std::uint64_t, std::string>>{
              {60, "-"}, {61, "-"}, {62, "after the lap"}});
    const auto on_disk = offsets_on_disk(l);
    REQUIRE(on_disk.size() == 61);
    CHECK(on_disk.back() == 62);
}

TEST_CASE("a stall beyond repair is logged once, not once a pass", "[spill][fault]") {
    SpillRig rig("refused-once");
    auto [ring, w, l, s] = rig.parts();
    (void)write_value(w, "before");
    // A writer that lies in its committed frame: 32 bytes longer than it claimed, so readers land
    // in the middle of the next frame, and what is left there is too short for a frame.
    RingClaim liar = write_value(w, "liar", false);
    liar.record->frame_length += frame_alignment;
    REQUIRE(w.commit(liar));
    (void)write_value(w, "after");
    logged.clear();
    for (std::uint64_t pass = 1; pass <= 5; ++pass)
        (void)s.step(pass * 2 * timeout_ns, 0);
    const auto refusals = std::count_if(logged.begin(), logged.end(), [](const std::string& m) {
        return m.find("cannot be repaired") != std::string::npos;
    });
    CHECK(refusals == 1);
    CHECK(s.cursor().offset == 2);  // the partition waits at the lie's end
}

TEST_CASE("a stall no claim could have made is refused, not repaired", "[spill][fault]") {
    TestRing ring(64 * 1024);
    const spill::ClaimObservation impossible{5, 2 * 64 * 1024, 0};  // more than a ring of claims
    CHECK_FALSE(spill::find_dead_regions(ring.ref, {0, 0}, impossible).has_value());
    const spill::ClaimObservation cramped{3, 100, 0};  // three offsets in 100 bytes
    const spill::RepairResult r = spill::repair_dead_claims(ring.ref, {0, 0}, cramped);
    CHECK(r.refused.has_value());
    CHECK(r.aborted.empty());
    CHECK(ring.ref.record_at(0)->commit.load() == 0);  // nothing written
}
