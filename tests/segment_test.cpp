// Segments and partition logs: Kafka's file names, index lookups, rolls, recovery of torn or
// corrupt files, retention.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include "temp_dir.hpp"

#include "kbus/detail/big_endian.hpp"
#include "kbus/detail/file_extent_reader.hpp"
#include "kbus/error.hpp"
#include "log/batch_builder.hpp"
#include "log/partition_log.hpp"

using namespace kbus;
using namespace kbus::testing;
namespace fs = std::filesystem;

namespace {

// Batches of `per_batch` records, record i with timestamp 1000 + i and value "v<i>" padded.
void fill(log::PartitionLog& l, std::int64_t from, std::int64_t count, int per_batch,
          std::int64_t now = 0) {
    log::BatchBuilder b;
    for (std::int64_t o = from; o < from + count;) {
        b.clear();
        for (int k = 0; k < per_batch && o < from + count; ++k, ++o) {
            const std::string key = std::to_string(o);
            std::string value(100, '.');
            value.replace(0, key.size(), key);
            b.add(o, 1000 + o, BytesView(key), BytesView(value), {});
        }
        l.append(b.finish(config::Compression::none), now);
    }
}

std::int64_t first_offset_in(const std::string& batches, std::int64_t want) {
    log::BatchView b({reinterpret_cast<const std::byte*>(batches.data()), batches.size()});
    REQUIRE(b.check(true) == log::BatchCheck::ok);
    REQUIRE(b.base_offset() <= want);
    REQUIRE(b.last_offset() >= want);
    log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                           b.base_timestamp());
    log::RecordView r;
    while (it.next(r))
        if (r.offset == want) {
            CHECK(r.key.str() == std::to_string(want));
            CHECK(r.timestamp == 1000 + want);
            return r.offset;
        }
    return -1;
}

config::TopicConfig small_segments() {
    config::TopicConfig c;
    c.segment_bytes = 16 * 1024;
    c.index_interval_bytes = 1024;
    return c;
}

}  // namespace

TEST_CASE("segments roll, are named like Kafka's, and every offset is found by index", "[log]") {
    TempDir d("roll");
    log::PartitionLog l(d.path, small_segments(), false, sink());
    fill(l, 0, 3000, 7);
    CHECK(l.log_end_offset() == 3000);
    CHECK(l.segment_count() > 10);
    CHECK(fs::exists(d.path + "/00000000000000000000.log"));
    CHECK(fs::exists(d.path + "/00000000000000000000.index"));
    CHECK(fs::exists(d.path + "/00000000000000000000.timeindex"));
    CHECK(fs::file_size(d.path + "/00000000000000000000.index") % 8 == 0);
    CHECK(fs::file_size(d.path + "/00000000000000000000.index") > 0);
    CHECK(fs::file_size(d.path + "/00000000000000000000.timeindex") % 12 == 0);
    for (std::int64_t o : {0, 1, 6, 7, 500, 1234, 2999})
        CHECK(first_offset_in(l.read(o, 1), o) == o);
    CHECK(l.read(3000, 1).empty());
    for (std::int64_t o : {0, 3, 777, 2999})
        CHECK(l.offset_for_timestamp(1000 + o) == o);
    CHECK(l.offset_for_timestamp(0) == 0);
    CHECK_FALSE(l.offset_for_timestamp(999999).has_value());
    // The first index entry holds the largest offset of a batch and that batch's position.
    std::ifstream idx(d.path + "/00000000000000000000.index", std::ios::binary);
    char e[8];
    idx.read(e, 8);
    const auto rel = detail::load_be<std::int32_t>(e);
    const auto pos = detail::load_be<std::int32_t>(e + 4);
    CHECK((rel + 1) % 7 == 0);
    CHECK(pos > 0);
}

TEST_CASE("a segment extent read by the client holds exactly the batches read() returns", "[log]") {
    TempDir d("extent");
    log::PartitionLog l(d.path, small_segments(), false, sink());
    fill(l, 0, 3000, 7);
    for (std::int64_t o : {0, 7, 1234, 2999})
        for (std::size_t max : {std::size_t(1), std::size_t(4096)}) {
            const log::PartitionLog::Extent e = l.locate(o, max);
            REQUIRE(e.length > 0);
            CHECK(e.path.ends_with(".log"));
            detail::FileExtentReader m;
            REQUIRE(m.read(e.path, e.position, e.length));
            const std::string read = l.read(o, max);
            CHECK(std::string(reinterpret_cast<const char*>(m.bytes().data()), m.bytes().size()) ==
                  read);
            CHECK(first_offset_in(read, o) == o);
        }
    CHECK(l.locate(3000, 4096).length == 0);
    CHECK_THROWS_AS(l.locate(-1, 1), Error);
    detail::FileExtentReader missing;
    CHECK_FALSE(missing.read(d.path + "/no-such.log", 0, 10));
    CHECK(missing.bytes().empty());
}

