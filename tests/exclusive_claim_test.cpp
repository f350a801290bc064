// The exclusive producer's claim (ClaimLine's ownership bit, RingWriter::take_exclusive) and its
// lease (exclusive_lease.hpp), in one process: the test plays the daemon and the other producers.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "kbus/exclusive_lease.hpp"
#include "kbus/message.hpp"
#include "kbus/ring_reader.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::ring;
using namespace kbus::testing;

namespace {

std::string value_at(const RingRef& ring, Cursor& c) {
    static const std::string topic = "t";
    RecordRef r;
    REQUIRE(RingReader(ring).peek(c, r) == PeekStatus::record);
    Message m(r.header, &topic, 0, std::int64_t(r.offset));
    RingReader::advance(c, r);
    return std::string(m.value().str());
}

bool try_write(RingWriter& w, const std::string& value, ClaimStatus& status) {
    const FramePlan plan = frame_plan(BytesView(), std::int32_t(value.size()), {});
    RingClaim c;
    status = w.try_claim(plan.layout, c);
    if (status != ClaimStatus::claimed) return false;
    write_data_frame(w.payload(c), c.position, plan, 1, BytesView(), std::int32_t(value.size()),
                     {});
    ring::write_value(w.payload(c), plan, BytesView(value));
    return w.commit(c);
}

// A file standing in for a ring's, removed at the end.
struct LeaseFile {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("kbus-lease-" + std::to_string(::getpid()) + "-" +
                         std::to_string(reinterpret_cast<std::uintptr_t>(this))))
                           .string();
    LeaseFile() { std::ofstream(path) << "ring"; }
    ~LeaseFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("an exclusive writer claims alone: every other writer is refused until it lets go",
          "[ring][exclusive]") {
    TestRing t(64 * 1024);
    RingHeader& h = t.ref.header();
    RingWriter owner(t.ref), other(t.ref);
    write_value(other, "shared");
    owner.take_exclusive();
    CHECK(owned_exclusively(h));
    CHECK(owner.exclusive());
    CHECK(load_next_offset(h) == 1);  // the bit is no offset
    CHECK(h.claim.exclusive_owner_pid.load() == ::getpid());
    CHECK(write_value(owner, "owned-1").offset == 1);

    const std::uint64_t tail = load_tail(h);
    ClaimStatus s;
    CHECK_FALSE(try_write(other, "intruder", s));
    CHECK(s == ClaimStatus::owned);
    RingWriter late(t.ref);  // made after the bit was set
    CHECK_FALSE(try_write(late, "intruder", s));
    CHECK(s == ClaimStatus::owned);
    CHECK(load_next_offset(h) == 2);  // the refused claims took nothing
    CHECK(load_tail(h) == tail);
    CHECK(write_value(owner, "owned-2").offset == 2);
    CHECK(load_claim(h).first == 3);

    owner.give_up_exclusive();
    CHECK_FALSE(owned_exclusively(h));
    CHECK(write_value(other, "shared-again").offset == 3);
    Cursor c{0, 0};
    CHECK(value_at(t.ref, c) == "shared");
    CHECK(value_at(t.ref, c) == "owned-1");
    CHECK(value_at(t.ref, c) == "owned-2");
    CHECK(value_at(t.ref, c) == "shared-again");
}

TEST_CASE("a new owner adopts a dead owner's claim pair, and a clearer hands it back to all",
          "[ring][exclusive]") {
    TestRing t(64 * 1024);
    RingHeader& h = t.ref.header();
    {
        RingWriter dead(t.ref);
        dead.take_exclusive();
        write_value(dead, "before death");
    }  // gone without give_up_exclusive(): the bit stays
    CHECK(owned_exclusively(h));
    RingWriter heir(t.ref);
    heir.take_exclusive();
    CHECK(write_value(heir, "heir").offset == 1);
    heir.give_up_exclusive();

    RingWriter dead_again(t.ref);
    dead_again.take_exclusive();
    RingWriter::clear_ownership(h);  // what reclaim_abandoned_ring does with the lease held
    CHECK_FALSE(owned_exclusively(h));
    RingWriter shared(t.ref);
    CHECK(write_value(shared, "shared").offset == 2);
}

TEST_CASE("an exclusive writer's claim pair is never seen torn, and intruders never claim",
          "[ring][exclusive]") {
    TestRing t(64 * 1024);
    RingHeader& h = t.ref.header();
    RingWriter owner(t.ref);
    owner.take_exclusive();
    constexpr std::uint64_t records = 300000;
    const std::string value(16, 'v');  // 64-byte frames: no padding, tail == 64 * offset
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> torn{0}, intruded{0}, snapshots{0};
    std::thread observer([&] {  // dwload's locked write-back races the owner's plain stores
        while (!done.load(std::memory_order_acquire)) {
            const detail::WordPair p = load_claim(h);
            if (p.second != 64 * p.first) torn.fetch_add(1);
            snapshots.fetch_add(1, std::memory_order_relaxed);
        }
    });
    std::thread intruder([&] {
        RingWriter w(t.ref);
        ClaimStatus s;
        while (!done.load(std::memory_order_acquire))
            if (try_write(w, value, s) || s != ClaimStatus::owned) intruded.fetch_add(1);
    });
    Cursor c{0, 0};
    for (std::uint64_t i = 0; i < records; ++i) {
        ClaimStatus s;
        while (!try_write(owner, value, s)) {
            REQUIRE(s == ClaimStatus::full);
            t.release_up_to(c.position);  // the test reads behind and frees room
        }
        REQUIRE(value_at(t.ref, c) == value);
        REQUIRE(c.offset == i + 1);
    }
    done.store(true, std::memory_order_release);
    observer.join();
    intruder.join();
    CHECK(torn.load() == 0);
    CHECK(intruded.load() == 0);
    CHECK(snapshots.load() > 0);
    CHECK(load_next_offset(h) == records);
}

TEST_CASE("the exclusive lease: one holder per ring file, let go by closing or by dying",
          "[exclusive]") {
    LeaseFile f;
    std::optional<ExclusiveLease> first = ExclusiveLease::try_take(f.path);
    REQUIRE(first);
    CHECK_FALSE(ExclusiveLease::try_take(f.path));  // another open, in the same process
    CHECK_FALSE(ExclusiveLease::take(f.path, std::chrono::milliseconds(5)));
    first.reset();
    CHECK(ExclusiveLease::try_take(f.path));

    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        const auto held = ExclusiveLease::try_take(f.path);
        char b = held ? 1 : 0;
        (void)!::write(ready[1], &b, 1);
        ::pause();
        ::_exit(0);
    }
    char b = 0;
    REQUIRE(::read(ready[0], &b, 1) == 1);
    REQUIRE(b == 1);
    TestRing t(64 * 1024);
    RingWriter owner_in_child(t.ref);
    owner_in_child.take_exclusive();  // as the child would have set the bit
    CHECK_FALSE(reclaim_abandoned_ring(f.path, t.ref.header()));  // the owner lives
    CHECK(owned_exclusively(t.ref.header()));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    CHECK(reclaim_abandoned_ring(f.path, t.ref.header()));  // the kernel dropped its lock
    CHECK_FALSE(owned_exclusively(t.ref.header()));
    ::close(ready[0]);
    ::close(ready[1]);
    CHECK_THROWS_AS(ExclusiveLease::try_take(f.path + ".missing"), Error);
}
