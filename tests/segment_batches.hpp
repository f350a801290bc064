// The batches of a partition's .log files, read straight from disk as any Kafka tool would:
// each one's offsets and its idempotent producer fields, its CRC checked.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kbus/client.hpp"
#include "kbus/log/control_record.hpp"
#include "kbus/log/record_batch.hpp"
#include "log_damage.hpp"

namespace kbus::test {

struct BatchFacts {
    std::int64_t base_offset = 0;
    std::int64_t last_offset = 0;
    std::int32_t records = 0;
    std::int64_t producer_id = -1;
    std::int16_t producer_epoch = -1;
    std::int32_t base_sequence = -1;
    bool transactional = false;
    bool control = false;
    std::optional<log::ControlType> marker;  // a control batch's first record's
};

// Waits (at most 30 s) until the spill took every record of every partition of `topic` up to its
// high watermark: the log then holds what was sent.
inline void wait_spilled(Client& c, const std::string& topic) {
    using namespace std::chrono_literals;
    for (int i = 0; i < 3000; ++i) {
        bool all = true;
        for (const auto& s : c.describe_topic(topic).partitions)
            all = all && s.spill_offset == s.high_watermark;
        if (all) return;
        std::this_thread::sleep_for(10ms);
    }
    FAIL("the spill did not catch up");
}

// Every batch of every segment of `partition_dir`, in file order. A batch whose CRC fails, or
// bytes that are not a whole batch, end the walk with `sound` false.
inline std::vector<BatchFacts> batches_on_disk(const std::string& partition_dir,
                                               bool* sound = nullptr) {
    std::vector<BatchFacts> out;
    if (sound) *sound = true;
    for (const std::filesystem::path& path : testing::segment_logs(partition_dir)) {
        std::ifstream in(path, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), {});
        for (std::size_t at = 0; at < bytes.size();) {
            const log::BatchView b(
                {reinterpret_cast<const std::byte*>(bytes.data()) + at, bytes.size() - at});
            if (bytes.size() - at < log::batch_header_bytes ||
                b.check(true) != log::BatchCheck::ok) {
                if (sound) *sound = false;
                break;
            }
            BatchFacts f{b.base_offset(),      b.last_offset(),    b.record_count(),
                         b.producer_id(),      b.producer_epoch(), b.base_sequence(),
                         b.is_transactional(), b.is_control(),     std::nullopt};
            log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                                   b.base_timestamp());
            if (log::RecordView r; f.control && it.next(r)) f.marker = log::control_type(r.key);
            out.push_back(f);
            at += b.total_bytes();
        }
    }
    return out;
}

}  // namespace kbus::test
