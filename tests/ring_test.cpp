// The partition ring on its own, in one process: the test plays the daemon (it moves the
// producer limit) so each invariant can be driven exactly.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kbus/detail/futex.hpp"
#include "kbus/header_block.hpp"
#include "kbus/message.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_reader.hpp"
#include "kbus/ring_writer.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::ring;
using namespace kbus::testing;

namespace {

std::string value_of(const RecordRef& r) {
    static const std::string topic = "t";
    Message m(r.header, &topic, 0, std::int64_t(r.offset));
    return std::string(m.value().str());
}

}  // namespace

TEST_CASE("a committed record reads back intact", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    const HeaderView headers[] = {{"h1", BytesView("v1")}, {"h2", BytesView()}};
    const FramePlan plan = frame_plan("key", 5, headers);
    const PayloadLayout l = plan.layout;
    RingClaim c;
    REQUIRE(w.try_claim(l, c) == ClaimStatus::claimed);
    write_data_frame(w.payload(c), c.position, plan, 1700000000000, "key", 5, headers);
    ring::write_value(w.payload(c), plan, "value");
    CHECK(l.value_offset % 8 == 0);
    CHECK(plan.headers_bytes == header_block_size(headers));
    REQUIRE(w.commit(c));

    RingReader r(t.ref);
    Cursor cur{0, 0};
    RecordRef rec;
    REQUIRE(r.peek(cur, rec) == PeekStatus::record);
    const std::string topic = "t";
    Message m(rec.header, &topic, 0, 0);
    CHECK(m.key().str() == "key");
    CHECK(m.value().str() == "value");
    CHECK(m.timestamp() == 1700000000000);
    auto it = m.headers();
    REQUIRE(!it.done());
    CHECK(it->key == "h1");
    CHECK(it->value.str() == "v1");
    ++it;
    REQUIRE(!it.done());
    CHECK(it->key == "h2");
    CHECK(it->value.is_null());
    ++it;
    CHECK(it.done());
    CHECK_FALSE(it.malformed());
    auto owned = m.copy();
    CHECK(owned.key == std::optional<std::string>("key"));
    CHECK(owned.headers.size() == 2);
}

TEST_CASE("the commit word is what publishes a record", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    RingClaim first = write_value(w, "first", false);
    Cursor cur{0, 0};
    RecordRef rec;
    CHECK(r.peek(cur, rec) == PeekStatus::not_ready);  // claimed, header written, not committed
    RingClaim second = write_value(w, "second");
    CHECK(r.peek(cur, rec) == PeekStatus::not_ready);  // order: offset 0 gates offset 1
    REQUIRE(w.commit(first));
    REQUIRE(r.peek(cur, rec) == PeekStatus::record);
    CHECK(value_of(rec) == "first");
    RingReader::advance(cur, rec);
    REQUIRE(r.peek(cur, rec) == PeekStatus::record);
    CHECK(rec.offset == 1);
    CHECK(value_of(rec) == "second");
    CHECK(second.offset == 1);
}

TEST_CASE("records wrap with padding and never straddle the end", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    Cursor cur{0, 0};
    const std::string big(1000, 'x');
    std::uint64_t expected = 0;
    bool saw_wrap = false;
    for (int i = 0; i < 500; ++i) {  // several laps
        RingClaim c = write_value(w, big + std::to_string(i));
        CHECK(c.offset == expected);
        const std::uint64_t index = t.ref.index_of(c.position);
        CHECK(index + c.layout.frame_length <= t.ref.capacity());  // inside the region
        if (c.position / t.ref.capacity() > 0 && index == 0) saw_wrap = true;
        RecordRef rec;
        REQUIRE(r.peek(cur, rec) == PeekStatus::record);
        CHECK(rec.offset == expected);
        CHECK(value_of(rec) == big + std::to_string(i));
        RingReader::advance(cur, rec);
        t.release_up_to(cur.position);
        ++expected;
    }
    CHECK(saw_wrap);
}

TEST_CASE("an end too small for a header is skipped implicitly", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    // Fill to 32 bytes (one frame_alignment) before the end with two records: a header (48
    // bytes) no longer fits there.
    const std::uint64_t cap = t.ref.capacity();
    Cursor cur{0, 0};
    RecordRef rec;
    for (std::uint64_t frame : {cap / 2, cap / 2 - frame_alignment}) {
        const std::int32_t value = std::int32_t(frame - record_header_bytes);
        RingClaim c;
        REQUIRE(w.try_claim(payload_layout(-1, value, 0), c) == ClaimStatus::claimed);
        fill_frame(w, c, value);
        REQUIRE(w.commit(c));
        REQUIRE(r.peek(cur, rec) == PeekStatus::record);
        RingReader::advance(cur, rec);
    }
    CHECK(cur.position == cap - frame_alignment);
    t.release_up_to(cur.position);
    RingClaim next = write_value(w, "after the skip");
    CHECK(next.position == cap);  // next lap's start
    REQUIRE(r.peek(cur, rec) == PeekStatus::record);
    CHECK(value_of(rec) == "after the skip");
}

