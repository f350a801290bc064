// Segments and partition logs: Kafka's file names, index lookups, rolls, recovery of torn or
// corrupt files, retention.
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include "log_damage.hpp"
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
            REQUIRE(e.inode != 0);
            REQUIRE(m.read(e.path, e.position, e.length, e.inode) ==
                    detail::FileExtentReader::Result::read);
            const std::string read = l.read(o, max);
            CHECK(std::string(reinterpret_cast<const char*>(m.bytes().data()), m.bytes().size()) ==
                  read);
            CHECK(first_offset_in(read, o) == o);
        }
    CHECK(l.locate(3000, 4096).length == 0);
    CHECK_THROWS_AS(l.locate(-1, 1), Error);
    detail::FileExtentReader missing;
    CHECK(missing.read(d.path + "/no-such.log", 0, 10, 0) ==
          detail::FileExtentReader::Result::replaced);
    CHECK(missing.bytes().empty());
    // The same path naming another file (the log cleaner's swap): refused, never read.
    const log::PartitionLog::Extent e = l.locate(0, 4096);
    CHECK(missing.read(e.path, e.position, e.length, e.inode + 1) ==
          detail::FileExtentReader::Result::replaced);
    CHECK(missing.bytes().empty());
}

TEST_CASE("a segment starts the write-back of each full 4 MiB behind its appends, not before",
          "[log]") {
    TempDir d("writeback", true);
    constexpr std::uint64_t chunk = 4u << 20;
    std::uint64_t asked = 0;
    std::uint64_t size = 0;
    {
        log::Segment s = log::Segment::create(d.path, 0, true);
        log::BatchBuilder b;
        const std::string value(64 * 1024, 'w');
        for (std::int64_t o = 0; s.size_bytes() < 3 * chunk + chunk / 2; ++o) {
            b.clear();
            b.add(o, 1000 + o, BytesView(), BytesView(value), {});
            const std::string_view batch = b.finish(config::Compression::none);
            s.append(
                log::BatchView({reinterpret_cast<const std::byte*>(batch.data()), batch.size()}),
                4096);
            // Never past what is written, and never more than a chunk behind it.
            REQUIRE(s.writeback_requested_to() <= s.size_bytes());
            REQUIRE(s.size_bytes() - s.writeback_requested_to() < chunk);
        }
        asked = s.writeback_requested_to();
        size = s.size_bytes();
        CHECK(asked >= 3 * chunk);
    }
    // After kbusd alone crashed, what recovery finds may still be dirty pages: a reopened
    // segment asks again from its beginning.
    log::RecoveryResult result;
    const log::Segment reopened =
        log::Segment::open(d.path, 0, true, 4096, log::RecoveryLimits{}, result);
    CHECK(reopened.size_bytes() == size);
    CHECK(reopened.writeback_requested_to() == 0);
    CHECK(asked <= size);
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

// How many of this process's descriptors are open on files under `dir`.
std::size_t descriptors_under(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(e.path(), ec);
        if (!ec && target.string().starts_with(fs::canonical(dir).string() + "/")) ++n;
    }
    return n;
}

