// The fault harness's last look at the bus: a fresh consumer reads every partition from the
// beginning to its high watermark (disk and ring alike), noting each record and each range it
// was told was lost to corruption.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "harness/record_content.hpp"
#include "kbus/kbus.hpp"

namespace kbus::harness {

struct FinalRecord {
    std::string key;
    std::uint64_t hash = 0;
    bool intact = false;
};

struct CorruptRange {
    std::int32_t partition = 0;
    std::int64_t from = 0;  // first offset lost (as far as the reader knows)
    std::int64_t to = 0;    // where it resumed
};

struct FinalLog {
    std::map<std::pair<std::int32_t, std::int64_t>, FinalRecord> records;
    std::vector<CorruptRange> corrupt;
    std::map<std::int32_t, std::int64_t> high_watermarks;
    std::string stalled;  // empty: every partition was read to its end
};

inline bool read_to_end(kbus::Consumer& con, const FinalLog& log, const std::string& topic) {
    for (const auto& [partition, hwm] : log.high_watermarks)
        if (con.position(topic, partition) < hwm) return false;
    return true;
}

// Where each partition short of its end stands, and what kbusd says about that offset.
inline std::string stall_report(kbus::Client& c, const kbus::Consumer& con, const FinalLog& log,
                                const std::string& topic) {
    std::string out;
    const std::uint64_t id = c.topic(topic)->metadata.topic_id;
    for (const auto& [partition, hwm] : log.high_watermarks) {
        const std::int64_t at = con.position(topic, partition);
        out += " partition " + std::to_string(partition) + " at " + std::to_string(at) + " of " +
               std::to_string(hwm);
        if (at >= hwm) continue;
        try {
            const auto f = c.fetch(id, partition, at, 1 << 20, true);
            out += " (kbusd: log " + std::to_string(f.log_start_offset) + ".." +
                   std::to_string(f.log_end_offset) + ", ring from " +
                   std::to_string(f.ring_start_offset) + ", extent " + f.file_path + " @" +
                   std::to_string(f.file_position) + "+" + std::to_string(f.file_length) + ")";
        } catch (const kbus::Error& e) {
            out += std::string(" (kbusd: ") + e.what() + ")";
        }
    }
    return out;
}

inline FinalLog read_final_log(kbus::Client& c, const std::string& topic) {
    using namespace std::chrono_literals;
    FinalLog log;
    const auto description = c.describe_topic(topic);
    kbus::Consumer con(c, {.wait = kbus::WaitMode::blocking, .max_poll_records = 1000});
    for (const auto& p : description.partitions) {
        log.high_watermarks[p.partition] = p.high_watermark;
        con.assign(topic, p.partition, kbus::OffsetSpec::beginning());
    }
    std::map<std::int32_t, std::int64_t> next;
    for (int idle = 0; !read_to_end(con, log, topic);) {
        if (++idle > 200) {  // 10 s without a record, short of the end
            log.stalled = stall_report(c, con, log, topic);
            break;
        }
        try {
            for (const auto& m : con.poll(50ms)) {
                idle = 0;
                const std::string_view key = m.key().str(), value = m.value().str();
                log.records[{m.partition(), m.offset()}] = {
                    std::string(key), content_hash(key, value), record_intact(key, value)};
                next[m.partition()] = m.offset() + 1;
            }
        } catch (const kbus::OffsetOutOfRange& e) {
            log.corrupt.push_back({e.partition(), next[e.partition()], e.resume_offset()});
            if (e.code() != kbus::ErrorCode::corrupt_record)
                con.seek(topic, e.partition(), kbus::OffsetSpec::at(e.resume_offset()));
            next[e.partition()] = e.resume_offset();
            idle = 0;
        }
    }
    return log;
}

}  // namespace kbus::harness