TEST_CASE("frames start and end on frame_alignment, and a stamp sits where the payload ends",
          "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    Cursor cur{0, 0};
    const HeaderView headers[] = {{"h", BytesView("hv")}};
    std::int64_t producer = 0;
    for (const bool stamped : {false, true})
        for (std::int32_t key = 0; key < 20; key += 7)
            for (std::int32_t value = 0; value < 100; value += 3) {
                const std::string k(std::size_t(key), 'k'), v(std::size_t(value), 'v');
                const auto hs = std::span(headers).first(value % 2 == 0 ? 1 : 0);
                const FramePlan plan = frame_plan(BytesView(k), value, hs, stamped);
                CHECK(plan.layout.frame_length % frame_alignment == 0);
                CHECK(plan.layout.stamp_offset % record_alignment == 0);
                CHECK(plan.layout.stamp_offset + (stamped ? record_stamp_bytes : 0) <=
                      plan.layout.frame_length);
                RingClaim c;
                REQUIRE(w.try_claim(plan.layout, c) == ClaimStatus::claimed);
                CHECK(c.position % frame_alignment == 0);
                write_data_frame(w.payload(c), c.position, plan, 1, BytesView(k), value, hs);
                ring::write_value(w.payload(c), plan, BytesView(v));
                if (stamped) write_stamp(w.payload(c), plan, {++producer, value, 3, 0});
                REQUIRE(w.commit(c));
                RecordRef rec;
                REQUIRE(r.peek(cur, rec) == PeekStatus::record);
                const RecordFrameView view(rec.header);
                CHECK(view.key().str() == k);
                CHECK(view.value().str() == v);
                RecordStamp stamp{};
                REQUIRE(view.stamp(stamp) == stamped);
                if (stamped) {
                    CHECK(stamp.producer_id == producer);
                    CHECK(stamp.sequence == value);
                    CHECK(stamp.epoch == 3);
                }
                RingReader::advance(cur, rec);
                t.release_up_to(cur.position);
            }
}

TEST_CASE("producers stop at the producer limit", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    const PayloadLayout l = payload_layout(-1, 4000, 0);
    RingClaim c;
    int claimed = 0;
    while (w.try_claim(l, c) == ClaimStatus::claimed) {
        fill_frame(w, c, 4000);
        REQUIRE(w.commit(c));
        ++claimed;
    }
    CHECK(claimed == int(t.ref.capacity() / l.frame_length));
    CHECK(w.try_claim(l, c) == ClaimStatus::full);
    t.release_up_to(l.frame_length);  // the daemon took one record
    CHECK(w.try_claim(l, c) == ClaimStatus::claimed);
    CHECK(c.offset == std::uint64_t(claimed));
}

TEST_CASE("oversized records are refused", "[ring]") {
    TestRing t(64 * 1024, 1024);
    RingWriter w(t.ref);
    RingClaim c;
    CHECK(w.try_claim(payload_layout(-1, 2000, 0), c) == ClaimStatus::too_large);
    CHECK(w.try_claim(payload_layout(-1, 900, 0), c) == ClaimStatus::claimed);
}

TEST_CASE("a lapped reader is told, never handed overwritten bytes", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    Cursor stale{0, 0};
    std::uint64_t daemon_position = 0;
    for (int i = 0; i < 200; ++i) {  // the daemon keeps up; our reader does not
        RingClaim c = write_value(w, std::string(900, char('a' + i % 26)));
        daemon_position = c.position + c.layout.frame_length;
        t.release_up_to(daemon_position);
    }
    RecordRef rec;
    CHECK(r.peek(stale, rec) == PeekStatus::lapped);
    // The journal still finds records in the ring, not the overwritten ones.
    Cursor found;
    CHECK_FALSE(r.locate(0, found));
    REQUIRE(r.locate(199, found));
    REQUIRE(r.peek(found, rec) == PeekStatus::record);
    CHECK(rec.offset == 199);
}

