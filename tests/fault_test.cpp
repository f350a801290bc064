// Fault tests across processes (DESIGN.md invariants 5 and 7): producers SIGKILLed between claim
// and commit, consumers SIGKILLed while holding a batch, consumers SIGSTOPped for longer than a
// ring lap. After each, nothing is corrupt, nothing acknowledged is lost and everyone else goes
// on. CI runs a short mode; KBUS_FAULT_ROUNDS raises the rounds for the soak (ctest -L soak).
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;

namespace {

std::uint64_t rounds(std::uint64_t short_mode) {
    const char* v = std::getenv("KBUS_FAULT_ROUNDS");
    return v ? std::stoull(v) : short_mode;
}

// Runs `body` in a child process; its return value is the child's exit status.
pid_t spawn(const std::function<int()>& body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int rc = 100;
        try {
            rc = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
        }
        ::_exit(rc);
    }
    REQUIRE(pid > 0);
    return pid;
}

int exit_status(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    CHECK(exit_status(pid) == 128 + SIGKILL);
}

// A value that checks itself: its sequence number, then bytes derived from it.
std::string value_for(std::uint64_t seq, std::size_t size) {
    std::string v(size, '\0');
    std::memcpy(v.data(), &seq, 8);
    for (std::size_t i = 8; i < size; ++i)
        v[i] = char((seq * 131 + i * 7) & 0xff);
    return v;
}
bool value_is_intact(std::string_view v, std::uint64_t& seq) {
    if (v.size() < 8) return false;
    std::memcpy(&seq, v.data(), 8);
    return v == value_for(seq, v.size());
}

// A producer that claims a record, writes half of it and is SIGKILLed; the dead claim's offset.
std::int64_t dead_claim(DaemonFixture& d, const std::string& topic) {
    int claimed[2];
    REQUIRE(::pipe(claimed) == 0);
    const pid_t victim = spawn([&] {
        kbus::Client vc(d.options());
        kbus::Producer p(vc);
        kbus::ProducerClaim claim = p.claim(topic, "victim", 100);
        std::memset(claim.value().data(), 'x', 50);
        const std::int64_t offset = claim.offset();
        (void)!::write(claimed[1], &offset, sizeof offset);
        ::pause();
        return 1;
    });
    std::int64_t offset = -1;
    REQUIRE(::read(claimed[0], &offset, sizeof offset) == sizeof offset);
    kill_and_reap(victim);
    ::close(claimed[0]);
    ::close(claimed[1]);
    return offset;
}

}  // namespace