TEST_CASE("an idle partition holds no descriptor, a used one its active segment's .log alone",
          "[log]") {
    TempDir d("descriptors");
    config::TopicConfig one_segment = small_segments();
    one_segment.segment_bytes = 1 << 20;
    const std::string index = d.path + "/00000000000000000000.index";
    {
        log::PartitionLog l(d.path, one_segment, false, sink());
        CHECK(fs::is_empty(d.path));  // an idle partition is its directory
        CHECK(descriptors_under(d.path) == 0);
        CHECK(l.read(0, 100).empty());
        CHECK(l.locate(0, 100).length == 0);
        fill(l, 0, 3000, 7);
        CHECK(fs::exists(d.path + "/00000000000000000000.log"));
        CHECK(l.segment_count() == 1);
        CHECK(descriptors_under(d.path) == 1);
        // Index entries reach their files at a sync (or a roll, or a clean stop), not before.
        CHECK_FALSE(fs::exists(index));
        l.maybe_flush(0, true);
        CHECK(fs::file_size(index) > 0);
        CHECK(fs::file_size(index) % 8 == 0);
    }
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 3000, 3000, 7);  // rolls: closed segments let their descriptors go
        CHECK(l.segment_count() > 10);
        CHECK(descriptors_under(d.path) == 1);
        for (std::int64_t o : {0, 2999, 3000, 4500})  // each read opens what it reads, for itself
            CHECK(first_offset_in(l.read(o, 1), o) == o);
        CHECK(l.offset_for_timestamp(1000 + 4000) == 4000);
        CHECK(descriptors_under(d.path) == 1);
    }
    // Reopened: an empty log holds nothing open either, and a used one finds every offset.
    TempDir e("descriptors-idle");
    { log::PartitionLog idle(e.path, one_segment, false, sink()); }
    log::PartitionLog idle(e.path, one_segment, true, sink());
    CHECK(descriptors_under(e.path) == 0);
    CHECK(fs::is_empty(e.path));
    CHECK(idle.log_end_offset() == 0);
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK(descriptors_under(d.path) == 1);  // recovered: the active segment's alone
    CHECK(l.log_end_offset() == 6000);
    for (std::int64_t o : {0, 9, 1234, 2999, 3000, 5999})
        CHECK(first_offset_in(l.read(o, 1), o) == o);
}

TEST_CASE(
    "a batch appended again after a failure past its write is there once, and an index "
    "file that cannot be opened fails no sync",
    "[log]") {
    TempDir d("retry");
    config::TopicConfig one_segment = small_segments();
    one_segment.segment_bytes = 1 << 20;
    {
        log::PartitionLog l(d.path, one_segment, false, sink());
        log::BatchBuilder b;
        for (std::int64_t o = 0; o < 10; ++o)
            b.add(o, 1000 + o, BytesView(std::to_string(o)), BytesView(std::string(100, 'v')), {});
        const std::string batch(b.finish(config::Compression::none));
        l.append(batch, 0);
        l.append(batch, 0);  // the spill's retry: nothing written twice
        CHECK(l.log_end_offset() == 10);
        CHECK(l.size_bytes() == batch.size());
        fill(l, 10, 3000, 7);
        // No descriptor left: the index files cannot be opened, the .log (open) still syncs.
        rlimit old{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
        rlimit none = old;
        none.rlim_cur = 0;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &none) == 0);
        bool synced = true;
        try {
            l.maybe_flush(0, true);
        } catch (const Error&) {
            synced = false;
        }
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
        CHECK(synced);  // (its checkpoint waits for the next sync: no descriptor for it either)
    }
    log::PartitionLog l(d.path, one_segment, true, sink());
    CHECK(l.log_end_offset() == 3010);
    for (std::int64_t o : {0, 9, 10, 1234, 3009})
        CHECK(first_offset_in(l.read(o, 1), o) == o);
}

TEST_CASE("a log whose index files cannot be rewritten at recovery (a full disk) still opens",
          "[log]") {
    TempDir d("full-at-recovery");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 3000, 7);
    }
    // Index writes fail (EFBIG past a 16-byte file size limit, as ENOSPC would) while recovery
    // rebuilds them after an unclean stop.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit tiny = old;
    tiny.rlim_cur = 16;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tiny) == 0);
    std::optional<log::PartitionLog> l;
    try {
        l.emplace(d.path, small_segments(), true, sink());
    } catch (...) {
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
        throw;
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(l->log_end_offset() == 3000);
    for (std::int64_t o : {0, 7, 1234, 2999})
        CHECK(first_offset_in(l->read(o, 1), o) == o);
    CHECK_FALSE(fs::exists(d.path + "/00000000000000000000.index"));  // no stale index left
    l.reset();
    log::PartitionLog again(d.path, small_segments(), false, sink());  // rebuilt when trusted next
    CHECK(again.log_end_offset() == 3000);
    CHECK(first_offset_in(again.read(1234, 1), 1234) == 1234);
}

