// What the log cleaner knows of transactions as it walks a partition's batches in offset order
// (Kafka's CleanedTransactionMetadata): which data batches belong to an aborted transaction, so
// that they never count in the key map and never survive a clean, and which markers may go.
//
// From the aborted-transactions index, a producer's transactional batches from an entry's first
// offset up to its ABORT marker are aborted. A marker may go once no batch of its transaction was
// met in this walk (its records compacted away, or aborted and removed, before): a COMMIT, and an
// ABORT with its index entry, which goes first (an entry left without its marker would have a
// read_committed reader skip that producer's later, committed, batches). Never an ABORT when the
// walk skipped an unreadable segment, which may hold the transaction's records.
//
// One per walk (the key map's over the dirty segments; the rewrite's over the whole section).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "kbus/log/control_record.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/transaction_index.hpp"

namespace kbus::log {

class CleanerTransactions {
  public:
    // `aborted`: the index's entries overlapping the section, oldest first offset first.
    // `aborts_removable`: the walk skips no segment as unreadable.
    CleanerTransactions(std::vector<AbortedTransaction> aborted, bool aborts_removable)
        : aborted_(std::move(aborted)), aborts_removable_(aborts_removable) {}

    // A data batch: whether it is an aborted transaction's (then it goes, whole).
    [[nodiscard]] bool aborted(const BatchView& b) {
        take_aborted_up_to(b);
        if (!b.is_transactional() || b.producer_id() < 0) return false;
        const auto open = open_aborted_.find(b.producer_id());
        // Past its marker (one in a segment this walk skipped): that transaction is over.
        if (open != open_aborted_.end() && b.base_offset() > open->second.entry.last_offset)
            open_aborted_.erase(open);
        else if (open != open_aborted_.end())
            return open->second.met = true;
        committed_met_.insert(b.producer_id());
        return false;
    }
    // A control batch: whether its marker may go (none of its transaction's batches met); for an
    // ABORT, `entry` is then its index entry, to go first.
    [[nodiscard]] bool marker_removable(const BatchView& b, std::optional<ControlType> type,
                                        std::optional<AbortedTransaction>& entry) {
        take_aborted_up_to(b);
        entry.reset();
        if (!type) return false;  // a marker of a type Kafka does not define: kept as it is
        if (*type == ControlType::commit) return committed_met_.erase(b.producer_id()) == 0;
        const auto open = open_aborted_.find(b.producer_id());
        if (open == open_aborted_.end()) return false;  // no entry of its own: kept
        const OpenAbort a = open->second;
        open_aborted_.erase(open);
        if (!aborts_removable_ || a.met || a.entry.last_offset != b.base_offset()) return false;
        entry = a.entry;
        return true;
    }

  private:
    // The entries begun by the end of batch `b`; one whose marker lies before `b` (before the
    // walk's start, or in a segment it skipped) says nothing here.
    void take_aborted_up_to(const BatchView& b) {
        for (; next_ < aborted_.size() && aborted_[next_].first_offset <= b.last_offset(); ++next_)
            if (aborted_[next_].last_offset >= b.base_offset())
                open_aborted_[aborted_[next_].producer_id] = {aborted_[next_], false};
    }

    struct OpenAbort {
        AbortedTransaction entry;
        bool met = false;  // a batch of it was met in this walk
    };
    std::vector<AbortedTransaction> aborted_;
    bool aborts_removable_;
    std::size_t next_ = 0;
    std::map<std::int64_t, OpenAbort> open_aborted_;  // by producer
    std::set<std::int64_t> committed_met_;  // producers whose (committed) batches were met
};

}  // namespace kbus::log
