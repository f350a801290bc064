// The fault harness's bit rot: bytes flipped inside one batch of a closed segment, one that lies
// wholly below the partition's recovery point (so that the contract says it costs that batch
// alone, whatever restart follows). The records of a flipped batch may then be lost, and the
// check counts them apart; the same batch is never flipped twice (a second XOR would heal it).
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "log_damage.hpp"

namespace kbus::harness {

struct FlippedBatch {
    std::int32_t partition = 0;
    std::int64_t first_offset = 0;
    std::int64_t last_offset = 0;
    std::string file;
};

// The offset below which the partition's log is known to be on disk (Kafka's checkpoint file:
// version, count, then "topic partition offset"); -1 if there is none.
inline std::int64_t recovery_point(const std::string& partition_dir) {
    std::ifstream in(partition_dir + "/recovery-point-offset-checkpoint");
    std::string version, count, topic;
    std::int64_t partition = 0, offset = -1;
    if (!(in >> version >> count >> topic >> partition >> offset)) return -1;
    return offset;
}

class SegmentFlipper {
  public:
    SegmentFlipper(std::string data_dir, std::string topic, std::int32_t partitions)
        : data_dir_(std::move(data_dir)), topic_(std::move(topic)), partitions_(partitions) {}

    // Flips 8 bytes in the records of a random eligible batch; nothing if there is none yet.
    std::optional<FlippedBatch> flip(std::mt19937_64& rng) {
        const auto partition = std::int32_t(rng() % std::uint64_t(partitions_));
        const std::string dir = data_dir_ + "/" + topic_ + "-" + std::to_string(partition);
        if (!std::filesystem::exists(dir)) return std::nullopt;
        const std::int64_t below = recovery_point(dir);
        const auto logs = kbus::testing::segment_logs(dir);
        std::vector<std::pair<std::filesystem::path, kbus::testing::BatchSpan>> eligible;
        // Two newer segments at least: the active one and the one most recently closed (whose
        // checkpoint may still be on its way) are left alone.
        for (std::size_t i = 0; i + 2 < logs.size(); ++i)
            for (const auto& b : kbus::testing::batches_of(logs[i]))
                if (b.last_offset < below && b.end - b.begin >= min_batch &&
                    !done_.count({logs[i].string(), b.begin}))
                    eligible.emplace_back(logs[i], b);
        if (eligible.empty()) return std::nullopt;
        const auto& [file, b] = eligible[rng() % eligible.size()];
        const std::uint64_t room = b.end - b.begin - kbus::log::batch_header_bytes - 8;
        kbus::testing::flip_bytes(file, b.begin + kbus::log::batch_header_bytes + rng() % room, 8);
        done_.insert({file.string(), b.begin});
        return FlippedBatch{partition, b.first_offset, b.last_offset, file.string()};
    }

  private:
    static constexpr std::uint64_t min_batch = kbus::log::batch_header_bytes + 24;
    std::string data_dir_, topic_;
    std::int32_t partitions_;
    std::set<std::pair<std::string, std::uint64_t>> done_;
};

}  // namespace kbus::harness