TEST_CASE("a reader steps by the frame length it checked, whatever the header says after",
          "[ring]") {
    TestRing t(64 * 1024);
    t.release_up_to(0);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    const RingClaim first = write_value(w, std::string(100, 'a'));
    (void)write_value(w, std::string(100, 'b'));
    Cursor c{0, 0};
    RecordRef rec;
    REQUIRE(r.peek(c, rec) == PeekStatus::record);
    // A detached reader's frame being overwritten by a later lap between the check and the step:
    // the length it now reads is a value byte run, not a multiple of the record alignment.
    first.record->frame_length = 0x6b6b6b6c;
    RingReader::advance(c, rec);
    CHECK(c.position == first.layout.frame_length);
    CHECK(c.position % record_alignment == 0);
    REQUIRE(r.peek(c, rec) == PeekStatus::record);
    CHECK(rec.offset == 1);
}

TEST_CASE("payload bytes that look like a later lap's header are not a lap", "[ring]") {
    TestRing t(64 * 1024);
    RingWriter w(t.ref);
    RingReader r(t.ref);
    t.release_up_to(0);
    // Fill the first lap, then let the reader reach its end: the next position is unwritten and
    // holds the first lap's bytes, here crafted to mimic a frame of a far later lap.
    Cursor c{0, 0};
    RecordRef rec;
    for (int i = 0; i < 60; ++i) {
        (void)write_value(w, std::string(1000, 'v'));
        REQUIRE(r.peek(c, rec) == PeekStatus::record);
        RingReader::advance(c, rec);
        t.release_up_to(c.position);
    }
    RecordHeader* next = t.ref.record_at(c.position);
    next->position = c.position + 1000 * t.ref.capacity();  // same index, a "later lap"
    next->commit.store(commit_word_for(c.offset) + 5000);   // a "later" commit word
    CHECK(r.peek(c, rec) == PeekStatus::not_ready);         // beyond the tail: not real
    // A real later-lap frame there (below the tail) is a lap.
    next->position = c.position + t.ref.capacity();
    t.ref.header().claim.next_offset_and_tail.second = c.position + t.ref.capacity() + 64;
    CHECK(r.peek(c, rec) == PeekStatus::lapped);
}

TEST_CASE("concurrent producers claim lock-free: dense offsets, per-producer order", "[ring]") {
    TestRing t(1 << 20);
    constexpr int producers = 4;
    constexpr int per_producer = 20000;
    std::atomic<bool> done{false};
    std::atomic<int> aborted{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            RingWriter w(t.ref);
            for (int i = 0; i < per_producer; ++i) {
                const std::string v = std::to_string(p) + ":" + std::to_string(i);
                const PayloadLayout l = payload_layout(-1, std::int32_t(v.size()), 0);
                RingClaim c;
                while (w.try_claim(l, c) != ClaimStatus::claimed)
                    std::this_thread::yield();
                std::memcpy(reinterpret_cast<std::byte*>(c.record) + l.value_offset, v.data(),
                            v.size());
                fill_frame(w, c, std::int32_t(v.size()));
                if (!w.commit(c)) aborted.fetch_add(1);  // Catch's REQUIRE is not thread-safe
            }
        });
    }
    RingReader r(t.ref);
    Cursor cur{0, 0};
    std::vector<int> next(producers, 0);
    std::uint64_t count = 0;
    while (count < std::uint64_t(producers) * per_producer) {
        RecordRef rec;
        const PeekStatus s = r.peek(cur, rec);
        if (s == PeekStatus::not_ready) continue;
        REQUIRE(s == PeekStatus::record);
        REQUIRE(rec.offset == count);
        const std::string v = value_of(rec);
        const int p = std::stoi(v.substr(0, v.find(':')));
        const int i = std::stoi(v.substr(v.find(':') + 1));
        REQUIRE(i == next[p]);
        ++next[p];
        RingReader::advance(cur, rec);
        t.release_up_to(cur.position);
        ++count;
    }
    done = true;
    for (auto& th : threads)
        th.join();
    CHECK(count == std::uint64_t(producers) * per_producer);
    CHECK(aborted == 0);
}

TEST_CASE("a malformed header block stops iteration inside its bounds", "[ring]") {
    std::byte block[8] = {};
    const std::uint16_t key_length = 200;  // longer than the block
    std::memcpy(block, &key_length, 2);
    HeaderIterator it(block, sizeof(block), 1);
    CHECK(it.done());
    CHECK(it.malformed());
}