TEST_CASE("producers SIGKILLed between claim and commit leave gaps and the partition moves on",
          "[fault][integration]") {
    DaemonFixture d("deadclaim", {"--override", "kbus.claim.timeout.ms=200"});
    kbus::Client c(d.options());
    c.create_topic("t", 1, {{"ring.bytes", "262144"}});
    const std::uint64_t kills = rounds(3), live_records = 20000;
    // A live producer keeps sending while the victims die around it.
    const pid_t live = spawn([&] {
        kbus::Client lc(d.options());
        kbus::Producer p(lc, {.max_block = 30s});
        for (std::uint64_t seq = 0; seq < live_records; ++seq) {
            (void)p.send("t", "live", value_for(seq, 100));
            if (seq % 200 == 0) std::this_thread::sleep_for(1ms);
        }
        return 0;
    });
    std::set<std::int64_t> dead_offsets;
    for (std::uint64_t k = 0; k < kills; ++k) {
        dead_offsets.insert(dead_claim(d, "t"));
        std::this_thread::sleep_for(50ms);
    }
    CHECK(exit_status(live) == 0);
    // A last record behind the last victims: reading it means the partition moved past them.
    kbus::Producer last(c);
    const std::int64_t sentinel = last.send("t", "live", value_for(live_records, 100)).offset;
    // Every live record, intact and in order; every dead claim a gap; nothing else missing.
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign("t", 0, kbus::OffsetSpec::beginning());
    std::uint64_t next_seq = 0;
    std::int64_t next_offset = 0;
    for (int idle = 0; next_seq <= live_records && idle < 1000;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            while (dead_offsets.count(next_offset))
                ++next_offset;
            REQUIRE(m.offset() == next_offset);
            REQUIRE(m.key().str() == "live");
            std::uint64_t seq = 0;
            REQUIRE(value_is_intact(m.value().str(), seq));
            REQUIRE(seq == next_seq);
            ++next_seq;
            ++next_offset;
        }
    }
    CHECK(next_seq == live_records + 1);
    CHECK(next_offset == sentinel + 1);
    // The daemon logged each gap ("offsets A..B were claimed but not committed ..."): exactly
    // the victims' offsets (neighbouring victims may share one line).
    std::set<std::int64_t> logged_gaps;
    for (int attempt = 0; attempt < 200 && logged_gaps != dead_offsets; ++attempt) {
        std::this_thread::sleep_for(attempt ? 10ms : 0ms);  // logged just after the repair
        logged_gaps.clear();
        const std::string log = d.log_text();
        for (auto at = log.find("offsets "); at != std::string::npos;
             at = log.find("offsets ", at + 1)) {
            long long first = 0, last_gap = 0;
            if (std::sscanf(log.c_str() + at, "offsets %lld..%lld were claimed", &first,
                            &last_gap) == 2)
                for (long long o = first; o <= last_gap; ++o)
                    logged_gaps.insert(o);
        }
    }
    CHECK(logged_gaps == dead_offsets);
}

TEST_CASE("a consumer SIGKILLed holding a batch lets producers past at once", "[fault]") {
    DaemonFixture d("deadreader");
    kbus::Client c(d.options());
    // A hold timeout far beyond the test: only the daemon noticing the death can free the ring.
    c.create_topic("t", 1, {{"ring.bytes", "65536"}, {"consumer.hold.timeout.ms", "600000"}});
    kbus::Producer p(c, {.max_block = 20s});
    (void)p.send("t", nullptr, value_for(0, 1000));
    for (std::uint64_t k = 0; k < rounds(2); ++k) {
        int holding[2];
        REQUIRE(::pipe(holding) == 0);
        const pid_t victim = spawn([&] {
            kbus::Client vc(d.options());
            kbus::Consumer con(vc, {.wait = kbus::WaitMode::blocking});
            con.assign("t", 0, kbus::OffsetSpec::beginning());
            while (con.poll(100ms).empty()) {
            }
            const char b = 1;
            (void)!::write(holding[1], &b, 1);
            ::pause();  // holds its batch (tethered) until killed
            return 1;
        });
        char b;
        REQUIRE(::read(holding[0], &b, 1) == 1);
        kill_and_reap(victim);
        ::close(holding[0]);
        ::close(holding[1]);
        const std::uint64_t first =
            std::uint64_t(c.describe_topic("t").partitions[0].high_watermark);
        for (std::uint64_t seq = first; seq < first + 300; ++seq)  // ~5 laps of the ring
            (void)p.send("t", nullptr, value_for(seq, 1000));
    }
    // And the records are all there, from disk.
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign("t", 0, kbus::OffsetSpec::beginning());
    const std::uint64_t total = 1 + 300 * rounds(2);
    std::uint64_t next = 0;
    for (int idle = 0; next < total && idle < 500;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            std::uint64_t seq = 0;
            REQUIRE(value_is_intact(m.value().str(), seq));
            REQUIRE(seq == next);
            REQUIRE(m.offset() == std::int64_t(next));
            ++next;
        }
    }
    CHECK(next == total);
}

