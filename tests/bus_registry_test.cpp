// Bus, the registry of topics and their partitions, without a kbusd process: create and its
// refusals (names, partition counts, configs, the bus's limits), delete, alter, restore from the
// topic list (adopting rings left in shared memory), metadata with auto-create, partition lookups,
// bounds and the commit-slot hosts view. (tests/bus_test.cpp tests the same through a daemon.)
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "bus/spill_worker.hpp"
#include "kbus/ring_reader.hpp"
#include "spill/producer_gate.hpp"
#include "topics/topic_store.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
namespace fs = std::filesystem;

namespace {

std::set<std::string> sorted(std::vector<std::string> v) {
    return {v.begin(), v.end()};
}

// What the data dir holds besides the bus's own files (__kbus_*): partition directories.
std::set<std::string> partition_dirs(const TestBus& t) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(t.dir.path)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("__kbus", 0) != 0) out.insert(name);
    }
    return out;
}

std::string ring_name(const TestBus& t, std::uint64_t topic_id, std::int32_t p) {
    return t.shm.prefix + "/t" + std::to_string(topic_id) + "." + std::to_string(p);
}

void drain(bus::Partition& p, TestBus& t) {
    REQUIRE(bus::SpillWorker::drain(p, t.log.sink()));
}

}  // namespace

// --- create ----------------------------------------------------------------------------------

TEST_CASE("create makes a ring per partition in shared memory and a log directory per partition",
          "[bus-registry]") {
    TestBus t("create");
    const protocol::TopicMetadata m = t.create("gps", 3);
    CHECK(m.name == "gps");
    CHECK(m.partitions == 3);
    CHECK(m.topic_id == 1);
    CHECK(m.ring_bytes == 64 * 1024);
    CHECK(m.max_message_bytes == 32 * 1024);  // clamped to half the ring
    CHECK(m.timestamp_type == 0);
    CHECK(m.hold_timeout_ms == 1000);
    CHECK(m.ring_path_prefix == t.shm.prefix + "/t1");
    CHECK(sorted(t.shm.objects()) ==
          std::set<std::string>{ring_name(t, 1, 0), ring_name(t, 1, 1), ring_name(t, 1, 2)});
    CHECK(partition_dirs(t) == std::set<std::string>{"gps-0", "gps-1", "gps-2"});
    CHECK(t.bus->names() == std::vector<std::string>{"gps"});
    for (std::int32_t p = 0; p < 3; ++p) {
        const auto part = t.bus->partition("gps", p);
        CHECK(part->ring_name() == ring_name(t, 1, p));
        CHECK(part->ring().capacity() == 64 * 1024);
        CHECK(part->ring().header().info.partition == std::uint32_t(p));
        CHECK(part->ring().header().info.topic_id == 1);
        CHECK(part->high_watermark() == 0);
    }
    // Stored in the topic list.
    const topics::TopicList list = topics::load_topics(t.dir.path);
    REQUIRE(list.topics.size() == 1);
    CHECK(list.topics[0].name == "gps");
    CHECK(list.topics[0].id == 1);
    CHECK(list.topics[0].partitions == 3);
    CHECK(list.next_id == 2);

    // A topic's own settings apply to it alone.
    const protocol::TopicMetadata big = t.create("big", 1,
                                                 {{"ring.bytes", "131072"},
                                                  {"message.timestamp.type", "LogAppendTime"},
                                                  {"retention.ms", "5000"}});
    CHECK(big.topic_id == 2);
    CHECK(big.ring_bytes == 128 * 1024);
    CHECK(big.timestamp_type == 1);
    CHECK(t.bus->partition("big", 0)->ring().capacity() == 128 * 1024);
    CHECK(t.bus->config_of("big").retention_ms == 5000);
    CHECK(t.bus->config_of("gps").retention_ms == config::TopicConfig{}.retention_ms);
    CHECK(t.bus->metadata("big", false).config ==
          std::vector<protocol::Setting>{{"ring.bytes", "131072"},
                                         {"message.timestamp.type", "LogAppendTime"},
                                         {"retention.ms", "5000"}});
}

