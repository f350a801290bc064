// The transactions a partition's log holds records of but no marker for yet, as the spill writes
// them: per producer, the offset of its transaction's first record here. The oldest one is the
// log's last stable offset; an ABORT marker turns its producer's entry into one of Kafka's
// aborted-transactions index (.txnindex). Rebuilt after a start from the log's tail with the
// producers' sequences (PartitionSpill::learn_producers). Not thread-safe: the spill's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "kbus/log/control_record.hpp"
#include "log/transaction_index.hpp"

namespace kbus::spill {

class OpenTransactions {
  public:
    // A transactional record of `producer_id` at `offset` was written: it opens a transaction
    // unless one is open.
    void written(std::int64_t producer_id, std::int64_t offset) {
        open_.try_emplace(producer_id, offset);
    }
    // The index entry the producer's marker at `offset` makes: an ABORT of an open transaction
    // (a marker with nothing open, a second one, makes none).
    [[nodiscard]] std::optional<log::AbortedTransaction> aborted_entry(std::int64_t producer_id,
                                                                       log::ControlType type,
                                                                       std::int64_t offset) const {
        const auto it = open_.find(producer_id);
        if (it == open_.end() || type != log::ControlType::abort) return std::nullopt;
        std::optional<std::int64_t> others;
        for (const auto& [id, first] : open_)
            if (id != producer_id) others = std::min(first, others.value_or(first));
        return log::AbortedTransaction{producer_id, it->second, offset,
                                       others.value_or(offset + 1)};
    }
    // The producer's marker is in the log: its transaction ends.
    void ended(std::int64_t producer_id) { open_.erase(producer_id); }
    // The first offset of the oldest open transaction (nullopt: none).
    [[nodiscard]] std::optional<std::int64_t> first_open() const {
        if (open_.empty()) return std::nullopt;
        return std::min_element(open_.begin(), open_.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; })
            ->second;
    }
    [[nodiscard]] bool empty() const noexcept { return open_.empty(); }

  private:
    std::map<std::int64_t, std::int64_t> open_;  // producer id -> its first offset
};

}  // namespace kbus::spill