TEST_CASE("a consumer SIGSTOPped past a ring lap goes on from disk, never seeing a torn record",
          "[fault][integration]") {
    DaemonFixture d("stopped");
    kbus::Client c(d.options());
    c.create_topic("t", 1, {{"ring.bytes", "65536"}, {"consumer.hold.timeout.ms", "200"}});
    const std::uint64_t stops = rounds(3), total = 400 * (stops + 1);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    // How far the consumer has got, for the test to let it catch up (back onto the ring).
    void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(shared != MAP_FAILED);
    auto* progress = new (shared) std::atomic<std::uint64_t>(0);
    // The consumer keeps copies of each batch and trusts them only once its next poll has
    // confirmed the batch was not invalidated (the contract: views live until the next poll,
    // and a batch held past the hold timeout is reported there).
    const pid_t reader = spawn([&] {
        kbus::Client rc(d.options());
        kbus::Consumer con(rc, {.wait = kbus::WaitMode::blocking, .max_poll_records = 50});
        con.assign("t", 0, kbus::OffsetSpec::beginning());
        const char b = 1;
        (void)!::write(ready[1], &b, 1);
        std::vector<std::pair<std::int64_t, std::string>> pending;
        std::uint64_t confirmed = 0, invalidated = 0, from_disk = 0;
        for (int idle = 0; confirmed < total && idle < 3000;) {
            try {
                const auto& batch = con.poll(10ms);
                for (const auto& [offset, value] : pending) {  // the previous batch held up
                    std::uint64_t seq = 0;
                    if (offset != std::int64_t(confirmed) || !value_is_intact(value, seq) ||
                        seq != confirmed)
                        return 3;
                    ++confirmed;
                }
                progress->store(confirmed, std::memory_order_relaxed);
                pending.clear();
                idle = batch.empty() ? idle + 1 : 0;
                for (const auto& m : batch) {
                    pending.emplace_back(m.offset(), std::string(m.value().str()));
                    from_disk += m.from_ring() ? 0 : 1;
                }
                // "Processing" the batch while holding it, so that a stop often lands here.
                for (const auto until = std::chrono::steady_clock::now() + 2ms;
                     std::chrono::steady_clock::now() < until;) {
                }
            } catch (const kbus::OffsetOutOfRange& e) {
                // The detach may have come after this poll released the previous batch (the
                // stop landed inside poll): that batch held up, and the resume offset is past it.
                for (const auto& [offset, value] : pending) {
                    if (e.code() != kbus::ErrorCode::batch_invalidated ||
                        offset >= e.resume_offset())
                        break;
                    std::uint64_t seq = 0;
                    if (offset != std::int64_t(confirmed) || !value_is_intact(value, seq) ||
                        seq != confirmed)
                        return 3;
                    ++confirmed;
                }
                if (e.code() != kbus::ErrorCode::batch_invalidated ||
                    e.resume_offset() != std::int64_t(confirmed)) {
                    std::fprintf(stderr,
                                 "stopped consumer: unexpected '%s' (resume at %lld, %llu "
                                 "confirmed)\n",
                                 e.what(), (long long)e.resume_offset(),
                                 (unsigned long long)confirmed);
                    return 4;
                }
                ++invalidated;
                pending.clear();
                con.seek("t", 0, kbus::OffsetSpec::at(e.resume_offset()));
            }
        }
        std::fprintf(stderr,
                     "stopped consumer: %llu records (%llu from disk), %llu batches invalidated\n",
                     (unsigned long long)confirmed, (unsigned long long)from_disk,
                     (unsigned long long)invalidated);
        if (from_disk == 0) return 6;  // it must have gone on from the log
        return confirmed == total ? 0 : 5;
    });
    char b;
    REQUIRE(::read(ready[0], &b, 1) == 1);
    kbus::Producer p(c, {.max_block = 20s});
    std::mt19937 rng(7);
    std::uint64_t seq = 0;
    auto send = [&](std::uint64_t n) {
        for (std::uint64_t end = seq + n; seq < end; ++seq)
            (void)p.send("t", nullptr, value_for(seq, 900 + seq % 200));
    };
    for (std::uint64_t s = 0; s < stops; ++s) {
        const std::uint64_t before = 50 + rng() % 150;
        send(before);
        ::kill(reader, SIGSTOP);
        send(200);  // ~3 laps while it is stopped: held back, then it is detached
        ::kill(reader, SIGCONT);
        send(200 - before);
        // Let it catch up (and so move back from the log onto the ring) before the next stop.
        for (int i = 0; i < 1000 && progress->load() + 10 < seq; ++i)
            std::this_thread::sleep_for(10ms);
    }
    send(total - seq);
    CHECK(exit_status(reader) == 0);
    ::munmap(shared, 4096);
}

