#include "spill/producer_gate.hpp"

#include <algorithm>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/error.hpp"

namespace kbus::spill {
namespace {

constexpr auto attached = std::uint32_t(ring::ReaderSlotState::attached);
constexpr auto free_slot = std::uint32_t(ring::ReaderSlotState::free);
constexpr auto detached = std::uint32_t(ring::ReaderSlotState::detached);

// Blocked producers wake every few ms to retry, so "blocked" is judged over a short window.
constexpr std::uint64_t blocked_window_ns = 50'000'000;

}  // namespace

void ProducerGate::set_hold_timeout_ms(std::uint32_t ms) {
    std::lock_guard lock(mutex_);
    hold_timeout_ms_ = ms;
}

bool ProducerGate::owns(std::int32_t slot, std::uint32_t connection) const {
    if (slot < 0 || std::uint32_t(slot) >= ring::reader_slot_count) return false;
    const std::uint32_t owner = ring_.header().readers[slot].owner_connection;
    return owner == connection || owner == orphan_owner;
}

std::uint64_t ProducerGate::gate_position() const {
    // Acquire: pairs with our own release store of the limit (the spill thread's); a stale value
    // only makes the gate look older, which errs on the safe side for locate().
    return ring_.header().limit.producer_limit.load(std::memory_order_acquire) - ring_.capacity();
}

std::optional<ring::Cursor> ProducerGate::locate(std::uint64_t offset) const {
    ring::Cursor at;
    const std::uint64_t gate = gate_position();
    if (ring::RingReader(ring_).locate(offset, at)) {
        if (at.position < gate) return std::nullopt;
        return at;
    }
    // Claimed but not committed yet: its producer placed it, so its journal entry says where it
    // starts. An entry at or past the gate (and below the tail) can only be this offset's own:
    // an earlier lap's entry in the same slot lies more than a ring behind. A reader tethered
    // there waits for the commit, instead of being sent to a log that does not have it yet.
    // (Claimed and not placed yet, the entry is stale and the offset is not located: the reader
    // asks again at its next poll.)
    // The slot is this offset's only until offset + journal_entries is claimed: from then on it
    // holds that later offset's position, which does lie between the gate and the tail (taken
    // for this offset's, an old offset's reader would wait there for good). So the claim count
    // is checked before the entry is read and again after.
    const ring::RingHeader& h = ring_.header();
    const auto slot_reused = [&] {
        return ring::load_next_offset(h) - offset > h.info.journal_entries;
    };
    if (offset >= ring::load_next_offset(h) || slot_reused()) return std::nullopt;
    // Below the spill's offset every record was committed (or aborted): one RingReader did not
    // find is not in the ring, and never was if it is older than the ring itself (a ring made
    // fresh at a restart starts at the log's end; its journal's untouched slots read position 0,
    // which would pass every check below and tether an old offset's reader to a later record).
    // Relaxed: the spill offset only grows; an older value only makes this check weaker.
    if (offset < h.spill.spill_offset.load(std::memory_order_relaxed)) return std::nullopt;
    // Acquire: the claim count loaded after it is no older than the entry. A stale entry (of an
    // earlier lap) fails the checks below.
    const std::uint64_t position =
        detail::atomic_load(*ring_.journal_slot(offset), std::memory_order_acquire);
    if (slot_reused() || position < gate || position >= ring::load_tail(h) ||
        position % ring::frame_alignment != 0)
        return std::nullopt;
    return ring::Cursor{position, offset};
}

protocol::ReaderAttachment ProducerGate::attach(std::uint64_t target, std::int32_t want_slot,
                                                std::uint32_t connection) {
    ring::RingHeader& h = ring_.header();
    std::lock_guard lock(mutex_);
    const detail::WordPair claim = ring::load_claim(h);
    protocol::ReaderAttachment a;
    ring::Cursor at{claim.second, claim.first};
    if (target < claim.first) {
        const std::optional<ring::Cursor> found = locate(target);
        if (!found) {  // behind the ring: the consumer reads the log
            if (owns(want_slot, connection))
                h.readers[want_slot].state.store(free_slot, std::memory_order_release);
            a.on_disk = true;
            a.offset = std::int64_t(target);
            return a;
        }
        at = *found;
    }
    std::uint32_t slot = ring::reader_slot_count;
    if (owns(want_slot, connection)) slot = std::uint32_t(want_slot);
    for (std::uint32_t i = 0; slot == ring::reader_slot_count && i < ring::reader_slot_count; ++i)
        // Relaxed: slots change state under our mutex only (a consumer never frees one).
        if (h.readers[i].state.load(std::memory_order_relaxed) == free_slot) slot = i;
    if (slot == ring::reader_slot_count)
        throw Error(ErrorCode::resource_exhausted, "no free reader slot on this partition");
    ring::ReaderSlot& s = h.readers[slot];
    // A slot that changes hands starts a new hold: its next holder does not inherit the time the
    // last one held producers back (the hold timer follows the slot, not its reader).
    if (&s == blocked_slot_ && s.owner_connection != connection) blocked_since_ns_ = 0;
    s.owner_connection = connection;
    s.offset.store(at.offset, std::memory_order_relaxed);      // published by the state store
    s.position.store(at.position, std::memory_order_relaxed);  // published by the state store
    // Release: a consumer that sees "attached" sees the position it is tethered at.
    s.state.store(attached, std::memory_order_release);
    a.slot = slot;
    a.position = at.position;
    a.offset = std::int64_t(at.offset);
    return a;
}

void ProducerGate::release(std::uint32_t slot, std::uint32_t connection) {
    std::lock_guard lock(mutex_);
    if (owns(std::int32_t(slot), connection))
        // Release: the slot's last position was read by the limit computation before it frees.
        ring_.header().readers[slot].state.store(free_slot, std::memory_order_release);
}

void ProducerGate::release_all_of(std::uint32_t connection) {
    std::lock_guard lock(mutex_);
    for (auto& s : ring_.header().readers)
        if (s.owner_connection == connection)
            s.state.store(free_slot, std::memory_order_release);  // as in release()
}

void ProducerGate::orphan_all() {
    std::lock_guard lock(mutex_);
    for (auto& s : ring_.header().readers)
        s.owner_connection = orphan_owner;
}

bool ProducerGate::update(std::uint64_t spill_position, std::uint64_t now_ns) {
    std::lock_guard lock(mutex_);
    std::uint64_t base = spill_position;
    ring::ReaderSlot* bottleneck = nullptr;
    for (auto& s : ring_.header().readers)
        // Acquire, both: the consumer's release store of its position says it is done with the
        // bytes before it; producers may reuse them only after we have seen it.
        if (s.state.load(std::memory_order_acquire) == attached) {
            const std::uint64_t pos = s.position.load(std::memory_order_acquire);
            if (pos < base) {
                base = pos;
                bottleneck = &s;
            }
        }
    if (detach_if_holding_too_long(bottleneck, now_ns)) return true;
    return raise_limit(base);
}

// Grants producers half a ring beyond the tail, not everything the gate allows: the other half
// keeps recent history intact, so a consumer can still attach at "beginning". Grants come in steps
// of an eighth of the ring (or at once to a waiting producer): a new limit every pass would keep
// the spill chasing the tail, and the tail's cache line away from the producers.
bool ProducerGate::raise_limit(std::uint64_t base) {
    ring::RingHeader& h = ring_.header();
    const std::uint64_t tail = ring::load_tail(h);
    const std::uint64_t limit = std::min(base + ring_.capacity(), tail + ring_.capacity() / 2);
    // Relaxed: only this thread (under the mutex) writes the limit.
    const std::uint64_t granted = h.limit.producer_limit.load(std::memory_order_relaxed);
    // Seq_cst: read after our reads of the tethers; a producer that announced itself after this
    // load waits at most its futex timeout (it re-reads the limit when it wakes).
    const bool blocked = h.limit.blocked_producers.load(std::memory_order_seq_cst) != 0;
    if (limit <= granted || (!blocked && limit - granted < ring_.capacity() / 8)) return false;
    // Relaxed: published by the limit's release store below. Consumers ring us once they read
    // past the mark, an eighth of the ring below the limit, producers halfway from there to it
    // (RingWriter): time for a pass before producers would have to wait.
    h.limit.doorbell_at.store(ring::doorbell_mark_for(limit, ring_.capacity()),
                              std::memory_order_relaxed);
    // Seq_cst: a release (a producer that sees the new limit sees our reads of the old bytes,
    // the spill's and the tethers', done, and a detach made before it), and ordered before our
    // second look at blocked_producers (store-load), pairing with a producer's announcement
    // before its re-check of the limit (RingWriter::wait_for_room): either it sees this limit,
    // or we see it waiting and wake it. Without the second look, a producer that announced
    // itself just after the first slept its whole futex timeout with room granted.
    h.limit.producer_limit.store(limit, std::memory_order_seq_cst);
    if (!blocked && h.limit.blocked_producers.load(std::memory_order_seq_cst) == 0) return false;
    h.limit.limit_seq.fetch_add(1, std::memory_order_release);  // the futex word sleepers check
    detail::futex_wake_all(&h.limit.limit_seq);
    return true;
}

// Invariant 5: a consumer holding a batch may stop producers only for hold_timeout_ms. Detaching
// it (state first, then a higher limit) means its next poll reports the batch invalidated.
bool ProducerGate::detach_if_holding_too_long(ring::ReaderSlot* bottleneck, std::uint64_t now_ns) {
    ring::RingHeader& h = ring_.header();
    // Relaxed: a hint sampled every pass; the window below smooths over its timing.
    if (h.limit.blocked_producers.load(std::memory_order_relaxed) != 0) blocked_seen_ns_ = now_ns;
    const bool producers_blocked = now_ns - blocked_seen_ns_ < blocked_window_ns;
    if (bottleneck == nullptr || !producers_blocked) {
        blocked_since_ns_ = 0;
        return false;
    }
    if (blocked_slot_ != bottleneck || blocked_since_ns_ == 0) {
        blocked_slot_ = bottleneck;
        blocked_since_ns_ = now_ns;
        return false;
    }
    if (now_ns - blocked_since_ns_ < std::uint64_t(hold_timeout_ms_) * 1'000'000) return false;
    // An orphan (its daemon restarted and no client adopted it) is freed outright. Seq_cst: the
    // detach is ordered before the limit store that follows on the next pass (and before any
    // producer reuses the reader's bytes), so the reader's acquire load of its state sees it.
    bottleneck->state.store(bottleneck->owner_connection == orphan_owner ? free_slot : detached,
                            std::memory_order_seq_cst);
    sink_("WARN", "detached a consumer of partition " + std::to_string(h.info.partition) +
                      " that held producers back for more than consumer.hold.timeout.ms (" +
                      std::to_string(hold_timeout_ms_) + " ms)");
    blocked_since_ns_ = 0;
    return true;  // the next pass computes the limit without it
}

std::uint64_t ProducerGate::earliest(std::uint64_t next) const {
    const ring::RingHeader& h = ring_.header();
    std::uint64_t lo = next > h.info.journal_entries ? next - h.info.journal_entries : 0;
    std::uint64_t hi = next;
    while (lo < hi) {  // the journal's offsets still in the ring are a contiguous run below next
        const std::uint64_t mid = lo + (hi - lo) / 2;
        if (locate(mid))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

std::vector<std::pair<std::uint32_t, std::int64_t>> ProducerGate::readers() const {
    std::vector<std::pair<std::uint32_t, std::int64_t>> out;
    const ring::RingHeader& h = ring_.header();
    for (std::uint32_t slot = 0; slot < ring::reader_slot_count; ++slot)
        // Acquire/relaxed: a snapshot for the stats, as fresh as the loads make it.
        if (h.readers[slot].state.load(std::memory_order_acquire) == attached)
            out.emplace_back(slot,
                             std::int64_t(h.readers[slot].offset.load(std::memory_order_relaxed)));
    return out;
}

std::uint64_t ProducerGate::fill_bytes(std::uint64_t tail) const {
    const std::uint64_t gate = gate_position();
    return tail > gate ? tail - gate : 0;
}

}  // namespace kbus::spill
