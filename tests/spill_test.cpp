// The spill of one partition, in one process: ring records become Kafka batches on disk, the
// cursor moves only after the write, a restart skips what the log has, and a failing disk holds
// producers back without losing anything.
#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include "temp_dir.hpp"

#include "kbus/error.hpp"
#include "log/compression.hpp"
#include "spill/partition_spill.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::testing;
namespace fs = std::filesystem;

namespace {

// Every record on disk, in order, as (offset, value).
std::vector<std::pair<std::int64_t, std::string>> read_all(const log::PartitionLog& l) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    std::int64_t next = l.log_start_offset();
    while (next < l.log_end_offset()) {
        const std::string bytes = l.read(next, 1 << 20);
        REQUIRE(!bytes.empty());
        std::size_t at = 0;
        while (at < bytes.size()) {
            log::BatchView b(
                {reinterpret_cast<const std::byte*>(bytes.data()) + at, bytes.size() - at});
            REQUIRE(b.check(true) == log::BatchCheck::ok);
            std::string plain;
            log::decompress(b.compression_codec(), b.records_bytes(), plain, 64 << 20);
            log::RecordIterator it({reinterpret_cast<const std::byte*>(plain.data()), plain.size()},
                                   b.record_count(), b.base_offset(), b.base_timestamp());
            log::RecordView r;
            while (it.next(r))
                if (r.offset >= next) out.emplace_back(r.offset, std::string(r.value.str()));
            next = b.last_offset() + 1;
            at += b.total_bytes();
        }
    }
    return out;
}

}  // namespace

TEST_CASE("the spill writes ring records as batches and then moves the gate", "[spill]") {
    TempDir d("basic");
    TestRing ring(64 * 1024);
    ring.release_up_to(0);
    RingWriter w(ring.ref);
    log::PartitionLog l(d.path, {}, false, sink());
    spill::SpillOptions o;
    o.linger_ns = 1'000'000'000;
    spill::PartitionSpill s(ring.ref, l, config::Compression::none, sink(), o);
    for (int i = 0; i < 10; ++i)
        (void)write_value(w, "value-" + std::to_string(i));
    CHECK_FALSE(s.step(1000, 0));  // waiting for more (linger)
    CHECK(l.log_end_offset() == 0);
    CHECK(s.step(1000 + o.linger_ns, 0));
    CHECK(l.log_end_offset() == 10);
    CHECK(ring.ref.header().spill.spill_offset.load() == 10);
    CHECK(ring.ref.header().spill.spill_position.load() == ring::load_tail(ring.ref.header()));
    const auto records = read_all(l);
    REQUIRE(records.size() == 10);
    CHECK(records[3] == std::make_pair(std::int64_t(3), std::string("value-3")));
    CHECK_FALSE(s.step(1'000'000'000'000, 0));  // nothing pending
}

TEST_CASE("a restarted spill skips what the log already has", "[spill]") {
    TempDir d("restart");
    TestRing ring(64 * 1024);
    ring.release_up_to(0);
    RingWriter w(ring.ref);
    {
        log::PartitionLog l(d.path, {}, false, sink());
        spill::SpillOptions o;
        o.linger_ns = 0;
        spill::PartitionSpill s(ring.ref, l, config::Compression::lz4, sink(), o);
        for (int i = 0; i < 5; ++i)
            (void)write_value(w, "v" + std::to_string(i));
        CHECK(s.step(1, 0));
    }
    // A crash after the write but before the cursor was published: the ring says 0 again.
    ring.ref.header().spill.spill_offset.store(0);
    ring.ref.header().spill.spill_position.store(0);
    for (int i = 5; i < 8; ++i)
        (void)write_value(w, "v" + std::to_string(i));
    log::PartitionLog l(d.path, {}, true, sink());
    spill::SpillOptions o;
    o.linger_ns = 0;
    spill::PartitionSpill s(ring.ref, l, config::Compression::lz4, sink(), o);
    CHECK(s.position_at_log_end());
    CHECK(s.cursor().offset == 5);
    CHECK(s.step(1, 0));
    const auto records = read_all(l);
    REQUIRE(records.size() == 8);
    for (int i = 0; i < 8; ++i)
        CHECK(records[std::size_t(i)] == std::make_pair(std::int64_t(i), "v" + std::to_string(i)));
}

