// What a read_committed consumer needs to tell committed records from aborted ones (Kafka's
// isolation.level=read_committed), on the ring and from the log.
//
// On the ring, a transactional record's outcome is the first marker of its producer after it
// (RecordType::control, written by the daemon when the transaction ends). RingOutcomes looks
// ahead for it from where its last look stopped, noting every marker it passes, so each frame is
// looked at once more at most; a record whose marker is not there yet is the last stable offset,
// where reading stops until it comes.
//
// From the log, as Kafka's consumer does: the fetch names the aborted transactions ahead and the
// last stable offset; LogOutcomes skips a producer's transactional batches from an aborted
// transaction's first offset until that producer's ABORT marker, and every control batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "kbus/control_messages.hpp"
#include "kbus/log/control_record.hpp"
#include "kbus/log/record_batch.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_reader.hpp"

namespace kbus::detail {

enum class Outcome { committed, aborted, open };

class RingOutcomes {
  public:
    /// The outcome of `r`, a transactional record at the reader's cursor.
    [[nodiscard]] Outcome of(const ring::RingReader& reader, const ring::RecordRef& r) {
        const std::int64_t producer = producer_key(ring::RecordFrameView(r.header));
        const auto at = std::int64_t(r.offset);
        std::erase_if(decisions_, [&](const Decision& d) { return d.marker_offset < at; });
        for (const Decision& d : decisions_)
            if (d.producer == producer) return d.outcome;
        if (scan_.offset <= r.offset) scan_ = {r.position, r.offset};
        for (ring::RecordRef f;;) {
            const ring::PeekStatus s = reader.peek(scan_, f);
            if (!ring::holds_offset(s)) return Outcome::open;  // not there yet
            ring::RingReader::advance(scan_, f);
            if (s != ring::PeekStatus::control) continue;
            const ring::RecordFrameView marker(f.header);
            const auto type = log::control_type(marker.key());
            if (!type) continue;
            const Outcome o =
                *type == log::ControlType::commit ? Outcome::committed : Outcome::aborted;
            decisions_.push_back({producer_key(marker), std::int64_t(f.offset), o});
            if (decisions_.back().producer == producer) return o;
        }
    }
    /// The cursor moved other than forward (a seek, a move from the log): look afresh.
    void reset() noexcept {
        decisions_.clear();
        scan_ = {};
    }

  private:
    struct Decision {
        std::int64_t producer;
        std::int64_t marker_offset;
        Outcome outcome;
    };
    // A local producer by its slot (its records and markers name it), a Kafka client's by its id.
    static std::int64_t producer_key(const ring::RecordFrameView& v) noexcept {
        if (const int slot = v.producer_slot(); slot >= 0) return -1 - slot;
        ring::RecordStamp s{};
        return v.stamp(s) ? s.producer_id : std::numeric_limits<std::int64_t>::min();
    }

    std::vector<Decision> decisions_;
    ring::Cursor scan_;  // every frame before it was looked at
};

class LogOutcomes {
  public:
    /// A fetch's word: what is stable, and the aborted transactions from its offset on.
    void reset(const protocol::FetchReply& f) {
        stable_below_ = f.last_stable_offset < 0 ? std::numeric_limits<std::int64_t>::max()
                                                 : f.last_stable_offset;
        aborted_list_ = f.aborted;
        next_ = 0;
        aborted_now_.clear();
    }
    /// A full list was cut short: its last stable offset is where it stops, not a transaction
    /// still open, and the next fetch from there names what follows.
    [[nodiscard]] bool list_cut() const noexcept {
        return aborted_list_.size() >= protocol::FetchReply::max_fetch_aborted;
    }
    /// The batch is past the last stable offset: nothing from it on is returned yet.
    [[nodiscard]] bool unstable(const log::BatchView& b) const noexcept {
        return b.base_offset() >= stable_below_;
    }
    /// A control batch, or a batch of a transaction that aborted: returned to nobody.
    [[nodiscard]] bool skip(const log::BatchView& b) {
        while (next_ < aborted_list_.size() && aborted_list_[next_].first_offset <= b.last_offset())
            aborted_now_.insert(aborted_list_[next_++].producer_id);
        if (b.is_control()) {
            if (is_abort_marker(b)) aborted_now_.erase(b.producer_id());
            return true;
        }
        return b.is_transactional() && aborted_now_.count(b.producer_id()) != 0;
    }

  private:
    static bool is_abort_marker(const log::BatchView& b) {
        log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                               b.base_timestamp());
        log::RecordView r;
        return it.next(r) && log::control_type(r.key) == log::ControlType::abort;
    }

    std::int64_t stable_below_ = std::numeric_limits<std::int64_t>::max();
    std::vector<protocol::AbortedTransactionRef> aborted_list_;
    std::size_t next_ = 0;
    std::set<std::int64_t> aborted_now_;
};

}  // namespace kbus::detail
