// Log compaction (cleanup.policy=compact): the cleaner keeps each key's newest record at its
// offset, handles tombstones, keyless records, compressed and unreadable batches, and swaps its
// output in so that a crash at any point leaves the old segments or the new ones.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "kbus/detail/file_extent_reader.hpp"
#include "kbus/error.hpp"
#include "kbus/log/control_record.hpp"
#include "log/batch_builder.hpp"
#include "log/compression.hpp"
#include "log/log_cleaner.hpp"
#include "log/partition_log.hpp"
#include "temp_dir.hpp"

using namespace kbus;
using namespace kbus::testing;
namespace fs = std::filesystem;

namespace {

struct Rec {
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::optional<std::string> value;
};

config::TopicConfig compacted() {
    config::TopicConfig c;
    c.segment_bytes = 4096;
    c.index_interval_bytes = 512;
    c.cleanup_compact = true;
    c.cleanup_delete = false;
    return c;
}

// Appends records in batches of `per_batch`, compressed with `codec`.
void append(log::PartitionLog& l, const std::vector<Rec>& records, int per_batch = 4,
            config::Compression codec = config::Compression::none, std::int64_t ts = 1000) {
    log::BatchBuilder b;
    for (std::size_t i = 0; i < records.size();) {
        b.clear();
        for (int k = 0; k < per_batch && i < records.size(); ++k, ++i) {
            const Rec& r = records[i];
            b.add(r.offset, ts, r.key ? BytesView(*r.key) : BytesView(),
                  r.value ? BytesView(*r.value) : BytesView(), {});
        }
        l.append(b.finish(codec), 0);
    }
}

// Record o has key k<o % keys> and value v<o>.
std::vector<Rec> keyed(std::int64_t from, std::int64_t count, int keys) {
    std::vector<Rec> out;
    for (std::int64_t o = from; o < from + count; ++o)
        out.push_back({o, "k" + std::to_string(o % keys), "v" + std::to_string(o)});
    return out;
}

std::optional<std::string> text_of(BytesView b) {
    if (b.is_null()) return std::nullopt;
    return std::string(b.str());
}

// Every record of the log, in offset order, read as a consumer would (batches decompressed).
std::vector<Rec> read_all(log::PartitionLog& l) {
    std::vector<Rec> out;
    std::int64_t o = l.log_start_offset();
    while (o < l.log_end_offset()) {
        std::string stored;
        try {
            stored = l.read(o, 1 << 20);
        } catch (const Error& e) {  // offsets lost to damage: stepped over, as consumers do
            REQUIRE(e.code() == ErrorCode::corrupt_record);
            const auto damage = l.damage_at(o, false);
            REQUIRE(damage);
            o = damage->region.last_offset + 1;
            continue;
        }
        REQUIRE(!stored.empty());
        const std::string batches = log::decompress_batches(stored, 64 << 20);
        std::size_t pos = 0;
        while (pos < batches.size()) {
            const log::BatchView b(
                {reinterpret_cast<const std::byte*>(batches.data()) + pos, batches.size() - pos});
            REQUIRE(b.check(true) == log::BatchCheck::ok);
            log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                                   b.base_timestamp());
            log::RecordView r;
            while (it.next(r))
                if (r.offset >= o) out.push_back({r.offset, text_of(r.key), text_of(r.value)});
            REQUIRE_FALSE(it.malformed());
            pos += b.total_bytes();
            o = b.last_offset() + 1;
        }
    }
    return out;
}

// A pass over the whole cleanable section, as kbusd's cleaner thread makes it.
log::CleanerStats clean(log::PartitionLog& l, std::int64_t now_ms,
                        const log::LogCleaner::SwapIn& swap = {}) {
    const auto section = l.cleanable_section(now_ms);
    REQUIRE(section);
    log::IoThrottle throttle(std::numeric_limits<std::int64_t>::max());
    log::LogCleaner cleaner(l.config(), now_ms, throttle, sink());
    const log::CleanerStats s = cleaner.clean(
        *section, swap ? swap : [&l](log::CleanedGroup& g) { return l.swap_in_cleaned(g); });
    l.set_cleaned_to(s.cleaned_to);
    return s;
}

