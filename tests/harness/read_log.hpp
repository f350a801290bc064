// What a harness consumer (plain or group member) notes about what it read. A batch's views are
// only guaranteed until the next poll, and a consumer stopped while holding one is told at that
// next poll that the batch was invalidated. So each record is hashed at once but noted only when
// the next poll confirms its batch held up: a record whose checksum failed then was delivered torn.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/history_file.hpp"
#include "harness/record_content.hpp"
#include "kbus/kbus.hpp"

namespace kbus::harness {

class ReadLog {
  public:
    explicit ReadLog(const HistoryFile& history) : history_(&history) {}

    // After a poll that returned: the previous batch held, and `batch` is the new one.
    void polled(const kbus::Batch& batch) {
        confirm_pending([](const Pending&) { return true; });
        for (const auto& m : batch) {
            const std::string_view key = m.key().str(), value = m.value().str();
            pending_.push_back({m.partition(), m.offset(), content_hash(key, value),
                                record_intact(key, value), std::string(key),
                                ownership_[m.partition()]});
        }
    }
    // The poll threw: a held batch invalidated keeps what lies below its resume offset. Any other
    // OffsetOutOfRange (a loss to corruption, a hole) comes from reading, after the poll found
    // the held batch sound, so that batch is confirmed whole before the loss is noted.
    void poll_failed(const kbus::OffsetOutOfRange& e) {
        const std::int32_t part = e.partition();
        const std::int64_t resume = e.resume_offset();
        confirm_pending([&](const Pending& p) {
            return e.code() != kbus::ErrorCode::batch_invalidated || p.partition != part ||
                   p.offset < resume;
        });
        if (e.code() == kbus::ErrorCode::corrupt_record) {
            const auto at = next_.find(part);
            history_->write("X " + std::to_string(part) + " " +
                            std::to_string(at == next_.end() ? -1 : at->second) + " " +
                            std::to_string(resume) + "\n");
        }
    }
    void poll_failed() { pending_.clear(); }
    // The next offset after the last confirmed record of a partition, if any since forget().
    [[nodiscard]] std::optional<std::int64_t> next(std::int32_t partition) const {
        const auto at = next_.find(partition);
        if (at == next_.end()) return std::nullopt;
        return at->second;
    }
    // The partition moved (revoked, lost or assigned anew): what was confirmed of it before says
    // nothing about where its new owner stands, nor does a batch of it still pending.
    void forget(std::int32_t partition) {
        next_.erase(partition);
        ++ownership_[partition];
    }
    [[nodiscard]] std::uint64_t confirmed() const noexcept { return confirmed_; }

  private:
    struct Pending {
        std::int32_t partition;
        std::int64_t offset;
        std::uint64_t hash;
        bool intact;
        std::string key;
        std::uint64_t ownership;  // of its partition when it was read
    };
    template <typename Keep>
    void confirm_pending(Keep keep) {
        std::string lines;
        for (const Pending& p : pending_) {
            if (!keep(p)) continue;
            const std::string where = std::to_string(p.partition) + " " + std::to_string(p.offset);
            lines += p.intact ? "S " + where + " " + std::to_string(p.hash) + "\n"
                              : "T " + where + " " + p.key + "\n";
            if (p.ownership == ownership_[p.partition]) next_[p.partition] = p.offset + 1;
            ++confirmed_;
        }
        pending_.clear();
        history_->write(lines);
    }

    const HistoryFile* history_;
    std::vector<Pending> pending_;
    std::map<std::int32_t, std::int64_t> next_;
    std::map<std::int32_t, std::uint64_t> ownership_;  // bumped by each forget()
    std::uint64_t confirmed_ = 0;
};

}  // namespace kbus::harness