TEST_CASE("create refuses a bad name, partition count or config and leaves nothing behind",
          "[bus-registry]") {
    TestBus t("refuse");
    struct Bad {
        protocol::CreateTopicRequest request;
        ErrorCode code;
    };
    const std::vector<Bad> bad{
        {{"", 1, {}}, ErrorCode::invalid_argument},
        {{"a b", 1, {}}, ErrorCode::invalid_argument},
        {{".", 1, {}}, ErrorCode::invalid_argument},
        {{"..", 1, {}}, ErrorCode::invalid_argument},
        {{"../escape", 1, {}}, ErrorCode::invalid_argument},
        {{"a/b", 1, {}}, ErrorCode::invalid_argument},
        {{std::string(250, 'n'), 1, {}}, ErrorCode::invalid_argument},
        {{"t", 0, {}}, ErrorCode::invalid_argument},
        {{"t", -1, {}}, ErrorCode::invalid_argument},
        {{"t", 10001, {}}, ErrorCode::invalid_argument},
        {{"t", 1, {{"no.such.key", "1"}}}, ErrorCode::invalid_argument},
        {{"t", 1, {{"ring.bytes", "1000"}}}, ErrorCode::invalid_argument},
        {{"t", 1, {{"ring.bytes", "100000"}}}, ErrorCode::invalid_argument},  // no power of two
        {{"t", 1, {{"max.message.bytes", "40000"}}}, ErrorCode::invalid_argument},  // > ring/2
        {{"t", 1, {{"retention.ms", "soon"}}}, ErrorCode::invalid_argument},
        {{"t", 1, {{"retention.ms", "1000"}, {"segment.bytes", "1"}}}, ErrorCode::invalid_argument},
    };
    for (const Bad& b : bad) {
        INFO("topic '" << b.request.name << "', " << b.request.partitions << " partitions");
        CHECK(code_of([&] { (void)t.bus->create(b.request); }) == b.code);
        CHECK(code_of([&] { t.bus->check_new(b.request); }) == b.code);
        CHECK(t.shm.objects().empty());
        CHECK(partition_dirs(t).empty());
        CHECK(t.bus->names().empty());
    }
    CHECK_FALSE(fs::exists(t.dir.path + "/../escape-0"));
    // Nothing of them was taken: not even a topic id.
    CHECK(t.create("t").topic_id == 1);
}

TEST_CASE("a topic whose rings cannot be made leaves nothing behind, and its name free",
          "[bus-registry]") {
    TestBus t("no-room");
    // Files may not grow past a page: creating a ring fails as on a full /dev/shm, after the
    // partition's log directory was made.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit tight = old;
    tight.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    const ErrorCode code = code_of([&] { t.create("x", 2); });
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(code == ErrorCode::resource_exhausted);
    CHECK(t.shm.objects().empty());
    CHECK(partition_dirs(t).empty());
    CHECK(t.bus->names().empty());
    CHECK(t.create("x", 2).partitions == 2);
}

TEST_CASE("creating an existing topic is refused with topic_exists and leaves it untouched",
          "[bus-registry]") {
    TestBus t("exists");
    t.create("t", 2);
    const auto p = t.bus->partition("t", 0);
    produce(*p, 3);
    CHECK(code_of([&] { t.create("t", 1); }) == ErrorCode::topic_exists);
    CHECK(code_of([&] { t.bus->check_new({"t", 1, {}}); }) == ErrorCode::topic_exists);
    CHECK(t.bus->metadata("t", false).partitions == 2);
    CHECK(t.bus->partition("t", 0) == p);
    CHECK(p->high_watermark() == 3);
    CHECK(t.shm.objects().size() == 2);
}

TEST_CASE("only one of two racing creates of a name succeeds", "[bus-registry]") {
    TestBus t("race");
    std::atomic<int> created{0}, refused{0};
    auto create = [&] {
        try {
            t.create("t", 4);
            ++created;
        } catch (const Error& e) {
            if (e.code() == ErrorCode::topic_exists) ++refused;
        }
    };
    std::thread a(create), b(create);
    a.join();
    b.join();
    CHECK(created == 1);
    CHECK(refused == 1);
    CHECK(t.shm.objects().size() == 4);
    CHECK(t.bus->names() == std::vector<std::string>{"t"});
}

TEST_CASE("kbus.max.topics refuses a topic beyond it, and a deleted topic makes room",
          "[bus-registry]") {
    config::BrokerConfig b = small_broker();
    b.max_topics = 2;
    TestBus t("max-topics", b);
    t.create("a");
    t.create("b");
    try {
        t.create("c");
        FAIL("a third topic was created");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::resource_exhausted);
        CHECK(std::string(e.what()).find("kbus.max.topics") != std::string::npos);
    }
    CHECK(code_of([&] { t.bus->check_new({"c", 1, {}}); }) == ErrorCode::resource_exhausted);
    CHECK(t.shm.objects().size() == 2);
    CHECK(partition_dirs(t) == std::set<std::string>{"a-0", "b-0"});
    t.bus->remove("a");
    CHECK(t.create("c").name == "c");
}

