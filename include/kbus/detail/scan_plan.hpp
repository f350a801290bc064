// Which of a consumer's partitions a gather pass reads. A consumer of a few partitions reads all
// of them on every pass. One of many reads the partitions that gave records lately (hot) on every
// pass and the others (cold) a slice at a time, so that a pass costs what is active, not what is
// assigned: a consumer of 1000 partitions, 10 of them busy, pays per record about what a consumer
// of those 10 pays.
//
// The slice is sized by what the passes before found: 64 cold partitions after a pass that found
// nothing (the consumer has nothing better to do), else one per 256 records found (a cold
// partition's lines have left the cache, so a read of one costs about a memory access: spread
// over 256 records, well under a nanosecond each). The slice is read before the hot partitions,
// so a full batch of hot records never starves it. A consumer that never catches up finds a
// record on a cold partition once the slices come round to it (cold partitions x 256 records of
// hot traffic at most); one that catches up, at its next idle passes. A pass before the
// consumer sleeps, and the first after it wakes, read everything.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kbus::detail {

class ScanPlan {
  public:
    /// Up to this many sources every pass reads everything (a pass over them is short anyway).
    static constexpr std::size_t read_all_up_to = 64;
    /// Cold sources a pass reads after a pass that found nothing, and at most.
    static constexpr std::size_t cold_slice_max = 64;
    /// Otherwise one cold source per this many records found.
    static constexpr std::size_t records_per_cold_read = 256;
    /// A hot source that gave nothing for this many passes goes cold (a busy-polling consumer
    /// makes a pass in well under a microsecond, so this is a few milliseconds at most).
    static constexpr std::uint64_t cools_after_passes = 4096;
    static constexpr std::uint64_t cool_check_every = 256;  ///< passes; the check walks the hot

    /// The sources are now `n`; indices below the old count keep their activity.
    void resize(std::size_t n) {
        last_active_.resize(n, 0);
        is_hot_.resize(n, 0);
        std::erase_if(hot_, [n](std::size_t i) { return i >= n; });
        read_everything_next();
    }
    void clear() noexcept {
        last_active_.clear();
        is_hot_.clear();
        hot_.clear();
        next_ = cold_cursor_ = 0;
    }
    /// The next pass reads every source (after a sleep: the wake may be for a cold one).
    void read_everything_next() noexcept { everything_next_ = true; }

    /// One pass: read(i) for each source it reads, returning how many records i gave, until
    /// full() says the batch has no more room. Sources are taken round robin, a different one
    /// first each pass.
    template <class Read, class Full>
    void pass(bool everything, Read&& read, Full&& full) {
        ++passes_;
        const std::size_t n = last_active_.size();
        if (n == 0) return;
        std::size_t found = 0;
        if (everything || everything_next_ || n <= read_all_up_to) {
            everything_next_ = false;
            for (std::size_t k = 0; k < n && !full(); ++k)
                found += visit((next_ + k) % n, read);
        } else {
            found += read_cold_slice(cold_slice(), read, full);
            const std::size_t h = hot_.size();
            for (std::size_t k = 0; k < h && !full(); ++k)
                found += visit(hot_[(next_ + k) % h], read);
            if (passes_ % cool_check_every == 0) cool_idle();
        }
        idle_last_pass_ = found == 0;
        records_toward_cold_read_ = idle_last_pass_ ? 0 : records_toward_cold_read_ + found;
        next_ = next_ + 1 < n ? next_ + 1 : 0;
    }

    /// When each source last gave records, in passes (0: never): the blocking consumer's choice
    /// of what to sleep on.
    [[nodiscard]] std::span<const std::uint64_t> last_active() const noexcept {
        return last_active_;
    }
    [[nodiscard]] std::size_t hot_count() const noexcept { return hot_.size(); }

  private:
    template <class Read>
    std::size_t visit(std::size_t i, Read& read) {
        const std::size_t records = read(i);
        if (records == 0) return 0;
        last_active_[i] = passes_;
        if (!is_hot_[i]) {
            is_hot_[i] = 1;
            hot_.push_back(i);
        }
        return records;
    }

    /// The cold sources this pass reads: a full slice after an idle pass, else what the
    /// records found since the last cold read have paid for.
    [[nodiscard]] std::size_t cold_slice() noexcept {
        if (idle_last_pass_) return cold_slice_max;
        const std::size_t paid =
            std::min(records_toward_cold_read_ / records_per_cold_read, cold_slice_max);
        records_toward_cold_read_ -= paid * records_per_cold_read;
        return paid;
    }

    void cool_idle() {
        std::erase_if(hot_, [this](std::size_t i) {
            const bool idle = passes_ - last_active_[i] > cools_after_passes;
            if (idle) is_hot_[i] = 0;
            return idle;
        });
    }

    template <class Read, class Full>
    std::size_t read_cold_slice(std::size_t slice, Read& read, Full& full) {
        const std::size_t n = last_active_.size();
        std::size_t found = 0;
        for (std::size_t tried = 0, taken = 0; tried < n && taken < slice && !full(); ++tried) {
            const std::size_t i = cold_cursor_;
            cold_cursor_ = cold_cursor_ + 1 < n ? cold_cursor_ + 1 : 0;
            if (is_hot_[i]) continue;
            ++taken;
            found += visit(i, read);
        }
        return found;
    }

    std::vector<std::uint64_t> last_active_;
    std::vector<std::uint8_t> is_hot_;
    std::vector<std::size_t> hot_;  ///< indices of the hot sources
    std::uint64_t passes_ = 0;
    std::size_t records_toward_cold_read_ = 0;  ///< records found since the last paid-for read
    bool idle_last_pass_ = true;                ///< the last pass found nothing
    std::size_t next_ = 0;                      ///< where the round robin starts
    std::size_t cold_cursor_ = 0;               ///< the next cold source a slice reads
    bool everything_next_ = true;
};

}  // namespace kbus::detail