TEST_CASE("a failing disk stalls the spill and the gate, losing nothing", "[spill]") {
    TempDir d("full");
    TestRing ring(64 * 1024);
    ring.release_up_to(0);
    RingWriter w(ring.ref);
    log::PartitionLog l(d.path, {}, false, sink());
    spill::SpillOptions o;
    o.linger_ns = 0;
    spill::PartitionSpill s(ring.ref, l, config::Compression::none, sink(), o);
    (void)write_value(w, "before");
    REQUIRE(s.step(1, 0));
    // The process may not grow files any more: writes fail as on a full disk.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit tight = old;
    tight.rlim_cur = fs::file_size(d.path + "/00000000000000000000.log");
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    for (int i = 0; i < 20; ++i)
        (void)write_value(w, std::string(500, char('a' + i)));
    logged.clear();
    CHECK_FALSE(s.step(2, 0));
    CHECK(s.io_failing());
    CHECK(s.cursor().offset == 1);
    CHECK(ring.ref.header().spill.spill_offset.load() == 1);
    REQUIRE(!logged.empty());
    CHECK(logged.back().find("spill stalled") != std::string::npos);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(s.step(3, 0));
    CHECK_FALSE(s.io_failing());
    const auto records = read_all(l);
    REQUIRE(records.size() == 21);
    CHECK(records[0].second == "before");
    CHECK(records[20].second == std::string(500, char('a' + 19)));
}

TEST_CASE("drain writes records younger than the linger: a clean stop loses nothing", "[spill]") {
    TempDir d("drain");
    TestRing ring(64 * 1024);
    ring.release_up_to(0);
    RingWriter w(ring.ref);
    log::PartitionLog l(d.path, {}, false, sink());
    spill::SpillOptions o;
    o.linger_ns = 1'000'000'000;
    spill::PartitionSpill s(ring.ref, l, config::Compression::none, sink(), o);
    (void)write_value(w, "spilled");
    REQUIRE_FALSE(s.step(1, 0));  // the first look only starts the linger
    REQUIRE(s.step(10 + o.linger_ns, 0));
    REQUIRE(l.log_end_offset() == 1);
    for (int i = 0; i < 4; ++i)  // a few KiB: no batch and no pressure yet
        (void)write_value(w, std::string(1000, char('a' + i)));
    // The first look at pending records starts their linger, however late the clock says it is:
    // a shutdown that steps the spill with a far-future clock left them on the ring.
    CHECK_FALSE(s.step(~0ULL / 2, 0));
    CHECK(s.drain(20 + o.linger_ns, 0));
    CHECK(l.log_end_offset() == 5);
    CHECK(s.cursor().offset == 5);
    CHECK(ring.ref.header().spill.spill_position.load() == ring::load_tail(ring.ref.header()));
    const auto records = read_all(l);
    REQUIRE(records.size() == 5);
    CHECK(records[4].second == std::string(1000, 'd'));
    CHECK(s.drain(30 + o.linger_ns, 0));  // nothing left: still drained

    // write_now: what a waiting Kafka fetch asks for, one batch at once, linger or not.
    (void)write_value(w, "wanted now");
    CHECK_FALSE(s.step(40 + o.linger_ns, 0));  // lingering
    CHECK(s.write_now(41 + o.linger_ns, 0));
    CHECK(l.log_end_offset() == 6);
    CHECK_FALSE(s.write_now(42 + o.linger_ns, 0));  // nothing committed left
}

TEST_CASE("drain on a failing disk says so and keeps the records on the ring", "[spill]") {
    TempDir d("drain-full");
    TestRing ring(64 * 1024);
    ring.release_up_to(0);
    RingWriter w(ring.ref);
    log::PartitionLog l(d.path, {}, false, sink());
    spill::PartitionSpill s(ring.ref, l, config::Compression::none, sink(), {});
    (void)write_value(w, "before");
    REQUIRE(s.drain(1, 0));
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit tight = old;
    tight.rlim_cur = fs::file_size(d.path + "/00000000000000000000.log");
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    (void)write_value(w, "after");
    const bool drained = s.drain(2, 0);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_FALSE(drained);
    CHECK(s.cursor().offset == 1);
    CHECK(ring.ref.header().spill.spill_offset.load() == 1);
    CHECK(s.drain(3, 0));
    CHECK(l.log_end_offset() == 2);
}

