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
    // After a restart, the coordinator's word that the producer's transaction here was open and
    // began at or after `offset` (the partition's end when it was added): its first record may
    // lie before what the log's tail showed, so the earlier of the two counts. Unless a marker
    // of the producer at or after `offset` is known: that transaction has ended already.
    void open_since(std::int64_t producer_id, std::int64_t offset) {
        if (const auto m = last_marker_.find(producer_id);
            m != last_marker_.end() && m->second >= offset)
            return;
        const auto [it, fresh] = open_.try_emplace(producer_id, offset);
        if (!fresh) it->second = std::min(it->second, offset);
    }
    // The producer's marker at `offset` is in the log: its transaction ends.
    void ended(std::int64_t producer_id, std::int64_t offset) {
        open_.erase(producer_id);
        last_marker_[producer_id] = offset;
    }
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
    // Producer id -> its last marker's offset (transactional producers only: a few thousand).
    std::map<std::int64_t, std::int64_t> last_marker_;
};

}  // namespace kbus::spill
