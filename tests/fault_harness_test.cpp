// Issue 17's fault harness, in the style of Jepsen's nemesis: for a bounded time, shared-memory
// and Kafka-protocol producers, a consumer, group members, a transactional producer and a writer
// to a compacted topic (each a child process) keep working
// while a seeded random mix of faults is injected: kbusd SIGTERMed or SIGKILLed and restarted,
// workers SIGKILLed (and replaced) or SIGSTOPped, producers killed inside a claim, the data disk
// filled and freed, bytes flipped in old segments. Then the whole history is checked
// (harness/checker.hpp, and harness/state_check.hpp for transactions and compaction: kbusd
// SIGKILLed mid-commit and mid-clean) and the faults and figures are printed.
//
// KBUS_HARNESS_SECONDS sets the duration (60 in CI; the soak, ctest -L soak, runs 1800), and
// KBUS_HARNESS_SEED the seed (printed by every run, and with every failure).
#include <sys/mman.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "daemon_fixture.hpp"
#include "harness/commit_check.hpp"
#include "harness/nemesis.hpp"
#include "harness/state_check.hpp"
#include "kafka_daemon.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace h = kbus::harness;

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::stoull(v) : fallback;
}

// The stop flag every forked worker watches, in memory shared with them.
struct StopFlag {
    void* memory = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    std::atomic<int>* flag = new (memory) std::atomic<int>(0);
    ~StopFlag() { ::munmap(memory, 4096); }
};

void print_figures(std::uint64_t seed, const std::map<std::string, int>& injected,
                   const h::Figures& figures) {
    int total = 0;
    std::printf("fault harness (seed %llu): faults injected\n", (unsigned long long)seed);
    for (const auto& [kind, n] : injected) {
        std::printf("  %6d  %s\n", n, kind.c_str());
        total += kind.find("skipped") == std::string::npos ? n : 0;
    }
    std::printf("  %6d  in all\nfault harness (seed %llu): figures\n", total,
                (unsigned long long)seed);
    for (const char* always :
         {"lost", "duplicated", "offsets reused", "lost to injected corruption"})
        std::printf(
            "  %10llu  %s\n",
            (unsigned long long)(figures.counts.count(always) ? figures.counts.at(always) : 0),
            always);
    for (const auto& [name, n] : figures.counts)
        if (name != "lost" && name != "duplicated" && name != "offsets reused" &&
            name != "lost to injected corruption")
            std::printf("  %10llu  %s\n", (unsigned long long)n, name.c_str());
    for (const std::string& f : figures.failures)
        std::printf("FAILURE (seed %llu): %s\n", (unsigned long long)seed, f.c_str());
    std::fflush(stdout);
}

// A failed run's evidence (kbusd's log, the histories, the workers' stderr and the data dir),
// copied where it outlives the fixture.
void keep_evidence(const DaemonFixture& d, std::uint64_t seed) {
    const std::string kept =
        fs::temp_directory_path() /
        ("kbus-harness-failed-" + std::to_string(seed) + "-" + std::to_string(::getpid()));
    fs::create_directories(kept);
    for (const char* what : {"kbusd.log", "history", "logs", "data"})
        fs::copy(d.dir + "/" + what, kept + "/" + what, fs::copy_options::recursive);
    std::printf("fault harness (seed %llu): evidence kept in %s\n", (unsigned long long)seed,
                kept.c_str());
}

}  // namespace

TEST_CASE("fault harness: random faults under load, then the whole history checked", "[harness]") {
    const std::uint64_t seed = env_or("KBUS_HARNESS_SEED", std::random_device{}());
    const auto duration = std::chrono::seconds(env_or("KBUS_HARNESS_SECONDS", 60));
    std::printf("fault harness: seed %llu for %lld s (KBUS_HARNESS_SEED=%llu repeats it)\n",
                (unsigned long long)seed, (long long)duration.count(), (unsigned long long)seed);
    std::fflush(stdout);
    INFO("seed " << seed);
    const std::string broker = "127.0.0.1:" + std::to_string(kbus::test::free_port());
    DaemonFixture d("hz-harness",
                    {"--override", "listeners=PLAINTEXT://" + broker, "--override",
                     "kbus.claim.timeout.ms=500", "--override", "log.cleaner.backoff.ms=100"});
    {
        kbus::Client c(d.options());
        c.create_topic("h", 3, {{"ring.bytes", "65536"}, {"segment.bytes", "131072"}});
        c.create_topic(h::transactional_topic, h::transactional_partitions,
                       {{"ring.bytes", "65536"}, {"segment.bytes", "65536"}});
        // Small segments, cleaned as soon as one closes: the cleaner runs all through the run.
        c.create_topic(h::compacted_topic, 1,
                       {{"ring.bytes", "65536"},
                        {"segment.bytes", "16384"},
                        {"cleanup.policy", "compact"},
                        {"min.cleanable.dirty.ratio", "0.01"},
                        {"delete.retention.ms", "3000"}});
    }
    REQUIRE(d.stop() == 0);
    h::DataDisk disk(d.data_dir());  // a tmpfs to fill (root only), mounted while kbusd is down
    if (!disk.mounted()) WARN("not root: no tmpfs data disk, so no disk-full faults");
    d.restart();
    fs::create_directories(d.dir + "/history");
    fs::create_directories(d.dir + "/logs");
    StopFlag stop;
    h::WorkerEnv base{d.options(), "h", "", "", seed, 200, stop.flag};
    h::WorkerPool pool(base, d.dir, KBUS_HARNESS_KAFKA_PRODUCER, broker);
    for (const h::Role r :
         {h::Role::shm_producer, h::Role::shm_producer, h::Role::kafka_producer, h::Role::consumer,
          h::Role::member, h::Role::member, h::Role::transactional, h::Role::compacting})
        pool.start(r);
    h::SegmentFlipper flipper(d.data_dir(), "h", 3);
    h::CommitWatch commits(base.group, "h");
    h::Nemesis nemesis(d, pool, disk, flipper, commits, seed);
    nemesis.run(duration);
    const std::vector<std::string> stalled = pool.stalled_readers(10s);

    stop.flag->store(1);
    const std::vector<std::string> hung = pool.finish(60s);
    commits.read(d);
    kbus::Client c(d.options());
    const h::FinalLog final = h::read_final_log(c, "h");
    const std::vector<h::HistoryLine> history = h::read_history(d.dir + "/history");
    h::Figures figures = h::Checker(history, final, nemesis.flipped()).check();
    h::check_commits(history, commits.readbacks(), figures);
    h::StateChecker(history, figures).check(c);
    for (const std::string& p : nemesis.problems())
        figures.fail("kbusd problems", p);
    for (const std::string& w : stalled)
        figures.fail("readers without progress for 10 s", w);
    for (const std::string& w : hung)
        figures.fail("workers hung at the end", w);
    for (const std::string& w : pool.failed())
        figures.fail("workers failed", w);
    if (!final.stalled.empty()) figures.fail("final read stalled", final.stalled);
    print_figures(seed, nemesis.injected(), figures);
    if (!figures.failures.empty()) keep_evidence(d, seed);
    CHECK(figures.failures.empty());
}