TEST_CASE("a reopened log continues and lost indexes are rebuilt", "[log]") {
    TempDir d("reopen");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 1000, 10);
    }
    fs::remove(d.path + "/00000000000000000000.index");
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK(l.log_end_offset() == 1000);
    CHECK(fs::file_size(d.path + "/00000000000000000000.index") > 0);
    fill(l, 1000, 10, 10);
    CHECK(l.log_end_offset() == 1010);
    CHECK(first_offset_in(l.read(5, 1), 5) == 5);
}

TEST_CASE("recovery cuts a torn tail and a corrupt batch, dropping what follows", "[log]") {
    TempDir d("recover");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 2000, 10);
    }
    // A torn tail: the last batch half written.
    std::vector<fs::path> logs;
    for (auto& e : fs::directory_iterator(d.path))
        if (e.path().extension() == ".log") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    const auto last = logs.back();
    fs::resize_file(last, fs::file_size(last) - 50);
    {
        logged.clear();
        log::PartitionLog l(d.path, small_segments(), true, sink());
        CHECK(l.log_end_offset() == 1990);
        REQUIRE(!logged.empty());
        CHECK(logged[0].find(last.filename().string()) != std::string::npos);
    }
    // A byte flipped inside a closed segment: the log ends before that batch, later segments go.
    const auto victim = logs[2];
    {
        std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(3000);
        char c;
        f.seekg(3000);
        f.get(c);
        f.seekp(3000);
        f.put(char(c ^ 0x10));
    }
    log::PartitionLog l(d.path, small_segments(), true, sink());
    const std::int64_t base = std::stoll(victim.filename().string().substr(0, 20));
    CHECK(l.log_end_offset() > base);
    CHECK(l.log_end_offset() < base + 200);
    CHECK(l.log_end_offset() % 10 == 0);  // cut at a batch boundary
    CHECK(l.segment_count() == 3);
    CHECK(first_offset_in(l.read(l.log_end_offset() - 1, 1), l.log_end_offset() - 1) ==
          l.log_end_offset() - 1);
    fill(l, l.log_end_offset(), 10, 10);  // offsets continue from the cut
}

TEST_CASE("retention deletes exactly the expired closed segments, never the active one", "[log]") {
    TempDir d("retention");
    config::TopicConfig c = small_segments();
    c.retention_ms = 1000;
    log::PartitionLog l(d.path, c, false, sink());
    fill(l, 0, 2000, 10);  // timestamps 1000..2999
    const std::size_t segments = l.segment_count();
    CHECK(l.apply_retention(1500) == 0);  // nothing is older than 1 s at t=1.5 s
    // At t=3000 a segment goes if its newest record is before t=2000 (offset < 1000).
    const std::size_t deleted = l.apply_retention(3000);
    CHECK(deleted > 0);
    CHECK(l.log_start_offset() <= 1000);
    CHECK(l.log_start_offset() > 900);
    CHECK(l.segment_count() == segments - deleted);
    CHECK_THROWS_AS(l.read(0, 1), Error);
    CHECK(!fs::exists(d.path + "/00000000000000000000.log"));
    CHECK(!fs::exists(d.path + "/00000000000000000000.index"));
    CHECK(!fs::exists(d.path + "/00000000000000000000.timeindex"));
    // Far in the future everything is expired but the active segment stays.
    l.apply_retention(1'000'000);
    CHECK(l.segment_count() == 1);
    CHECK(l.log_end_offset() == 2000);
    fill(l, 2000, 10, 10);
    CHECK(l.log_end_offset() == 2010);

    TempDir d2("retention-bytes");
    config::TopicConfig cb = small_segments();
    cb.retention_bytes = 40 * 1024;
    log::PartitionLog lb(d2.path, cb, false, sink());
    fill(lb, 0, 2000, 10);
    lb.apply_retention(0);
    CHECK(lb.size_bytes() <= 40 * 1024 + 16 * 1024);
    CHECK(lb.size_bytes() >= 40 * 1024 - 16 * 1024);
}