TEST_CASE("kbus.max.partitions counts the partitions of every topic", "[bus-registry]") {
    config::BrokerConfig b = small_broker();
    b.max_partitions = 3;
    TestBus t("max-partitions", b);
    t.create("a", 2);
    try {
        t.create("b", 2);
        FAIL("a topic passing kbus.max.partitions was created");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::resource_exhausted);
        CHECK(std::string(e.what()).find("kbus.max.partitions") != std::string::npos);
    }
    CHECK(t.shm.objects().size() == 2);
    CHECK(partition_dirs(t) == std::set<std::string>{"a-0", "a-1"});
    CHECK(t.create("b", 1).partitions == 1);
}

TEST_CASE("kbus.max.shared.memory.bytes counts each ring's header, and a reserved ring whole",
          "[bus-registry]") {
    config::BrokerConfig b = small_broker();
    const ring::RingLayout layout = ring::ring_layout(64 * 1024);
    const std::uint64_t header = layout.journal_offset, ring = layout.total_bytes;
    b.max_shared_memory_bytes = std::int64_t(2 * ring + 3 * header);
    TestBus t("max-shm", b);
    t.create("a", 4);  // four headers: a topic of many partitions costs little until used
    CHECK(t.bus->ring_memory_in_use() == 4 * header);
    t.bus->reserve_ring(*t.bus->partition("a", 0));
    t.bus->reserve_ring(*t.bus->partition("a", 0));  // once is enough
    t.bus->reserve_ring(*t.bus->partition("a", 1));
    CHECK(t.bus->ring_memory_in_use() == 2 * ring + 2 * header);
    try {
        t.bus->reserve_ring(*t.bus->partition("a", 2));
        FAIL("a ring passing kbus.max.shared.memory.bytes was reserved");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::resource_exhausted);
        CHECK(std::string(e.what()).find("kbus.max.shared.memory.bytes") != std::string::npos);
        CHECK(std::string(e.what()).find("a-2") != std::string::npos);
    }
    CHECK_FALSE(t.bus->partition("a", 2)->ring_reserved());
    CHECK(ring::load_tail(t.bus->partition("a", 2)->ring().header()) == 0);
    // Producers get no room on a ring that is not reserved.
    CHECK(t.bus->partition("a", 2)->ring().header().limit.producer_limit.load() == 0);
    CHECK(t.bus->partition("a", 0)->ring().header().limit.producer_limit.load() == 64 * 1024);
    // A header more fits; then nothing does.
    t.create("b", 1);
    CHECK(code_of([&] { t.create("c", 1); }) == ErrorCode::resource_exhausted);
    CHECK(code_of([&] { t.bus->check_new({"c", 1, {}}); }) == ErrorCode::resource_exhausted);
    CHECK(t.shm.objects().size() == 5);
    t.bus->remove("a");
    CHECK_NOTHROW(t.bus->reserve_ring(*t.bus->partition("b", 0)));
    CHECK_NOTHROW(t.create("c", 1));
}

TEST_CASE("a new ring's journal and data are a hole in shared memory until reserved",
          "[bus-registry]") {
    TestBus t("lazy-ring");
    t.create("a", 2, {{"ring.bytes", "1048576"}});
    const ring::RingLayout layout = ring::ring_layout(1 << 20);
    auto allocated = [&](std::int32_t p) {
        struct stat st {};
        REQUIRE(::stat(ring_name(t, 1, p).c_str(), &st) == 0);
        CHECK(std::uint64_t(st.st_size) == layout.total_bytes);
        return std::uint64_t(st.st_blocks) * 512;
    };
    CHECK(allocated(0) == layout.journal_offset);
    t.bus->reserve_ring(*t.bus->partition("a", 0));
    CHECK(allocated(0) == layout.total_bytes);
    CHECK(allocated(1) == layout.journal_offset);
    // A restart adopts both as they are: the reserved one stays reserved, the other not.
    produce(*t.bus->partition("a", 0), 3);
    t.open(true);
    CHECK(t.bus->partition("a", 0)->ring_reserved());
    CHECK_FALSE(t.bus->partition("a", 1)->ring_reserved());
    CHECK(t.bus->partition("a", 0)->high_watermark() == 3);
    // A hole punched into a ring producers may write (by someone else, between two daemons) is
    // allocated again at the next start, so no producer writes into it.
    {
        const int fd = ::open(ring_name(t, 1, 0).c_str(), O_RDWR);
        REQUIRE(fd >= 0);
        CHECK(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          off_t(layout.data_offset + 65536), 65536) == 0);
        ::close(fd);
    }
    CHECK(allocated(0) < layout.total_bytes);
    t.open(true);
    CHECK(allocated(0) == layout.total_bytes);
    CHECK(t.bus->partition("a", 0)->ring_reserved());
    produce(*t.bus->partition("a", 0), 2);
    CHECK(t.bus->partition("a", 0)->high_watermark() == 5);
}