TEST_CASE("a log whose closed segments retention took reopens at its end, never at offset 0",
          "[log]") {
    TempDir d("retention-reopen");
    config::TopicConfig c = small_segments();
    c.retention_ms = 1000;
    {
        log::PartitionLog l(d.path, c, false, sink());
        fill(l, 0, 2000, 10);
        (void)l.apply_retention(1'000'000);
        REQUIRE(l.segment_count() == 1);
    }
    for (const bool after_crash : {true, false}) {  // recovery that verifies, and a clean one
        log::PartitionLog l(d.path, c, after_crash, sink());
        CHECK(l.log_end_offset() == 2000);
        CHECK(l.log_start_offset() > 0);
    }
    log::PartitionLog l(d.path, c, false, sink());
    fill(l, 2000, 10, 10);
    CHECK(first_offset_in(l.read(2005, 1), 2005) == 2005);
}

// Each offset of [from, to) read back alone: true if it is there with its record.
bool readable(const log::PartitionLog& l, std::int64_t o) {
    try {
        const std::string bytes = l.read(o, 1);
        return !bytes.empty() && first_offset_in(bytes, o) == o;
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::corrupt_record);
        return false;
    }
}

std::size_t lines_with(const std::string& what) {
    return std::size_t(std::count_if(logged.begin(), logged.end(), [&](const std::string& line) {
        return line.find(what) != std::string::npos;
    }));
}

TEST_CASE("every sync moves the recovery point, kept durably in Kafka's checkpoint file", "[log]") {
    TempDir d("checkpoint-0");
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK_FALSE(fs::exists(l.checkpoint_path()));  // an empty log needs none
    fill(l, 0, 2000, 10);
    const auto logs = segment_logs(d.path);
    REQUIRE(logs.size() > 2);
    // Each roll synced the closed segment: everything below the active one is on disk.
    CHECK(l.recovery_point() == base_offset_of(logs.back()));
    std::ifstream in(l.checkpoint_path());
    std::string version, count, topic, partition, offset;
    in >> version >> count >> topic >> partition >> offset;
    CHECK(version == "0");
    CHECK(count == "1");
    CHECK(partition == "0");
    CHECK(offset == std::to_string(l.recovery_point()));
    l.maybe_flush(0, true);  // a clean stop's sync
    CHECK(l.recovery_point() == 2000);
}

TEST_CASE("recovery cuts a torn tail past the recovery point, and only there", "[log]") {
    TempDir d("torn");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 2000, 10);
    }
    const auto logs = segment_logs(d.path);
    // The active segment was never synced: its last batch half written is a torn write.
    const auto last = logs.back();
    fs::resize_file(last, fs::file_size(last) - 50);
    // An older segment, synced at its roll, with a batch gone bad: corruption, not a tear.
    const BatchSpan bad = damage_middle_batch(logs[1]);
    logged.clear();
    log::PartitionLog l(d.path, small_segments(), true, sink());
    CHECK(l.log_end_offset() == 1990);
    CHECK(l.segment_count() == logs.size());
    CHECK(lines_with("truncated " + last.string()) == 1);
    CHECK(lines_with("lost to a corrupt batch in " + logs[1].string()) == 1);
    for (std::int64_t o = 0; o < 1990; ++o)
        CHECK(readable(l, o) == (o < bad.first_offset || o > bad.last_offset));
    fill(l, 1990, 10, 10);  // offsets continue from the cut
    CHECK(l.log_end_offset() == 2000);
}