namespace {

// A ring-only spill (kbus.spill.enable=false) over a 64 KiB ring, the test playing producer,
// consumer and clock.
struct RingOnlySpill {
    explicit RingOnlySpill(const char* name, std::uint64_t claim_timeout_ns = 1'000'000'000)
        : d(name), options(ring_only(claim_timeout_ns)) {
        ring.release_up_to(0);
    }
    static spill::SpillOptions ring_only(std::uint64_t claim_timeout_ns) {
        spill::SpillOptions o;
        o.write_to_log = false;
        o.claim_timeout_ns = claim_timeout_ns;
        return o;
    }
    // One step once the records have lingered (ring-only steps in strides).
    bool lingered_step() {
        (void)s.step(now, 0);
        now += spill::ring_only_linger_ns;
        const bool moved = s.step(now, 0);
        now += 1000;
        return moved;
    }
    // A consumer attached in slot 3 that has read every offset before `next`.
    void consumer_read_to(std::uint64_t next, std::uint64_t position) {
        ReaderSlot& slot = ring.ref.header().readers[3];
        slot.offset.store(next);
        slot.position.store(position);
        slot.state.store(std::uint32_t(ReaderSlotState::attached));
    }

    TempDir d;
    TestRing ring{64 * 1024};
    RingWriter w{ring.ref};
    log::PartitionLog l{d.path, {}, false, sink()};
    spill::SpillOptions options;
    spill::PartitionSpill s{ring.ref, l, config::Compression::none, sink(), options};
    std::uint64_t now = 1000;
};

}  // namespace

TEST_CASE("with the spill disabled records only pass through the ring", "[spill]") {
    RingOnlySpill r("discard");
    for (int i = 0; i < 10; ++i)
        (void)write_value(r.w, "v");
    // Ring-only, records are stepped over in big strides (never chasing the producers' tail
    // record by record): after ring_only_linger_ns, or once an eighth of the ring waits.
    CHECK_FALSE(r.s.step(1000, 0));
    CHECK_FALSE(r.s.step(1000 + r.options.linger_ns, 0));
    CHECK(r.s.cursor().offset == 0);
    CHECK(r.s.step(1000 + spill::ring_only_linger_ns, 0));
    CHECK(r.s.cursor().offset == 10);
    CHECK(r.ring.ref.header().spill.spill_offset.load() == 10);
    CHECK(r.l.log_end_offset() == 0);
    CHECK_FALSE(r.s.step(2000 + spill::ring_only_linger_ns, 0));
    const std::string kilobyte(1024, 'k');
    for (int i = 0; i < 9; ++i)  // 9 KiB of frames: past an eighth of the 64 KiB ring
        (void)write_value(r.w, kilobyte);
    CHECK(r.s.step(3000 + spill::ring_only_linger_ns, 0));
    CHECK(r.s.cursor().offset == 19);
    CHECK(r.l.log_end_offset() == 0);
}

TEST_CASE(
    "ring-only, the cursor jumps to what an attached consumer has read, and stops at the "
    "tail it saw",
    "[spill]") {
    RingOnlySpill r("discard-jump");
    std::vector<RingClaim> claims;
    for (int i = 0; i < 30; ++i)
        claims.push_back(write_value(r.w, "v"));
    // A consumer that has read offsets 0..19 (its slot says it reads 20 next).
    r.consumer_read_to(20, claims[20].position);
    // Its record 19 is overwritten with another offset's frame: the slot is not borne out by
    // the ring, and the cursor walks instead of jumping.
    RecordHeader& r19 = *r.ring.ref.record_at(claims[19].position);
    const std::uint64_t good = r19.commit.load();
    r19.commit.store(good + 100);
    CHECK(r.lingered_step());
    CHECK(r.s.cursor().offset == 19);  // walked up to the record it could not read
    r19.commit.store(good);
    for (int i = 0; i < 10; ++i)
        claims.push_back(write_value(r.w, "v"));
    r.consumer_read_to(35, claims[35].position);
    CHECK(r.lingered_step());
    CHECK(r.s.cursor().offset == 40);  // from offset 34 (the consumer's last), up to the tail
    // A hostile slot far past the tail: ignored.
    r.consumer_read_to(1'000'000, 0);
    (void)write_value(r.w, "v");
    CHECK(r.lingered_step());
    CHECK(r.s.cursor().offset == 41);
    CHECK(r.l.log_end_offset() == 0);
}

TEST_CASE("ring-only, a dead producer's claim behind a consumer's jump still becomes a gap",
          "[spill]") {
    constexpr std::uint64_t timeout = 200'000'000;
    RingOnlySpill r("discard-dead", timeout);
    for (int i = 0; i < 10; ++i)
        (void)write_value(r.w, "v");
    const RingClaim dead = write_value(r.w, "dead", false);  // offset 10: claimed, never committed
    for (int i = 0; i < 4; ++i)
        (void)write_value(r.w, "v");
    // The consumer read 0..9 and waits on offset 10.
    r.consumer_read_to(10, dead.position);
    CHECK(r.lingered_step());
    CHECK(r.s.cursor().offset == 10);  // jumped to 9, stopped at the claim
    for (int i = 0; i < 6 && r.s.cursor().offset == 10; ++i) {
        r.now += timeout;
        (void)r.s.step(r.now, 0);
    }
    CHECK(r.s.cursor().offset == 15);  // the claim aborted, the records after it stepped over
    CHECK(r.ring.ref.record_at(dead.position)->type == RecordType::aborted);
    CHECK_FALSE(r.w.commit(dead));  // its producer, were it only stalled, learns it was not sent
}