TEST_CASE("check_new passes a topic that create would make, and makes nothing", "[bus-registry]") {
    TestBus t("check-new");
    CHECK_NOTHROW(t.bus->check_new({"fine", 3, {{"retention.ms", "100"}}}));
    CHECK(t.shm.objects().empty());
    CHECK(partition_dirs(t).empty());
    CHECK(t.bus->names().empty());
}

TEST_CASE("a directory left by an earlier topic of the same name leaks nothing into a new one",
          "[bus-registry]") {
    TestBus t("stale-dir");
    t.create("src");
    produce(*t.bus->partition("src", 0), 5);
    drain(*t.bus->partition("src", 0), t);
    REQUIRE(t.bus->partition("src", 0)->log().log_end_offset() == 5);
    fs::copy(t.dir.path + "/src-0", t.dir.path + "/x-0");  // as if left by a topic "x"
    t.create("x");
    const auto p = t.bus->partition("x", 0);
    CHECK(p->log().log_end_offset() == 0);
    CHECK(p->high_watermark() == 0);
}

// --- delete ----------------------------------------------------------------------------------

TEST_CASE("delete marks the rings deleted, unlinks them, removes the directories and reports it",
          "[bus-registry]") {
    TestBus t("delete");
    std::vector<std::string> deleted;
    t.bus->on_topic_deleted([&](const std::string& name) { deleted.push_back(name); });
    t.create("t", 2);
    t.create("keep");
    const auto p = t.bus->partition("t", 0);
    produce(*p, 3);
    drain(*p, t);

    t.bus->remove("t");
    CHECK(deleted == std::vector<std::string>{"t"});
    CHECK(p->ring().header().claim.state.load() == std::uint32_t(ring::RingState::deleted));
    CHECK(t.shm.objects() == std::vector<std::string>{ring_name(t, 2, 0)});  // keep's only
    CHECK(partition_dirs(t) == std::set<std::string>{"keep-0"});
    CHECK(t.bus->names() == std::vector<std::string>{"keep"});
    CHECK(t.bus->partitions().size() == 1);
    CHECK(code_of([&] { (void)t.bus->partition("t", 0); }) == ErrorCode::unknown_topic);
    CHECK(code_of([&] { (void)t.bus->partition(std::uint64_t(1), 0); }) ==
          ErrorCode::unknown_topic);
    CHECK(code_of([&] { (void)t.bus->metadata("t", false); }) == ErrorCode::unknown_topic);
    CHECK(code_of([&] { t.bus->remove("t"); }) == ErrorCode::unknown_topic);
    CHECK(deleted.size() == 1);

    // Producers stop: the ring says deleted.
    ring::RingWriter w(p->ring());
    ring::RingClaim c;
    CHECK(w.try_claim(ring::payload_layout(-1, 1, 0), c) == ring::ClaimStatus::deleted);
    // Whoever still holds the partition can use it: the mapping and the state stay valid.
    CHECK(p->high_watermark() == 3);
    CHECK(p->state().high_watermark == 3);
    CHECK(p->gate().attach(1, -1, 1).offset == 1);
    {
        std::lock_guard lock(p->spill_mutex());
        CHECK(p->retired());  // the spill leaves it alone
    }
    // The topic list no longer has it.
    t.open(true);
    CHECK(t.bus->names() == std::vector<std::string>{"keep"});
}

TEST_CASE("a deleted topic's name can be used again, with a new id and nothing of the old",
          "[bus-registry]") {
    TestBus t("recreate");
    t.create("t");
    produce(*t.bus->partition("t", 0), 4);
    drain(*t.bus->partition("t", 0), t);
    t.bus->remove("t");
    const protocol::TopicMetadata again = t.create("t");
    CHECK(again.topic_id == 2);
    const auto p = t.bus->partition("t", 0);
    CHECK(p->high_watermark() == 0);
    CHECK(p->log().log_end_offset() == 0);
    CHECK(t.bus->partition(std::uint64_t(2), 0) == p);
}

// --- alter -----------------------------------------------------------------------------------