TEST_CASE("a corrupt batch below the recovery point costs that batch alone", "[log]") {
    TempDir d("corrupt");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 3000, 10);
    }
    const auto logs = segment_logs(d.path);
    REQUIRE(logs.size() > 4);
    const BatchSpan bad = damage_middle_batch(logs[1]);
    // A second one whose length field is garbage: the next batch is found by its CRC.
    const BatchSpan garbled = batches_of(logs[2])[3];
    flip_bytes(logs[2], garbled.begin + log::batch_length_offset, 2);
    logged.clear();
    log::PartitionLog l(d.path, small_segments(), true, sink());
    CHECK(l.log_end_offset() == 3000);
    CHECK(l.segment_count() == logs.size());  // later segments are never deleted for it
    for (const auto& f : logs)
        CHECK(fs::exists(f));
    // Logged once each, with file, bytes and offsets.
    const std::string offsets = "offsets " + std::to_string(bad.first_offset) + ".." +
                                std::to_string(bad.last_offset) + " of ";
    REQUIRE(lines_with(offsets) == 1);
    CHECK(lines_with("lost to a corrupt batch in " + logs[1].string() + " (bytes " +
                     std::to_string(bad.begin) + ".." + std::to_string(bad.end) + ", CRC") == 1);
    CHECK(lines_with("offsets " + std::to_string(garbled.first_offset) + ".." +
                     std::to_string(garbled.last_offset) + " of ") == 1);
    CHECK(logged.size() == 2);
    for (std::int64_t o = 0; o < 3000; ++o) {
        const bool lost = (o >= bad.first_offset && o <= bad.last_offset) ||
                          (o >= garbled.first_offset && o <= garbled.last_offset);
        CHECK(readable(l, o) == !lost);
    }
    // The region is named by any of its offsets, and never handed out in an extent.
    const auto damage = l.damage_at(bad.first_offset + 3, false);
    REQUIRE(damage.has_value());
    CHECK(damage->path == logs[1].string());
    CHECK(damage->region.first_offset == bad.first_offset);
    CHECK(damage->region.last_offset == bad.last_offset);
    CHECK_THROWS_MATCHES(l.locate(bad.first_offset, 1 << 20), Error,
                         Catch::Matchers::Predicate<Error>(
                             [](const Error& e) { return e.code() == ErrorCode::corrupt_record; }));
    const log::PartitionLog::Extent before = l.locate(bad.first_offset - 1, 1 << 20);
    CHECK(before.position + before.length == bad.begin);
    // Timestamps step over the damage too.
    CHECK(l.offset_for_timestamp(1000 + bad.first_offset) == bad.last_offset + 1);
    CHECK(l.offset_for_timestamp(1000 + bad.last_offset + 1) == bad.last_offset + 1);
}

TEST_CASE("a base offset flipped in an old segment costs that batch, never the later segments",
          "[log]") {
    // The CRC does not cover a batch's base offset: recovery must not trust one that runs into
    // the next segment (it read as a torn tail and cut every later segment).
    for (const bool verify : {false, true}) {
        TempDir d("flipped-base");
        {
            log::PartitionLog l(d.path, small_segments(), false, sink());
            fill(l, 0, 3000, 10);
        }
        const auto logs = segment_logs(d.path);
        REQUIRE(logs.size() > 4);
        const BatchSpan victim = batches_of(logs[1])[2];
        flip_bytes(logs[1], victim.begin + 1, 1);  // a high byte of the base offset
        log::PartitionLog l(d.path, small_segments(), verify, sink());
        CHECK(l.log_end_offset() == 3000);
        CHECK(l.segment_count() == logs.size());
        for (std::int64_t o = 0; o < 3000; ++o)
            CHECK(readable(l, o) == (o < victim.first_offset || o > victim.last_offset));
    }
    // In the last segment, which has no next base to check against: the index's reach.
    TempDir d("flipped-base-last");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 3000, 10);
    }
    const auto logs = segment_logs(d.path);
    flip_bytes(logs.back(), batches_of(logs.back())[0].begin + 1, 1);
    // Synced to the end (a clean stop's checkpoint): damage, stepped over, and the end stays.
    std::ofstream(d.path + "/recovery-point-offset-checkpoint") << "0\n1\nt 0 3000\n";
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK(l.log_end_offset() == 3000);  // not 2^48 and more
}

