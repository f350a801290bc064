// Compacted topics over a real kbusd: records without a key refused at the send, the cleaner
// thread compacting closed segments while producers go on, a reader from the start getting each
// key's newest value, and kbusd stopped (SIGTERM) or killed (SIGKILL) in the middle of a pass.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A small ring: a reader from the start reads the log, not a ring that still holds it all (the
// ring is the log's head, never compacted, as Kafka's active segment is not).
std::map<std::string, std::string> compacted_topic() {
    return {{"cleanup.policy", "compact"},
            {"segment.bytes", "65536"},
            {"ring.bytes", "65536"},
            {"min.cleanable.dirty.ratio", "0.01"}};
}

// Record i: key k<i % keys>, value v<i> padded to `bytes`.
std::string value_of(int i, std::size_t bytes) {
    std::string v = "v" + std::to_string(i) + "-";
    v.resize(bytes, 'x');
    return v;
}

std::map<std::string, std::string> produce(kbus::Client& c, const std::string& topic, int count,
                                           int keys, std::size_t bytes) {
    kbus::Producer p(c);
    std::map<std::string, std::string> newest;
    for (int i = 0; i < count; ++i) {
        const std::string key = "k" + std::to_string(i % keys), value = value_of(i, bytes);
        (void)p.send(topic, key, value);
        newest[key] = value;
    }
    return newest;
}

struct ReadBack {
    std::map<std::string, std::string> latest;
    std::size_t records = 0;
};

// Everything from the beginning up to the high watermark, offsets checked to increase.
ReadBack read_from_start(kbus::Client& c, const std::string& topic) {
    const std::int64_t end = c.describe_topic(topic).partitions.at(0).high_watermark;
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking});
    con.assign(topic, 0, kbus::OffsetSpec::beginning());
    ReadBack r;
    std::int64_t previous = -1;
    for (int idle = 0; previous + 1 < end && idle < 1000;) {
        const auto& batch = con.poll(10ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            REQUIRE(m.offset() > previous);
            previous = m.offset();
            REQUIRE_FALSE(m.key().is_null());
            r.latest[std::string(m.key().str())] = std::string(m.value().str());
            ++r.records;
        }
    }
    REQUIRE(previous + 1 == end);
    return r;
}

std::int64_t cleaner_checkpoint(const DaemonFixture& d, const std::string& topic) {
    std::ifstream in(d.data_dir() + "/" + topic + "-0/cleaner-offset-checkpoint");
    int version = 0, count = 0;
    std::string name, partition;
    std::int64_t offset = -1;
    in >> version >> count >> name >> partition >> offset;
    return offset;
}

// Waits (at most a minute) until `done` holds.
template <class F>
bool wait_for(F&& done) {
    for (int i = 0; i < 6000; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

kbus::ErrorCode code_of_send(kbus::Producer& p, const std::string& topic, kbus::BytesView key) {
    try {
        (void)p.send(topic, key, "value");
    } catch (const kbus::Error& e) {
        return e.code();
    }
    return kbus::ErrorCode::ok;
}

}  // namespace

TEST_CASE(
    "a compacted topic refuses records without a key, and its readers get each key's newest "
    "value after the cleaner ran",
    "[compaction]") {
    DaemonFixture d("compact", {"--override", "log.cleaner.backoff.ms=50"});
    kbus::Client c(d.options());
    c.create_topic("state", 1, compacted_topic());
    kbus::Producer p(c);
    CHECK(code_of_send(p, "state", kbus::BytesView()) == kbus::ErrorCode::invalid_record);
    const kbus::BatchRecord keyless[] = {{.key = "a", .value = "1"}, {.value = "2"}};
    CHECK_THROWS_AS(p.send_batch("state", keyless), kbus::Error);
    CHECK(c.describe_topic("state").partitions.at(0).high_watermark == 0);  // nothing went in

    const auto newest = produce(c, "state", 6000, 100, 200);
    // Cleaned to the last closed segment: nothing dirty left, the cleaned segments still there.
    REQUIRE(wait_for([&] {
        const kbus::protocol::PartitionState s = c.describe_topic("state").partitions.at(0);
        return cleaner_checkpoint(d, "state") > 0 && s.dirty_bytes == 0 && s.cleanable_bytes > 0;
    }));
    const ReadBack r = read_from_start(c, "state");
    CHECK(r.latest == newest);
    CHECK(r.records < 6000);
    CHECK(d.log_text().find("log cleaner: cleaned state-0") != std::string::npos);

    // Back to delete: a record without a key is taken again.
    c.alter_topic("state", {{"cleanup.policy", "delete"}});
    CHECK(code_of_send(p, "state", kbus::BytesView()) == kbus::ErrorCode::ok);
}

TEST_CASE("a cleanup.policy spelled with spaces is stored in one spelling and survives a restart",
          "[compaction]") {
    DaemonFixture d("compact-spaces");
    {
        kbus::Client c(d.options());
        c.create_topic("spaced", 1, {{"cleanup.policy", "delete , compact"}});
        c.create_topic("altered", 1);
        c.alter_topic("altered", {{"cleanup.policy", " compact"}});
    }
    REQUIRE(d.stop() == 0);
    d.restart();
    kbus::Client c(d.options());
    const auto policy = [&](const std::string& topic) {
        for (const auto& [k, v] : c.describe_topic(topic).metadata.config)
            if (k == "cleanup.policy") return v;
        return std::string();
    };
    CHECK(policy("spaced") == "compact,delete");
    CHECK(policy("altered") == "compact");
}

TEST_CASE("kbusd stopped or killed in the middle of a cleaner pass keeps every key's newest value",
          "[compaction]") {
    for (const int signal : {SIGTERM, SIGKILL}) {
        // 200 KB/s: a pass over the 6 MB below takes half a minute, long enough to stop kbusd
        // in it (and a stop that waited for the pass would show).
        DaemonFixture d("compact-stop", {"--override", "log.cleaner.backoff.ms=50", "--override",
                                         "log.cleaner.io.max.bytes.per.second=200000"});
        kbus::Client c(d.options());
        c.create_topic("state", 1, compacted_topic());
        const auto newest = produce(c, "state", 6000, 300, 1000);
        const std::string staging = d.data_dir() + "/state-0/cleaner";
        REQUIRE(wait_for([&] { return fs::exists(staging); }));
        std::this_thread::sleep_for(300ms);
        if (signal == SIGTERM) {  // a clean stop: the pass ends between batches, at once
            const auto t0 = std::chrono::steady_clock::now();
            CHECK(d.stop() == 0);
            CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
        } else {
            d.kill_hard();
        }
        d.extra_args = {"--override", "log.cleaner.backoff.ms=50"};  // unthrottled from here
        d.restart();
        kbus::Client again(d.options());
        CHECK(read_from_start(again, "state").latest == newest);
        // The next passes finish the job.
        REQUIRE(wait_for([&] {
            const auto p = again.describe_topic("state").partitions.at(0);
            return cleaner_checkpoint(d, "state") > 0 && p.dirty_bytes == 0;
        }));
        const ReadBack r = read_from_start(again, "state");
        CHECK(r.latest == newest);
        CHECK(r.records < 6000);
    }
}