TEST_CASE("alter changes a topic's settings and persists them", "[bus-registry]") {
    TestBus t("alter");
    t.create("t", 2, {{"retention.ms", "1000"}});
    t.bus->alter("t", {{"retention.ms", "5000"},
                       {"segment.bytes", "1048576"},
                       {"consumer.hold.timeout.ms", "2500"}});
    CHECK(t.bus->config_of("t").retention_ms == 5000);
    CHECK(t.bus->config_of("t").segment_bytes == 1048576);
    const protocol::TopicMetadata m = t.bus->metadata("t", false);
    CHECK(m.hold_timeout_ms == 2500);
    // Each key once, with its latest value.
    CHECK(std::count_if(m.config.begin(), m.config.end(),
                        [](const auto& kv) { return kv.first == "retention.ms"; }) == 1);
    CHECK(std::find(m.config.begin(), m.config.end(), protocol::Setting{"retention.ms", "5000"}) !=
          m.config.end());

    t.open(true);  // a restarted daemon reads the topic list
    CHECK(t.bus->config_of("t").retention_ms == 5000);
    CHECK(t.bus->config_of("t").segment_bytes == 1048576);
    CHECK(t.bus->metadata("t", false).hold_timeout_ms == 2500);
}

TEST_CASE("alter refuses keys fixed at creation, bad values and unknown topics, changing nothing",
          "[bus-registry]") {
    TestBus t("alter-refused");
    t.create("t", 1, {{"retention.ms", "1000"}});
    for (const char* fixed : {"ring.bytes", "max.message.bytes", "message.timestamp.type"}) {
        INFO(fixed);
        CHECK(code_of([&] {
                  t.bus->alter("t", {{fixed, "131072"}});
              }) == ErrorCode::invalid_argument);
    }
    // All or nothing: a bad value refuses the good one beside it.
    CHECK(code_of([&] {
              t.bus->alter("t", {{"retention.ms", "7"}, {"segment.bytes", "many"}});
          }) == ErrorCode::invalid_argument);
    CHECK(code_of([&] {
              t.bus->alter("t", {{"retention.ms", "7"}, {"no.such.key", "1"}});
          }) == ErrorCode::invalid_argument);
    CHECK(t.bus->config_of("t").retention_ms == 1000);
    CHECK(t.bus->config_of("t").ring_bytes == 64 * 1024);
    CHECK(t.bus->metadata("t", false).config ==
          std::vector<protocol::Setting>{{"retention.ms", "1000"}});
    CHECK(code_of([&] {
              t.bus->alter("nope", {{"retention.ms", "7"}});
          }) == ErrorCode::unknown_topic);
}

// --- restore ---------------------------------------------------------------------------------

TEST_CASE(
    "a bus over the same data dir restores every topic and adopts the rings left in shared "
    "memory with their unspilled records",
    "[bus-registry]") {
    TestBus t("restore");
    t.create("a", 2, {{"retention.ms", "60000"}});
    t.create("b");
    produce(*t.bus->partition("a", 1), 5);  // on the ring only: never spilled
    const auto reader = t.bus->partition("a", 1)->gate().attach(2, -1, 7);

    t.open(true);  // the daemon restarted (crashed: nothing was drained)
    CHECK(t.bus->names() == std::vector<std::string>{"a", "b"});
    CHECK(t.bus->metadata("a", false).topic_id == 1);
    CHECK(t.bus->metadata("a", false).partitions == 2);
    CHECK(t.bus->metadata("b", false).topic_id == 2);
    CHECK(t.bus->config_of("a").retention_ms == 60000);
    const auto p = t.bus->partition("a", 1);
    CHECK(p->high_watermark() == 5);
    CHECK(t.log.count("INFO", "re-attached ring " + ring_name(t, 1, 1)) == 1);
    // The old run's reader stays tethered, as an orphan any client may adopt.
    const ring::ReaderSlot& slot = p->ring().header().readers[reader.slot];
    CHECK(slot.state.load() == std::uint32_t(ring::ReaderSlotState::attached));
    CHECK(slot.owner_connection == spill::orphan_owner);
    // The records left on the ring reach the log.
    CHECK(p->log().log_end_offset() == 0);
    drain(*p, t);
    CHECK(p->log().log_end_offset() == 5);
    // Topic ids go on from where the list left them.
    CHECK(t.create("c").topic_id == 3);
}

TEST_CASE("a restored partition whose ring is gone gets a fresh one from its log end",
          "[bus-registry]") {
    TestBus t("restore-fresh");
    t.create("t");
    produce(*t.bus->partition("t", 0), 4);
    drain(*t.bus->partition("t", 0), t);
    t.bus.reset();
    t.shm.remove_all();  // a reboot: shared memory is gone, the disk is not
    t.open(true);
    const auto p = t.bus->partition("t", 0);
    CHECK(p->high_watermark() == 4);
    CHECK(p->log().log_end_offset() == 4);
    CHECK(t.log.count("INFO", "re-attached ring") == 0);
    produce(*p, 1);
    ring::Cursor c;
    REQUIRE(ring::RingReader(p->ring()).locate(4, c));  // the next record is offset 4
}

