// Kafka's aborted-transactions index of a partition: for each aborted transaction, its producer,
// its first offset and its ABORT marker's offset, kept in memory and in <base>.txnindex beside
// the segment that holds the marker (record_batch_descriptor.hpp). A read_committed reader of the
// log skips a producer's transactional batches from an entry's first offset up to its marker.
//
// Not thread-safe: PartitionLog guards it with its mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kbus::log {

struct AbortedTransaction {
    std::int64_t producer_id = -1;
    std::int64_t first_offset = -1;
    std::int64_t last_offset = -1;  ///< the ABORT marker's offset
    std::int64_t last_stable_offset = -1;
};

class TransactionIndex {
  public:
    explicit TransactionIndex(std::string dir) : dir_(std::move(dir)) {}

    // Reads every .txnindex of the directory (a segment the cleaner merged into another leaves
    // its own). Entries at or past `log_end` were cut with a torn tail: they are dropped, from
    // the file too (the spill writes them again if it writes their marker again), as is a torn
    // last entry. An entry no abort can have is dropped alone; returns how many were.
    [[nodiscard]] std::size_t load(std::int64_t log_end);
    // An abort whose marker the segment based at `segment_base` holds: appended to its file.
    // Throws Error(io_error).
    void append(std::int64_t segment_base, const AbortedTransaction& t);
    // The aborted transactions that overlap offsets from..to (inclusive), oldest first.
    [[nodiscard]] std::vector<AbortedTransaction> overlapping(std::int64_t from,
                                                              std::int64_t to) const;
    // Segments below `base` are gone (retention): their entries and files go too.
    void drop_below(std::int64_t base);
    // The cleaner removed these entries' ABORT markers: the entries go, their files rewritten
    // durably (one left empty is removed). Throws Error(io_error).
    void remove(const std::vector<AbortedTransaction>& gone);
    [[nodiscard]] std::string path_of(std::int64_t segment_base) const;

  private:
    std::string dir_;
    std::map<std::int64_t, std::vector<AbortedTransaction>> by_segment_;
};

}  // namespace kbus::log