namespace {

// Every record of partition 0 from the beginning: (offset, seq of a "live" record).
std::vector<std::pair<std::int64_t, std::uint64_t>> read_all(kbus::Client& c, const char* topic,
                                                             std::uint64_t until) {
    std::vector<std::pair<std::int64_t, std::uint64_t>> out;
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign(topic, 0, kbus::OffsetSpec::beginning());
    for (int idle = 0; out.size() < until && idle < 500;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            std::uint64_t seq = 0;
            REQUIRE(value_is_intact(m.value().str(), seq));
            out.emplace_back(m.offset(), seq);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("a clean stop soon after a producer died in its claim keeps everything behind it",
          "[fault]") {
    // A claim timeout far longer than the test: the stop comes before the claim is taken for dead.
    DaemonFixture d("stopclaim", {"--override", "kbus.claim.timeout.ms=600000"});
    const bool clients_stay = GENERATE(true, false);
    INFO((clients_stay ? "a client still maps the ring at the stop"
                       : "nobody maps the ring at the stop"));
    std::unique_ptr<kbus::Client> c = std::make_unique<kbus::Client>(d.options());
    c->create_topic("t", 1, {{"ring.bytes", "262144"}});
    const std::int64_t dead = dead_claim(d, "t");
    {
        kbus::Producer p(*c);
        for (std::uint64_t seq = 0; seq < 1000; ++seq)
            CHECK(p.send("t", "live", value_for(seq, 100)).offset == dead + 1 + std::int64_t(seq));
    }
    if (!clients_stay) c.reset();  // (a producer keeps its rings mapped, so it goes first)
    CHECK(d.stop() == 0);
    // A clean stop with nobody mapping the ring decides the claim is dead, at once, and says so.
    if (!clients_stay)
        CHECK(d.log_text().find("offsets " + std::to_string(dead) + ".." + std::to_string(dead) +
                                " were claimed but not committed") != std::string::npos);
    d.restart();
    if (clients_stay) {
        // The next daemon adopted the ring; its claim timeout is long, so go on with a short one.
        (void)end_child(d.pid, SIGTERM);
        c.reset();
        d.extra_args = {"--override", "kbus.claim.timeout.ms=200"};
        d.restart();
    }
    kbus::Client reader(d.options());
    CHECK(reader.describe_topic("t").partitions[0].high_watermark == dead + 1001);
    const auto records = read_all(reader, "t", 1000);
    REQUIRE(records.size() == 1000);
    for (std::uint64_t seq = 0; seq < 1000; ++seq) {
        CHECK(records[seq].first == dead + 1 + std::int64_t(seq));
        CHECK(records[seq].second == seq);
    }
    // And the next producer is given new offsets, never the old ones again.
    kbus::Producer next(reader);
    CHECK(next.send("t", "live", value_for(1000, 100)).offset == dead + 1001);
}

TEST_CASE("five producers killed in their claims at once cost their partition one timeout",
          "[fault]") {
    DaemonFixture d("fivedead", {"--override", "kbus.claim.timeout.ms=1000"});
    kbus::Client c(d.options());
    c.create_topic("t", 1, {{"ring.bytes", "262144"}});
    std::set<std::int64_t> dead;
    for (int i = 0; i < 5; ++i)
        dead.insert(dead_claim(d, "t"));
    const auto killed = std::chrono::steady_clock::now();
    kbus::Producer p(c);
    const std::int64_t sentinel = p.send("t", "live", value_for(0, 100)).offset;
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign("t", 0, kbus::OffsetSpec::beginning());
    bool reached = false;
    while (!reached && std::chrono::steady_clock::now() - killed < 20s)
        for (const auto& m : con.poll(50ms))
            reached = reached || m.offset() == sentinel;
    const auto stalled = std::chrono::steady_clock::now() - killed;
    REQUIRE(reached);
    // One timeout (1 s) and the spill's passes, not five: the old one-at-a-time repair took
    // five. Generous for a loaded machine, far below five timeouts (not judged under valgrind,
    // where the daemon runs tens of times slower).
    if (!DaemonFixture::under_valgrind()) CHECK(stalled < 3500ms);
    const std::string log = d.log_text();
    for (const std::int64_t o : dead)
        CHECK(log.find("offsets " + std::to_string(o)) != std::string::npos);
}

TEST_CASE("a producer stopped past the claim timeout is told its record became a gap", "[fault]") {
    DaemonFixture d("stopped", {"--override", "kbus.claim.timeout.ms=200"});
    kbus::Client c(d.options());
    c.create_topic("t", 1, {{"ring.bytes", "262144"}});
    int sync[2];
    REQUIRE(::pipe(sync) == 0);
    const pid_t slow = spawn([&] {
        kbus::Client sc(d.options());
        kbus::Producer p(sc);
        kbus::ProducerClaim claim = p.claim("t", "slow", 100);
        std::memset(claim.value().data(), 'y', 100);
        char ready = 1;
        (void)!::write(sync[1], &ready, 1);
        ::raise(SIGSTOP);  // stalled between claim and commit, longer than the timeout
        try {
            (void)p.commit(claim);
            return 2;  // told it was sent: wrong
        } catch (const kbus::Error& e) {
            return e.code() == kbus::ErrorCode::claim_aborted ? 0 : 3;
        }
    });
    char ready = 0;
    REQUIRE(::read(sync[0], &ready, 1) == 1);
    kbus::Producer p(c);
    (void)p.send("t", "live", value_for(0, 100));
    std::this_thread::sleep_for(1s);  // well past the timeout: the claim is repaired
    ::kill(slow, SIGCONT);
    CHECK(exit_status(slow) == 0);
    ::close(sync[0]);
    ::close(sync[1]);
}

TEST_CASE("a test killed outright takes its kbusd with it, and the bus's shared memory",
          "[fault]") {
    // The orphaned kbusd becomes our child, for us to reap and to read its exit status.
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int report[2];
    REQUIRE(::pipe(report) == 0);
    const std::string name = "orphan" + std::to_string(::getpid());
    const pid_t test = spawn([&] {
        DaemonFixture d(name);
        const std::string line = std::to_string(d.pid) + " " + d.bus + "\n";
        if (::write(report[1], line.data(), line.size()) != ssize_t(line.size())) return 1;
        for (;;)
            ::pause();  // until SIGKILLed, as by a CI time-out
    });
    ::close(report[1]);
    FILE* from_test = ::fdopen(report[0], "r");
    REQUIRE(from_test != nullptr);
    pid_t daemon = -1;
    char bus[128] = {};
    const int fields = std::fscanf(from_test, "%d %127s", &daemon, bus);
    std::fclose(from_test);
    REQUIRE(fields == 2);
    auto shm_left = [&] { return DaemonFixture::shared_memory_dirs_of(bus).size(); };
    REQUIRE(shm_left() > 0);
    kill_and_reap(test);
    int status = -1;
    bool reaped = false;
    for (int i = 0; i < 1000 && !reaped; ++i) {
        reaped = ::waitpid(daemon, &status, WNOHANG) == daemon;
        if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {  // leave nothing behind, even failing
        ::kill(daemon, SIGKILL);
        ::waitpid(daemon, &status, 0);
        for (const std::string& d : DaemonFixture::shared_memory_dirs_of(bus))
            std::filesystem::remove_all(d);
    }
    REQUIRE(reaped);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));  // SIGTERM: a clean stop
    CHECK(shm_left() == 0);
    std::filesystem::remove_all(DaemonFixture::dir_for(bus));  // left by the SIGKILLed test
}