TEST_CASE("a ring an older kbus left (another layout version) is replaced, and the loss named",
          "[bus-registry]") {
    TestBus t("restore-old-layout");
    t.create("t");
    produce(*t.bus->partition("t", 0), 3);  // on the ring only: never spilled
    // What a kbusd of an earlier ring layout would have left: same magic, older version. A client
    // of that kbus still maps it (held here past the restart).
    const auto old = t.bus->partition("t", 0);
    old->ring().header().info.layout_version = ring::ring_layout_version - 1;
    t.open(true);
    const auto p = t.bus->partition("t", 0);
    CHECK(t.log.count("INFO", "re-attached ring") == 0);
    CHECK(t.log.count("WARN", "replaced ring " + ring_name(t, 1, 0) + " of layout " +
                                  std::to_string(ring::ring_layout_version - 1)) == 1);
    CHECK(t.log.count("WARN", "offsets 0 to 2 it held were not on disk and are lost") == 1);
    // The old ring's clients are refused from now on, not left writing where nobody reads.
    CHECK(old->ring().header().claim.state.load() == std::uint32_t(ring::RingState::deleted));
    ring::RingWriter stale(old->ring());
    ring::RingClaim c;
    CHECK(stale.try_claim(ring::payload_layout(-1, 1, 0), c) == ring::ClaimStatus::deleted);
    CHECK(p->high_watermark() == 0);  // a fresh ring from the log's end: the three are gone
    CHECK(p->ring().header().info.layout_version == ring::ring_layout_version);
    produce(*p, 1);
    ring::Cursor cur;
    REQUIRE(ring::RingReader(p->ring()).locate(0, cur));
}

TEST_CASE("a replaced ring of an older layout whose records were all on disk loses nothing",
          "[bus-registry]") {
    TestBus t("restore-old-layout-drained");
    t.create("t");
    produce(*t.bus->partition("t", 0), 3);
    drain(*t.bus->partition("t", 0), t);
    t.bus->partition("t", 0)->ring().header().info.layout_version = ring::ring_layout_version - 1;
    t.open(true);
    CHECK(t.log.count("INFO", "replaced ring " + ring_name(t, 1, 0)) == 1);
    CHECK(t.log.count("INFO", "every record it held is on disk") == 1);
    CHECK(t.log.count("WARN", "replaced ring") == 0);
    CHECK(t.bus->partition("t", 0)->high_watermark() == 3);
}

TEST_CASE("a restore with no topic list has no topics", "[bus-registry]") {
    TestBus t("restore-empty");
    t.open(true);
    CHECK(t.bus->names().empty());
    CHECK(t.create("t").topic_id == 1);
}

// --- lookups ---------------------------------------------------------------------------------

TEST_CASE("metadata creates a missing topic only with auto.create.topics.enable",
          "[bus-registry]") {
    SECTION("off") {
        TestBus t("auto-off");
        CHECK(code_of([&] { (void)t.bus->metadata("auto", true); }) == ErrorCode::unknown_topic);
        CHECK(t.bus->names().empty());
        CHECK(t.shm.objects().empty());
    }
    SECTION("on") {
        config::BrokerConfig b = small_broker();
        b.auto_create_topics = true;
        b.num_partitions = 2;
        TestBus t("auto-on", b);
        const protocol::TopicMetadata m = t.bus->metadata("auto", true);
        CHECK(m.partitions == 2);
        CHECK(t.bus->names() == std::vector<std::string>{"auto"});
        CHECK(t.bus->metadata("auto", true).topic_id == m.topic_id);  // once
        // Only lookups that ask for it create.
        CHECK(code_of([&] { (void)t.bus->metadata("plain", false); }) == ErrorCode::unknown_topic);
        // A name no topic may have is refused, not created.
        CHECK(code_of([&] { (void)t.bus->metadata("bad name", true); }) ==
              ErrorCode::invalid_argument);
        CHECK(t.bus->names() == std::vector<std::string>{"auto"});
    }
}