TEST_CASE("a producer rings the daemon's doorbell once, halfway from the mark to the limit",
          "[ring]") {
    TestRing t(64 * 1024);
    kbus::control::Doorbell bell{};
    LimitLine& l = t.ref.header().limit;
    l.doorbell_at.store(4096);
    t.release_up_to(0);  // limit: the capacity, 65536; halfway from the mark: 34816
    RingWriter w(t.ref, &bell);
    RingWriter silent(t.ref);  // no doorbell given: never rings
    constexpr std::uint64_t frame = 152;
    while (load_tail(t.ref.header()) + frame <= 34816)
        write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 0);  // past the mark (the consumers'), not past halfway
    write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 1);  // crossed it: rung
    for (int i = 0; i < 20; ++i)
        write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 1);  // once per mark
    write_value(silent, std::string(100, 'a'));
    CHECK(bell.seq.load() == 1);

    // The daemon grants more with a new mark; claims up to the old limit do not re-read it...
    l.doorbell_at.store(60000);
    t.release_up_to(20000);  // limit 85536: rings past 72768
    while (load_tail(t.ref.header()) + frame <= 65536)
        write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 1);
    // ...the claim past the old limit does, and rings only once past the new halfway point.
    while (load_tail(t.ref.header()) + frame <= 72768)
        write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 1);
    write_value(w, std::string(100, 'a'));
    CHECK(bell.seq.load() == 2);
}

TEST_CASE(
    "a producer waiting for room rings and sleeps only while the limit stands where it saw it",
    "[ring]") {
    TestRing t(64 * 1024);
    kbus::control::Doorbell bell{};
    t.release_up_to(0);
    RingWriter w(t.ref, &bell);
    LimitLine& l = t.ref.header().limit;
    RingClaim c;
    const FramePlan plan = frame_plan(BytesView(), 1000, {});
    while (w.try_claim(plan.layout, c) == ClaimStatus::claimed)
        REQUIRE(w.commit(c));
    const std::uint32_t rung = bell.seq.load();
    // The limit stands: the doorbell rings, and the wait ends at its timeout.
    w.wait_for_room(std::chrono::milliseconds(1));
    CHECK(bell.seq.load() == rung + 1);
    CHECK(l.blocked_producers.load() == 0);
    // Granted meanwhile, its futex word not bumped (the daemon saw nobody waiting): no ring, no
    // sleep; the claim goes through.
    t.release_up_to(32 * 1024);
    w.wait_for_room(std::chrono::hours(1));
    CHECK(bell.seq.load() == rung + 1);
    CHECK(l.blocked_producers.load() == 0);
    CHECK(w.try_claim(plan.layout, c) == ClaimStatus::claimed);
}

TEST_CASE("a sleeping consumer's announcement costs one wake, however many commits follow it",
          "[ring]") {
    TestRing t(64 * 1024);
    t.release_up_to(0);
    RingWriter w(t.ref);
    WakeLine& wake = t.ref.header().wake;
    wake.blocking_readers.store(1);  // a blocking consumer is assigned: commits look for sleepers

    for (int i = 0; i < 5; ++i)
        write_value(w, "nobody asleep");
    CHECK(wake.wake_seq.load() == 0);  // no announcement: no wake, no system call

    wake.wake_wanted.store(1);  // a consumer announces itself and sleeps on wake_seq == 0
    for (int i = 0; i < 50; ++i)
        write_value(w, "a burst");
    CHECK(wake.wake_seq.load() == 1);  // the first commit woke it; the other 49 did not
    CHECK(wake.wake_wanted.load() == 0);

    wake.wake_wanted.store(1);  // it sleeps again: the next commit wakes it again
    write_value(w, "one more");
    CHECK(wake.wake_seq.load() == 2);
}

TEST_CASE("a consumer asleep on the wake word is woken by the next commit", "[ring]") {
    TestRing t(64 * 1024);
    t.release_up_to(0);
    RingWriter w(t.ref);
    WakeLine& wake = t.ref.header().wake;
    wake.blocking_readers.store(1);
    std::atomic<int> woken{0};
    for (int round = 0; round < 20; ++round) {
        const std::uint32_t seen = wake.wake_seq.load();
        wake.wake_wanted.store(1);  // announced before it sleeps, as Consumer does
        std::thread sleeper([&] {
            // A commit made before the wait changes the word, so the wait returns at once.
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (wake.wake_seq.load() == seen && std::chrono::steady_clock::now() < until)
                kbus::detail::futex_wait(&wake.wake_seq, seen, std::chrono::seconds(1));
            if (wake.wake_seq.load() != seen) woken.fetch_add(1);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(round % 2));  // asleep, or not yet
        write_value(w, "wake up");
        sleeper.join();
    }
    CHECK(woken.load() == 20);  // every sleeper got up, none slept through its commit
}
