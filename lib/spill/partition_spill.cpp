#include "spill/partition_spill.hpp"

#include "kbus/error.hpp"
#include "kbus/header_block.hpp"
#include "kbus/record_frame.hpp"

namespace kbus::spill {

PartitionSpill::PartitionSpill(ring::RingRef ring, log::PartitionLog& log,
                               config::Compression codec, logging::LogSink sink,
                               SpillOptions options)
    : ring_(ring),
      reader_(ring),
      log_(log),
      codec_(codec),
      sink_(std::move(sink)),
      options_(options) {
    cursor_ = {ring_.header().spill.spill_position.load(std::memory_order_acquire),
               ring_.header().spill.spill_offset.load(std::memory_order_acquire)};
}

bool PartitionSpill::position_at_log_end() {
    const auto end = std::uint64_t(log_.log_end_offset());
    const detail::WordPair claim = detail::dwload(&ring_.header().claim.next_offset_and_tail);
    if (end == claim.first) {  // everything in the ring is on disk
        cursor_ = {claim.second, claim.first};
        publish_cursor();
        return true;
    }
    ring::Cursor at;
    if (end > claim.first || !reader_.locate(end, at)) {
        // The log ends beyond the ring or before its oldest record: keep the ring's own spill
        // cursor; the records in between are not recoverable.
        sink_("ERROR", "partition log " + log_.dir() + " ends at offset " + std::to_string(end) +
                           " but the ring's spill cursor is at " + std::to_string(cursor_.offset) +
                           "; continuing from the ring");
        return false;
    }
    cursor_ = at;
    publish_cursor();
    return true;
}

// Whether a batch is worth cutting now: a full batch, a ring filling up or producers waiting, or
// records lingering long enough. Judged from the tail alone, so an idle check never reads the
// record headers the producers are writing.
bool PartitionSpill::due(std::uint64_t now_ns) {
    const ring::RingHeader& h = ring_.header();
    const std::uint64_t pending = ring::load_tail(h) - cursor_.position;
    if (pending == 0) {
        pending_since_ns_ = 0;
        return false;
    }
    if (pending_since_ns_ == 0) pending_since_ns_ = now_ns;
    const bool pressure = pending >= ring_.capacity() / 8 ||
                          h.limit.blocked_producers.load(std::memory_order_relaxed) != 0;
    if (!options_.write_to_log)  // ring-only: step over records only when room runs short
        return pressure || now_ns - pending_since_ns_ >= ring_only_linger_ns;
    return pending >= options_.batch_bytes || pressure ||
           now_ns - pending_since_ns_ >= options_.linger_ns;
}

bool PartitionSpill::step(std::uint64_t now_ns, std::int64_t now_ms) {
    if (!due(now_ns)) return false;
    if (options_.write_to_log ? write_batch(now_ns, now_ms) : discard()) return true;
    return !io_failing_ && repair_dead_claim(now_ns);
}

bool PartitionSpill::drain(std::uint64_t now_ns, std::int64_t now_ms) {
    if (!options_.write_to_log) return true;
    // Not through due(): a batch younger than the linger would wait for a pass that never comes.
    while (write_batch(now_ns, now_ms)) {
    }
    return !io_failing_;
}

bool PartitionSpill::repair_dead_claim(std::uint64_t now_ns) {
    ring::Cursor at = cursor_;
    ring::RecordRef r;
    if (reader_.peek(at, r) != ring::PeekStatus::not_ready) {
        stall_.reset();
        return false;
    }
    const bool same_stall =
        stall_ && stall_->at.offset == cursor_.offset && stall_->at.position == cursor_.position;
    if (!same_stall) {
        // An exact snapshot of the pair (a locked 16-byte compare-and-swap on the producers'
        // line), taken once per stall, not on every pass that finds the cursor's claim pending.
        const detail::WordPair claimed = detail::dwload(&ring_.header().claim.next_offset_and_tail);
        stall_.reset();
        if (claimed.first == cursor_.offset) return false;  // nothing claimed: not a stall
        stall_ = StallSnapshot{cursor_, claimed.first, claimed.second};
        stall_since_ns_ = now_ns;
        return false;
    }
    if (now_ns - stall_since_ns_ < options_.claim_timeout_ns) return false;
    const StallSnapshot stall = *stall_;
    stall_.reset();
    const std::optional<DeadRegion> region = find_dead_region(ring_, stall);
    std::optional<std::string> refused = "no region the claims could have made";
    if (region) refused = abort_region(ring_, *region);
    if (refused) {
        sink_("ERROR", log_.dir() + ": the claim of offset " + std::to_string(stall.at.offset) +
                           " is uncommitted past the claim timeout, but cannot be repaired (" +
                           *refused + "); the partition waits for it");
        return false;
    }
    aborted_offsets_.fetch_add(region->end_offset - region->first_offset,
                               std::memory_order_relaxed);
    sink_("WARN", log_.dir() + ": offsets " + std::to_string(region->first_offset) + ".." +
                      std::to_string(region->end_offset - 1) +
                      " were claimed but not committed within the claim timeout (a dead "
                      "producer): they are an aborted gap");
    return true;
}

bool PartitionSpill::write_batch(std::uint64_t now_ns, std::int64_t now_ms) {
    builder_.clear();
    ring::Cursor c = cursor_;
    std::size_t taken = 0;
    while (taken < options_.batch_bytes) {
        ring::RecordRef r;
        const ring::PeekStatus s = reader_.peek(c, r);
        if (s == ring::PeekStatus::aborted) {  // a gap in offsets: nothing to write
            ring::RingReader::advance(c, r);
            continue;
        }
        if (s != ring::PeekStatus::record) break;
        const ring::RecordFrameView frame(r.header);
        headers_.clear();
        for (HeaderIterator it = frame.headers(); !it.done(); ++it)
            headers_.push_back(*it);
        builder_.add(std::int64_t(r.offset), frame.timestamp(), frame.key(), frame.value(),
                     headers_);
        taken += r.frame_length;
        ring::RingReader::advance(c, r);
    }
    if (c.position == cursor_.position) return false;  // the oldest claim is not committed yet
    if (!builder_.empty()) {
        try {
            log_.append(builder_.finish(codec_), now_ms);
            log_.maybe_flush(now_ms);
            if (io_failing_) sink_("INFO", "spill to " + log_.dir() + " resumed");
            io_failing_ = false;
        } catch (const Error& e) {
            // Disk full or unwritable: the cursor stays, so producers wait; nothing is lost.
            if (!io_failing_ || now_ns - last_io_log_ns_ > 5'000'000'000ULL) {
                sink_("ERROR", std::string("spill stalled, producers held back: ") + e.what());
                last_io_log_ns_ = now_ns;
            }
            io_failing_ = true;
            return false;
        }
    }
    cursor_ = c;
    publish_cursor();
    pending_since_ns_ = 0;
    return true;
}

bool PartitionSpill::discard() {
    const ring::Cursor before = cursor_;
    const std::uint64_t tail = ring::load_tail(ring_.header());
    for (ring::RecordRef r;;) {
        // Each header says where the next one is: a chain of loads the core cannot run ahead
        // on, so fetch the lines ahead ourselves (they are committed history, below the tail).
        if (const std::uint64_t ahead = cursor_.position + 4096; ahead < tail)
            __builtin_prefetch(ring_.at(ahead), 0, 0);
        const ring::PeekStatus s = reader_.peek(cursor_, r);
        if (s != ring::PeekStatus::record && s != ring::PeekStatus::aborted) break;
        ring::RingReader::advance(cursor_, r);
    }
    if (cursor_.position == before.position) return false;
    publish_cursor();
    pending_since_ns_ = 0;
    return true;
}

void PartitionSpill::publish_cursor() {
    ring::RingHeader& h = ring_.header();
    h.spill.spill_offset.store(cursor_.offset, std::memory_order_relaxed);
    // Release: the daemon's reads of the spilled bytes happen before producers may reuse them.
    h.spill.spill_position.store(cursor_.position, std::memory_order_release);
}

}  // namespace kbus::spill