// The newest value of each key, as a reader from the start ends up with.
std::map<std::string, std::optional<std::string>> latest(const std::vector<Rec>& records) {
    std::map<std::string, std::optional<std::string>> m;
    for (const Rec& r : records)
        if (r.key) m[*r.key] = r.value;
    return m;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("the cleaner keeps each key's newest record at its own offset", "[log][compaction]") {
    TempDir d("clean-newest");
    log::PartitionLog l(d.path, compacted(), false, sink());
    append(l, keyed(0, 2000, 50));
    const std::vector<Rec> before = read_all(l);
    const std::int64_t start = l.log_start_offset(), end = l.log_end_offset();
    const auto section = l.cleanable_section(0);
    REQUIRE(section);
    CHECK(section->first_dirty == 0);
    const std::int64_t active_base = section->end_offset;

    const log::CleanerStats s = clean(l, 0);
    CHECK(s.groups_swapped > 0);
    CHECK(s.records_removed > 0);
    CHECK(l.cleaned_to() == active_base);
    CHECK(l.log_start_offset() == start);
    CHECK(l.log_end_offset() == end);

    const std::vector<Rec> after = read_all(l);
    CHECK(after.size() < before.size());
    CHECK(latest(after) == latest(before));
    std::map<std::int64_t, Rec> by_offset;
    for (const Rec& r : before)
        by_offset[r.offset] = r;
    std::map<std::string, int> seen_in_cleaned;
    std::int64_t previous = -1;
    for (const Rec& r : after) {
        CHECK(r.offset > previous);  // offsets kept, in order, with gaps
        previous = r.offset;
        CHECK(by_offset.at(r.offset).value == r.value);  // each record at its own offset
        if (r.offset < active_base) ++seen_in_cleaned[*r.key];
    }
    for (const auto& [key, n] : seen_in_cleaned)
        CHECK(n == 1);
    // The active segment is never touched.
    CHECK(std::count_if(after.begin(), after.end(), [&](const Rec& r) {
              return r.offset >= active_base;
          }) == end - active_base);

    // The emptied first segments stay: compaction never moves the log start (retention once
    // took a segment without records for one below a DeleteRecords floor of 0).
    CHECK(l.apply_retention(0) == 0);
    CHECK(l.log_start_offset() == start);
    CHECK(read_all(l).size() == after.size());

    // Nothing dirty is left: a second section has no dirty segment.
    const auto again = l.cleanable_section(0);
    REQUIRE(again);
    CHECK(again->first_dirty == again->segments.size());
    CHECK(again->dirty_ratio() == 0.0);
}

TEST_CASE("a cleaned log reopens as it was cleaned, its checkpoint kept", "[log][compaction]") {
    TempDir d("clean-reopen");
    std::vector<Rec> after;
    std::int64_t cleaned_to = 0;
    {
        log::PartitionLog l(d.path, compacted(), false, sink());
        append(l, keyed(0, 1500, 20));
        clean(l, 0);
        after = read_all(l);
        cleaned_to = l.cleaned_to();
    }
    for (const bool verify : {false, true}) {
        log::PartitionLog l(d.path, compacted(), verify, sink());
        CHECK(l.cleaned_to() == cleaned_to);
        const std::vector<Rec> reread = read_all(l);
        REQUIRE(reread.size() == after.size());
        for (std::size_t i = 0; i < after.size(); ++i)
            CHECK((reread[i].offset == after[i].offset && reread[i].value == after[i].value));
    }
}

TEST_CASE("tombstones outlive their first clean by delete.retention.ms, keyless records go",
          "[log][compaction]") {
    TempDir d("clean-tombstones");
    config::TopicConfig c = compacted();
    c.delete_retention_ms = 10'000;
    log::PartitionLog l(d.path, c, false, sink());
    std::vector<Rec> records = {
        {0, "gone", "a"}, {1, "kept", "b"}, {2, "gone", std::nullopt}, {3, std::nullopt, "no key"}};
    for (const Rec& r : keyed(4, 400, 7))
        records.push_back(r);
    append(l, records, 1, config::Compression::none, 50'000);

    const log::CleanerStats first = clean(l, 50'000 + 100);
    CHECK(first.keyless_removed == 1);
    CHECK(first.tombstones_removed == 0);
    std::vector<Rec> after = read_all(l);
    REQUIRE(after.size() >= 2);
    CHECK(after[0].offset == 1);  // "gone"'s value went, its tombstone stays
    CHECK(after[1].offset == 2);
    CHECK_FALSE(after[1].value);
    CHECK(std::none_of(after.begin(), after.end(), [](const Rec& r) { return !r.key; }));

    // Within delete.retention.ms of it: still there. Past it: the tombstone goes too.
    CHECK(clean(l, 50'000 + 5'000).tombstones_removed == 0);
    CHECK(clean(l, 50'000 + 20'000).tombstones_removed == 1);
    after = read_all(l);
    CHECK(after[0].offset == 1);
    CHECK(after[1].offset > 2);
    CHECK(latest(after).count("gone") == 0);
}

namespace {

// Producer 7's transactional batch of `records`, or its marker of `type` at `offset`.
void append_transactional(log::PartitionLog& l, const std::vector<Rec>& records, std::int64_t ts) {
    log::BatchBuilder b;
    for (const Rec& r : records)
        b.add(r.offset, ts, BytesView(*r.key), BytesView(*r.value), {});
    b.set_producer(7, 0, std::int32_t(records.front().offset));
    b.set_flags(log::transactional_flag);
    l.append(b.finish(config::Compression::none), 0);
}
void append_marker(log::PartitionLog& l, std::int64_t offset, log::ControlType type,
                   std::int64_t ts) {
    const auto key = log::control_key(type);
    const auto value = log::control_value(0);
    log::BatchBuilder b;
    b.add(offset, ts, BytesView(std::span<const std::byte>(key)),
          BytesView(std::span<const std::byte>(value)), {});
    b.set_producer(7, 0, -1);
    b.set_flags(std::int16_t(log::transactional_flag | log::control_flag));
    l.append(b.finish(config::Compression::none), 0);
}

}  // namespace

TEST_CASE("an aborted transaction's records never survive a clean nor supersede a committed value",
          "[log][compaction][transactions]") {
    TempDir d("clean-aborted");
    config::TopicConfig c = compacted();
    c.delete_retention_ms = 10'000;
    log::PartitionLog l(d.path, c, false, sink());
    // Committed: a1 b1 (0-1), COMMIT at 2. Aborted: a2 b2 (3-4), ABORT at 5, in the index.
    append_transactional(l, {{0, "a", "a1"}, {1, "b", "b1"}}, 1000);
    append_marker(l, 2, log::ControlType::commit, 1000);
    append_transactional(l, {{3, "a", "a2 aborted"}, {4, "b", "b2 aborted"}}, 1000);
    append_marker(l, 5, log::ControlType::abort, 1000);
    l.append_aborted({7, 3, 5, 6});
    append(l, keyed(6, 400, 7));  // other keys, and closed segments behind them

    const log::CleanerStats first = clean(l, 2000);
    CHECK(first.aborted_removed == 2);
    CHECK(first.markers_removed == 0);  // its records are there
    const auto values = latest(read_all(l));
    CHECK(values.at("a") == "a1");  // the aborted a2 superseded nothing
    CHECK(values.at("b") == "b1");
    for (const Rec& r : read_all(l))
        CHECK((!r.value || r.value->find("aborted") == std::string::npos));
    CHECK(l.aborted_transactions(0, 10).size() == 1);  // the ABORT and its entry stay

    // a and b written again, plainly: the committed transaction's records go at the next clean.
    // At the one after that, past delete.retention.ms, both markers go, nothing of their
    // transactions being left, and the ABORT's index entry with it.
    append(l, {{406, "a", "a3"}, {407, "b", "b3"}});
    append(l, keyed(408, 400, 7));
    CHECK(clean(l, 3000).markers_removed == 0);
    CHECK(clean(l, 30'000).markers_removed == 2);
    const auto after = read_all(l);
    CHECK(std::none_of(after.begin(), after.end(), [](const Rec& r) { return r.offset < 6; }));
    CHECK(latest(after).at("a") == "a3");
    CHECK(l.aborted_transactions(0, 10).empty());
    log::PartitionLog reopened(d.path, c, false, sink());  // and from its files
    CHECK(reopened.aborted_transactions(0, 10).empty());
}

TEST_CASE("max.compaction.lag.ms rolls a compacted topic's active segment, as segment.ms does",
          "[log][compaction]") {
    TempDir d("clean-lag-roll");
    config::TopicConfig c = compacted();
    c.segment_bytes = 1 << 20;  // never full here
    c.max_compaction_lag_ms = 1000;
    log::PartitionLog l(d.path, c, false, sink());
    append(l, keyed(0, 4, 2), 4, config::Compression::none, 10'000);
    append(l, keyed(4, 4, 2), 4, config::Compression::none, 10'500);  // within the lag
    CHECK(l.segment_count() == 1);
    append(l, keyed(8, 4, 2), 4, config::Compression::none, 11'500);  // past it: rolled
    CHECK(l.segment_count() == 2);
    // Without compaction the lag means nothing: segment.ms alone rolls.
    TempDir plain_dir("clean-lag-plain");
    config::TopicConfig p = c;
    p.cleanup_compact = false;
    p.cleanup_delete = true;
    log::PartitionLog plain(plain_dir.path, p, false, sink());
    append(plain, keyed(0, 4, 2), 4, config::Compression::none, 10'000);
    append(plain, keyed(4, 4, 2), 4, config::Compression::none, 11'500);
    CHECK(plain.segment_count() == 1);
}

TEST_CASE("compressed batches are cleaned and written back with their codec", "[log][compaction]") {
    for (const config::Compression codec :
         {config::Compression::gzip, config::Compression::lz4, config::Compression::zstd}) {
        TempDir d("clean-codec");
        log::PartitionLog l(d.path, compacted(), false, sink());
        append(l, keyed(0, 3000, 30), 16, codec);
        const std::vector<Rec> before = read_all(l);
        CHECK(clean(l, 0).records_removed > 0);
        CHECK(latest(read_all(l)) == latest(before));
        const std::string first = l.read(0, 1 << 20);
        const log::BatchView b({reinterpret_cast<const std::byte*>(first.data()), first.size()});
        REQUIRE(b.check(true) == log::BatchCheck::ok);
        CHECK(b.compression_codec() == int(codec));
    }
}

TEST_CASE("a segment the cleaner cannot read is left whole, with a log line", "[log][compaction]") {
    TempDir d("clean-corrupt");
    log::PartitionLog l(d.path, compacted(), false, sink());
    append(l, keyed(0, 2000, 50));
    const auto section = l.cleanable_section(0);
    REQUIRE(section->segments.size() > 4);
    // A byte flipped in the middle of an old segment (not its tail): its CRC fails.
    const std::string victim = section->segments[2].path;
    {
        std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(std::streamoff(section->segments[2].size_bytes / 2));
        char c = 0;
        f.read(&c, 1);
        f.seekp(std::streamoff(section->segments[2].size_bytes / 2));
        c = char(c ^ 0x5a);
        f.write(&c, 1);
    }
    const std::string damaged = file_bytes(victim);
    logged.clear();
    const log::CleanerStats s = clean(l, 0);
    CHECK(s.segments_skipped == 1);
    CHECK(s.groups_swapped > 0);
    CHECK(file_bytes(victim) == damaged);  // never rewritten, never deleted
    CHECK(std::any_of(logged.begin(), logged.end(), [&](const std::string& line) {
        return line.starts_with("ERROR log cleaner: skipping " + victim);
    }));
}

TEST_CASE("a swap a crash interrupted is finished at the next open, a staging one dropped",
          "[log][compaction]") {
    TempDir d("clean-crash");
    std::map<std::string, std::optional<std::string>> newest;
    std::size_t cleaned_count = 0;
    {
        log::PartitionLog l(d.path, compacted(), false, sink());
        append(l, keyed(0, 1500, 20));
        newest = latest(read_all(l));
        config::TopicConfig larger = compacted();
        larger.segment_bytes = 16384;  // groups of about four segments
        l.set_config(larger);
        // Crash right after the commit point: the first group's .log renamed to .swap, nothing
        // else done.
        bool first = true;
        clean(l, 0, [&](log::CleanedGroup& g) {
            if (!first) return false;
            first = false;
            const std::int64_t base = g.replaced.front().base_offset;
            fs::rename(log::segment_file_name(g.staging_dir, base, ".log"),
                       log::segment_file_name(d.path, base, ".log.swap"));
            cleaned_count = g.replaced.size();
            return false;
        });
        REQUIRE(cleaned_count > 1);
        // A later pass that died while staging.
        fs::create_directories(d.path + "/cleaner");
        std::ofstream(d.path + "/cleaner/00000000000000000000.log") << "half a segment";
    }
    log::PartitionLog l(d.path, compacted(), false, sink());
    CHECK_FALSE(fs::exists(d.path + "/cleaner"));
    CHECK_FALSE(fs::exists(log::segment_file_name(d.path, 0, ".log.swap")));
    const std::vector<Rec> after = read_all(l);
    CHECK(latest(after) == newest);
    std::int64_t previous = -1;
    for (const Rec& r : after) {
        CHECK(r.offset > previous);
        previous = r.offset;
    }
}

TEST_CASE("a base offset flipped in an old segment never makes the cleaner drop newest values",
          "[log][compaction]") {
    // The CRC does not cover a batch's base offset: offsets 2^48 and more, taken into the key
    // map, superseded every key of that batch, and their newest values elsewhere went.
    TempDir d("clean-flipped-base");
    std::vector<Rec> records = keyed(0, 2000, 50);
    for (std::int64_t o = 2000; o < 2200; ++o)  // the newest of every k<n> in closed segments
        records.push_back({o, "filler" + std::to_string(o), "f"});
    {
        log::PartitionLog l(d.path, compacted(), false, sink());
        append(l, records);
    }
    std::vector<fs::path> logs;
    for (const auto& e : fs::directory_iterator(d.path))
        if (e.path().extension() == ".log") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    REQUIRE(logs.size() > 4);
    {
        std::fstream f(logs[2], std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1);
        const char high = 0x01;
        f.write(&high, 1);
    }
    log::PartitionLog l(d.path, compacted(), false, sink());
    clean(l, 0);
    CHECK(latest(read_all(l)) == latest(records));
}

TEST_CASE("an extent taken before a swap is refused by the reader after it", "[log][compaction]") {
    TempDir d("clean-extent");
    log::PartitionLog l(d.path, compacted(), false, sink());
    append(l, keyed(0, 1500, 20));
    const log::PartitionLog::Extent e = l.locate(0, 4096);
    REQUIRE(e.length > 0);
    clean(l, 0);
    detail::FileExtentReader reader;
    CHECK(reader.read(e.path, e.position, e.length, e.inode) ==
          detail::FileExtentReader::Result::replaced);
    const log::PartitionLog::Extent now = l.locate(0, 4096);
    CHECK(now.inode != e.inode);
    CHECK(reader.read(now.path, now.position, now.length, now.inode) ==
          detail::FileExtentReader::Result::read);
}

TEST_CASE("retention.ms and retention.bytes apply to compact,delete topics only",
          "[log][compaction]") {
    for (const bool also_delete : {false, true}) {
        TempDir d("clean-retention");
        config::TopicConfig c = compacted();
        c.cleanup_delete = also_delete;
        c.retention_ms = 1000;
        log::PartitionLog l(d.path, c, false, sink());
        append(l, keyed(0, 1000, 10), 4, config::Compression::none, 1000);
        const std::size_t deleted = l.apply_retention(1'000'000);
        CHECK((deleted > 0) == also_delete);
    }
}

TEST_CASE("the key map's bound: a pass maps what fits, a segment with more keys is refused",
          "[log][compaction]") {
    TempDir d("clean-bound");
    log::PartitionLog l(d.path, compacted(), false, sink());
    append(l, keyed(0, 4000, 4000));  // every key unique: about 40 a segment
    const auto section = l.cleanable_section(0);
    REQUIRE(section);
    log::IoThrottle unlimited(std::numeric_limits<std::int64_t>::max());
    const auto swap = [&l](log::CleanedGroup& g) { return l.swap_in_cleaned(g); };
    {  // room for 10 keys: not one segment fits, nothing is touched
        log::LogCleaner cleaner(l.config(), 0, unlimited, sink(),
                                10 * log::LogCleaner::key_map_entry_bytes);
        const log::CleanerStats s = cleaner.clean(*section, swap);
        CHECK(s.key_map_full);
        CHECK(s.groups_swapped == 0);
        CHECK(s.cleaned_to == 0);
    }
    {  // room for 200 keys: the first segments, and the checkpoint stops where the map did
        log::LogCleaner cleaner(l.config(), 0, unlimited, sink(),
                                200 * log::LogCleaner::key_map_entry_bytes);
        const log::CleanerStats s = cleaner.clean(*section, swap);
        CHECK_FALSE(s.key_map_full);
        CHECK(s.groups_swapped > 0);
        CHECK(s.cleaned_to > 0);
        CHECK(s.cleaned_to < section->end_offset);
        l.set_cleaned_to(s.cleaned_to);
    }
    CHECK(read_all(l).size() == 4000);  // unique keys: nothing to remove, nothing lost
}

TEST_CASE("a cleaner checkpoint past the log's end counts as none", "[log][compaction]") {
    TempDir d("clean-checkpoint");
    {
        log::PartitionLog l(d.path, compacted(), false, sink());
        append(l, keyed(0, 1000, 10));
    }
    std::ofstream(d.path + "/cleaner-offset-checkpoint") << "0\n1\nt 0 99999999999\n";
    log::PartitionLog l(d.path, compacted(), false, sink());
    CHECK(l.cleaned_to() == 0);
    const auto section = l.cleanable_section(0);
    REQUIRE(section);
    CHECK(section->first_dirty == 0);
}

TEST_CASE("a stop ends a throttled pass at once, the checkpoint where it was",
          "[log][compaction]") {
    TempDir d("clean-stop");
    log::PartitionLog l(d.path, compacted(), false, sink());
    append(l, keyed(0, 3000, 30));
    const auto section = l.cleanable_section(0);
    REQUIRE(section);
    log::IoThrottle slow(1000);  // 1 KB/s: the pass would take minutes
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop = true;
    });
    log::LogCleaner cleaner(l.config(), 0, slow, sink());
    const auto t0 = std::chrono::steady_clock::now();
    const log::CleanerStats s = cleaner.clean(
        *section, [&l](log::CleanedGroup& g) { return l.swap_in_cleaned(g); }, &stop);
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    CHECK(s.cleaned_to == 0);
    CHECK_FALSE(fs::exists(d.path + "/cleaner"));
}

TEST_CASE("the I/O throttle holds a pass to its rate", "[log][compaction]") {
    log::IoThrottle throttle(10'000'000);  // 10 MB/s: a 2 MB pass takes about 0.2 s
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i)
        throttle.pace(10'000);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
}