TEST_CASE("partitions are found by topic name or id, or refused with the reason",
          "[bus-registry]") {
    TestBus t("lookup");
    t.create("a");
    const protocol::TopicMetadata m = t.create("t", 2);
    const auto p1 = t.bus->partition("t", 1);
    CHECK(p1->topic() == "t");
    CHECK(p1->index() == 1);
    CHECK(t.bus->partition(m.topic_id, 1) == p1);
    CHECK(code_of([&] { (void)t.bus->partition("t", 2); }) == ErrorCode::partition_out_of_range);
    CHECK(code_of([&] { (void)t.bus->partition("t", -1); }) == ErrorCode::partition_out_of_range);
    CHECK(code_of([&] { (void)t.bus->partition("u", 0); }) == ErrorCode::unknown_topic);
    CHECK(code_of([&] { (void)t.bus->partition(m.topic_id, 2); }) ==
          ErrorCode::partition_out_of_range);
    CHECK(code_of([&] { (void)t.bus->partition(m.topic_id, -1); }) ==
          ErrorCode::partition_out_of_range);
    CHECK(code_of([&] { (void)t.bus->partition(std::uint64_t(99), 0); }) ==
          ErrorCode::unknown_topic);
    CHECK(code_of([&] { (void)t.bus->config_of("u"); }) == ErrorCode::unknown_topic);
    CHECK(code_of([&] { (void)t.bus->describe("u"); }) == ErrorCode::unknown_topic);
    CHECK(t.bus->partitions().size() == 3);
}

TEST_CASE("describe gives each partition's offsets, ring and readers", "[bus-registry]") {
    TestBus t("describe");
    t.create("t", 2);
    const auto p = t.bus->partition("t", 1);
    produce(*p, 6);
    drain(*p, t);
    (void)p->gate().attach(2, -1, 1);
    const protocol::TopicDescription d = t.bus->describe("t");
    CHECK(d.metadata.name == "t");
    REQUIRE(d.partitions.size() == 2);
    CHECK(d.partitions[0].high_watermark == 0);
    CHECK(d.partitions[0].attached_readers == 0);
    CHECK(d.partitions[1].partition == 1);
    CHECK(d.partitions[1].high_watermark == 6);
    CHECK(d.partitions[1].spill_offset == 6);
    CHECK(d.partitions[1].ring_bytes == 64 * 1024);
    CHECK(d.partitions[1].attached_readers == 1);
}

TEST_CASE("bounds give a partition's log start and high watermark, nothing for unknown ones",
          "[bus-registry]") {
    TestBus t("bounds");
    t.create("t", 2);
    produce(*t.bus->partition("t", 1), 3);
    const auto b = t.bus->bounds({"t", 1});
    REQUIRE(b);
    CHECK(b->log_start == 0);
    CHECK(b->high_watermark == 3);
    CHECK(t.bus->bounds({"t", 0})->high_watermark == 0);
    CHECK_FALSE(t.bus->bounds({"t", 2}));
    CHECK_FALSE(t.bus->bounds({"t", -1}));
    CHECK_FALSE(t.bus->bounds({"u", 0}));
}

TEST_CASE("the bus hosts commit slots in every partition's ring", "[bus-registry]") {
    TestBus t("slot-hosts");
    t.create("a", 2);
    t.create("b");
    std::set<group::TopicPartition> seen;
    t.bus->for_each([&](groups::SlotHost& host) {
        const auto p = t.bus->partition(host.tp.topic, host.tp.partition);
        CHECK(host.header == &p->ring().header());
        CHECK(host.persisted == &p->persisted_commits);
        CHECK(host.owner != nullptr);
        seen.insert(host.tp);
    });
    CHECK(seen == std::set<group::TopicPartition>{{"a", 0}, {"a", 1}, {"b", 0}});
    const auto found = t.bus->find({"a", 1});
    REQUIRE(found);
    CHECK(found->header == &t.bus->partition("a", 1)->ring().header());
    CHECK_FALSE(t.bus->find({"a", 2}));
    CHECK_FALSE(t.bus->find({"zz", 0}));

    // A host keeps its ring alive after the topic is deleted.
    groups::SlotHost held = *t.bus->find({"b", 0});
    t.bus->remove("b");
    CHECK(held.header->info.topic_id == 2);
    CHECK_FALSE(t.bus->find({"b", 0}));
}

TEST_CASE("creates racing for the last room in kbus.max.shared.memory.bytes never pass it together",
          "[bus-registry]") {
    config::BrokerConfig b = small_broker();
    // Room for four rings' headers (what a topic takes until a producer uses it).
    const std::uint64_t header = ring::ring_layout(64 * 1024).journal_offset;
    b.max_shared_memory_bytes = std::int64_t(4 * header);
    TestBus t("shm-race", b);
    std::atomic<int> created{0}, refused{0};
    std::atomic<bool> go{false};
    // Eight creates at once: while some are being built (reserved, not yet topics), the others
    // must count the headers reserved for them.
    std::vector<std::jthread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            while (!go)
                std::this_thread::yield();
            try {
                t.create("t" + std::to_string(i));
                ++created;
            } catch (const Error& e) {
                if (e.code() == ErrorCode::resource_exhausted) ++refused;
            }
        });
    go = true;
    threads.clear();
    CHECK(created == 4);
    CHECK(refused == 4);
    CHECK(t.shm.objects().size() == 4);
}