TEST_CASE("after a clean stop damage is found by the reader's check, once", "[log]") {
    TempDir d("clean");
    {
        log::PartitionLog l(d.path, small_segments(), false, sink());
        fill(l, 0, 2000, 10);
        l.maybe_flush(0, true);
    }
    const auto logs = segment_logs(d.path);
    const BatchSpan bad = damage_middle_batch(logs[1]);
    logged.clear();
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK(logged.empty());  // no CRC is checked at a clean start
    // The bytes are served as stored; a reader's CRC check fails, and the log confirms it.
    const std::string served = l.read(bad.first_offset, 1);
    const log::BatchView b({reinterpret_cast<const std::byte*>(served.data()), served.size()});
    CHECK(b.check(true) == log::BatchCheck::bad_crc);
    CHECK_FALSE(l.damage_at(bad.first_offset - 1, true).has_value());  // a sound batch
    const auto damage = l.damage_at(bad.first_offset, true);
    REQUIRE(damage.has_value());
    CHECK(damage->region.first_offset == bad.first_offset);
    CHECK(damage->region.last_offset == bad.last_offset);
    CHECK(damage->region.begin == bad.begin);
    CHECK(damage->region.end == bad.end);
    CHECK(l.damage_at(bad.last_offset, true).has_value());
    CHECK(lines_with("lost to a corrupt batch in " + logs[1].string()) == 1);
    CHECK(logged.size() == 1);
    CHECK_FALSE(readable(l, bad.first_offset));
    CHECK(readable(l, bad.last_offset + 1));
    CHECK(l.log_end_offset() == 2000);
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

TEST_CASE(
    "delete_records_before moves the log start durably, and retention then drops the segments",
    "[log]") {
    TempDir d("delete-records");
    const config::TopicConfig c = small_segments();
    {
        log::PartitionLog l(d.path, c, false, sink());
        fill(l, 0, 2000, 10);
        const std::size_t segments = l.segment_count();
        CHECK(l.delete_records_before(1500) == 1500);
        CHECK(l.log_start_offset() == 1500);
        CHECK_THROWS_AS(l.read(1499, 1), Error);                // below the start: out of range
        CHECK(first_offset_in(l.read(1500, 1), 1500) <= 1500);  // its batch is still served
        CHECK(l.delete_records_before(100) == 1500);            // it never moves back
        CHECK_THROWS_AS(l.delete_records_before(2001), Error);  // past the log end
        // The segments wholly below the start go at the next retention pass, the rest stay.
        CHECK(l.apply_retention(0) > 0);
        CHECK(l.segment_count() < segments);
        CHECK(l.log_start_offset() == 1500);
        CHECK(l.log_end_offset() == 2000);
    }
    // Reopened (after a crash or a stop alike): the start is where it was.
    log::PartitionLog again(d.path, c, true, sink());
    CHECK(again.log_start_offset() == 1500);
    CHECK(std::filesystem::exists(again.start_checkpoint_path()));
}

TEST_CASE("max_timestamp_record finds the newest timestamp and the first offset carrying it",
          "[log]") {
    TempDir d("max-timestamp");
    log::PartitionLog l(d.path, small_segments(), false, sink());
    CHECK_FALSE(l.max_timestamp_record().has_value());
    fill(l, 0, 500, 10);  // timestamps 1000..1499
    const auto newest = l.max_timestamp_record();
    REQUIRE(newest.has_value());
    CHECK(newest->timestamp == 1499);
    CHECK(newest->offset == 499);
}

TEST_CASE("a log start checkpoint past the log's end is logged and rewritten to the end", "[log]") {
    TempDir d("start-past-end");
    const config::TopicConfig c = small_segments();
    {
        log::PartitionLog l(d.path, c, false, sink());
        fill(l, 0, 10, 10);
    }
    {
        std::ofstream bad(d.path + "/log-start-offset-checkpoint", std::ios::trunc);
        bad << "0\n1\nx 0 500\n";
    }
    {
        log::PartitionLog l(d.path, c, false, sink());
        CHECK(l.log_start_offset() == 10);
        fill(l, 10, 600, 10);  // records far past the bad start
    }
    log::PartitionLog again(d.path, c, false, sink());
    CHECK(again.log_start_offset() == 10);  // they all stay readable
    CHECK(again.log_end_offset() == 610);
}