TEST_CASE("add_partitions grows a topic durably, within the limits, and never shrinks it",
          "[bus-registry]") {
    TestBus t("grow");
    t.create("g", 2);
    CHECK(code_of([&] { (void)t.bus->add_partitions("g", 2, false); }) ==
          ErrorCode::invalid_argument);
    CHECK(t.bus->add_partitions("g", 4, true).partitions == 2);  // validate only
    CHECK(t.bus->add_partitions("g", 4, false).partitions == 4);
    produce(*t.bus->partition("g", 3), 3);
    CHECK(t.bus->describe("g").partitions.size() == 4);
    CHECK(code_of([&] { (void)t.bus->add_partitions("nope", 4, false); }) ==
          ErrorCode::unknown_topic);
    t.broker.max_partitions = 5;
    t.open(true);
    CHECK(t.bus->metadata("g", false).partitions == 4);  // restored with its four
    CHECK(code_of([&] { (void)t.bus->add_partitions("g", 6, false); }) ==
          ErrorCode::resource_exhausted);
    CHECK(t.bus->metadata("g", false).partitions == 4);
}

TEST_CASE("replace_config makes the overrides exactly the ones given", "[bus-registry]") {
    TestBus t("replace-config");
    t.create("c", 1, {{"retention.ms", "1000"}, {"ring.bytes", "65536"}});
    t.bus->replace_config("c", {{"segment.bytes", "100000"}}, false);
    auto overrides = t.bus->metadata("c", false).config;
    std::sort(overrides.begin(), overrides.end());
    CHECK(overrides ==
          std::vector<protocol::Setting>{{"ring.bytes", "65536"}, {"segment.bytes", "100000"}});
    CHECK(t.bus->config_of("c").retention_ms == t.broker.topic_defaults.retention_ms);
    CHECK(t.bus->config_of("c").segment_bytes == 100000);
    // A fixed setting keeps its value; naming it with another is refused, and nothing changes.
    CHECK(code_of([&] {
              t.bus->replace_config("c", {{"ring.bytes", "131072"}}, false);
          }) == ErrorCode::invalid_argument);
    CHECK(code_of([&] {
              t.bus->replace_config("c", {{"retention.ms", "x"}}, false);
          }) == ErrorCode::invalid_argument);
    t.bus->replace_config("c", {{"retention.ms", "5"}}, true);  // validate only
    CHECK(t.bus->config_of("c").segment_bytes == 100000);
    CHECK(t.bus->config_of("c").retention_ms == t.broker.topic_defaults.retention_ms);
}

TEST_CASE("a growth that fails part-way leaves nothing of itself behind", "[bus-registry]") {
    TestBus t("grow-fails");
    const auto m = t.create("g", 1);
    // A directory where partition 5's ring goes: partitions 1-4 are built (rings and
    // directories), then the fifth cannot be. (An fd limit did this before, but a sanitizer's
    // own checks need file descriptors too, and failed at the limit instead.)
    const std::string blocker = ring_name(t, m.topic_id, 5);
    REQUIRE(std::filesystem::create_directory(blocker));
    const ErrorCode code = code_of([&] { (void)t.bus->add_partitions("g", 40, false); });
    std::filesystem::remove(blocker);
    CHECK(code == ErrorCode::resource_exhausted);
    CHECK(t.bus->metadata("g", false).partitions == 1);
    CHECK(t.shm.objects().size() == 1);  // the first partition's ring only
    CHECK(partition_dirs(t).size() == 1);
    CHECK(t.log.count("WARN", "cannot add partitions to 'g'") == 1);
    CHECK(t.bus->add_partitions("g", 3, false).partitions == 3);
}

TEST_CASE("a topic that would run kbusd out of file descriptors is refused whole, upfront",
          "[bus-registry]") {
    TestBus t("fd-limit");
    std::size_t open_now = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++open_now;
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit tight = old;
    tight.rlim_cur = open_now + 400;  // room for the refusal's own work, not for 200 partitions
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    std::string message;
    try {
        t.create("wide", 200);
    } catch (const Error& e) {
        message = e.what();
    }
    const ErrorCode grow = code_of([&] {
        t.create("g", 1);
        (void)t.bus->add_partitions("g", 201, false);
    });
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK(message.find("need 200 more open files") != std::string::npos);
    CHECK(message.find("limit of " + std::to_string(open_now + 400)) != std::string::npos);
    CHECK(grow == ErrorCode::resource_exhausted);
    CHECK(t.bus->names() == std::vector<std::string>{"g"});
    CHECK(partition_dirs(t) == std::set<std::string>{"g-0"});
}
