// One partition a Consumer reads: from its ring in place while the ring holds the records (the
// consumer is tethered there through a reader slot), or from the log behind it (the segments,
// read straight from the file where it can, else batches the daemon decompressed), moving back
// onto the ring when it catches up. The caller sees the same offsets and bytes either way.
//
// A batch of views into the ring stays valid while this source holds it: until the next
// release_held(), or until the daemon detaches the source for holding longer than
// consumer.hold.timeout.ms, which check_attached() reports (batch_invalidated, with the offset to
// resume from). It never hands out overwritten bytes.
//
// Every batch read from disk is checked by its CRC-32C (Kafka's check.crcs; ConsumerOptions).
// One that fails is reported to the daemon, which checks it itself and remembers the damage;
// the records it cost are then reported once, as OffsetOutOfRange with ErrorCode::corrupt_record
// naming the offsets and the file, and resume_offset() the first offset after them. So are
// offsets that are neither in the log nor in the ring any more (a log cut short under a ring
// that moved on). Either way the source's position has already moved to resume_offset(): the
// caller's next poll() goes on past the hole. A loss is only reported by a poll that has
// gathered nothing yet, so no record already handed to this poll is dropped with the throw.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kbus/blocking_reader_mark.hpp"
#include "kbus/client.hpp"
#include "kbus/consumer_options.hpp"
#include "kbus/detail/file_extent_reader.hpp"
#include "kbus/detail/transaction_outcomes.hpp"
#include "kbus/message.hpp"
#include "kbus/ring_reader.hpp"

namespace kbus {

/// Where a group member commits this partition without a round trip (group_commit.hpp).
struct CommitRoute {
    ring::GroupCommitSlot* slot = nullptr;  ///< null: through the daemon
    std::uint64_t token = 0;
    std::uint64_t expected = 0;  ///< what we last saw in the slot (offset + 1)
};

class PartitionSource {
  public:
    /// may_sleep: a blocking consumer's source marks the ring (BlockingReaderMark).
    /// read_committed: Kafka's isolation level (detail/transaction_outcomes.hpp).
    PartitionSource(Client& client, std::string topic, std::int32_t partition,
                    std::shared_ptr<const TopicHandle> handle, bool check_crcs = true,
                    bool may_sleep = false, bool read_committed = false)
        : client_(&client),
          topic_(std::move(topic)),
          partition_(partition),
          handle_(std::move(handle)),
          reader_(client.ring(*handle_, partition, false)),
          check_crcs_(check_crcs),
          read_committed_(read_committed) {
        if (may_sleep) sleep_mark_.emplace(ring().header().wake);
    }

    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    /// Read up to its end: the high watermark, or (read_committed) the last stable offset, where
    /// its last read stopped at a transaction still open (kcat's -e stops there too).
    [[nodiscard]] bool at_end() const noexcept {
        return cursor_.offset >= high_watermark() || at_stable_end_;
    }
    /// The next offset this source reads.
    [[nodiscard]] std::uint64_t position() const noexcept { return cursor_.offset; }
    [[nodiscard]] std::uint64_t high_watermark() const noexcept {
        return ring::load_next_offset(ring().header());
    }
    [[nodiscard]] const ring::RingRef& ring() const noexcept { return reader_.ring(); }
    /// Reading from disk, this poll has taken all it can: the next batch (or the move back onto
    /// the ring) waits for the next poll, which releases the views into the batches fetched.
    [[nodiscard]] bool drained_this_poll() const noexcept {
        return on_disk_ && taken_this_poll_ != 0 && disk_at_ >= disk_.size();
    }
    CommitRoute commit_route;

    /// Starts (again) at `from`: tethered in the ring, or reading the log behind it. Re-attaching
    /// reuses this source's reader slot.
    void attach(OffsetSpec from) {
        const protocol::ReaderAttachment a =
            client_->attach_reader(handle_->metadata.topic_id, partition_, from.kind(),
                                   from.offset(), has_slot_ ? std::int32_t(slot_) : -1);
        holding_ = false;
        clear_disk();
        ring_outcomes_.reset();
        at_stable_end_ = false;
        ring_start_ = -1;
        on_disk_ = a.on_disk;
        if (a.on_disk) {
            cursor_ = {0, static_cast<std::uint64_t>(a.offset)};
            return;
        }
        slot_ = a.slot;
        has_slot_ = true;
        cursor_ = {a.position, static_cast<std::uint64_t>(a.offset)};
    }

    /// Gives the reader slot back (the daemon frees it with our connection anyway).
    void detach() noexcept {
        try {
            client_->release_reader(handle_->metadata.topic_id, partition_, slot_);
        } catch (...) {
        }
    }

    /// Moves the tether forward to where we read next: the batch held so far is released.
    void release_held() noexcept {
        taken_this_poll_ = 0;
        if (!holding_ || on_disk_) return;
        ring::ReaderSlot& s = slot();
        // Relaxed, then release: our reads of the old batch happen before producers may reuse
        // its bytes; the offset travels with the position.
        s.offset.store(cursor_.offset, std::memory_order_relaxed);
        s.position.store(cursor_.position, std::memory_order_release);
        holding_ = false;
        // Relaxed: a hint the daemon stores with each grant (LimitLine::doorbell_at).
        const std::uint64_t mark =
            ring().header().limit.doorbell_at.load(std::memory_order_relaxed);
        if (cursor_.position > mark && mark != rung_mark_ && mark != 0) [[unlikely]]
            ring_doorbell(mark);
    }

    /// Appends what is readable now to `out`, up to `max` messages in all.
    void gather(std::vector<Message>& out, std::size_t max) {
        if (on_disk_) return gather_from_disk(out, max);
        const std::uint64_t from = cursor_.position;
        gather_from_ring(out, max);
        // Only skipped (markers, aborted records): the tether moves past them all the same.
        if (!holding_ && !on_disk_ && cursor_.position != from) [[unlikely]]
            tether_here();
    }

    void gather_from_ring(std::vector<Message>& out, std::size_t max) {
        while (out.size() < max) {
            ring::RecordRef r;
            const ring::PeekStatus s = reader_.peek(cursor_, r);
            if (s == ring::PeekStatus::record) {
                if (read_committed_ && (r.header->attributes & ring::transactional_attribute) != 0)
                    [[unlikely]] {
                    const detail::Outcome o = ring_outcomes_.of(reader_, r);
                    at_stable_end_ = o == detail::Outcome::open;
                    if (at_stable_end_) return;  // the last stable offset
                    if (o == detail::Outcome::aborted) {
                        ring::RingReader::advance(cursor_, r);
                        continue;
                    }
                }
                if (!ring_touched_) [[unlikely]]
                    touch_ring();
                if (!holding_) {  // from here on a detach invalidates what we return
                    if (!still_attached()) [[unlikely]]
                        return go_to_disk(out, max);
                    holding_ = true;
                    held_offset_ = r.offset;
                }
                out.emplace_back(r.header, &topic_, partition_, std::int64_t(r.offset));
            } else if (s == ring::PeekStatus::not_ready) {
                // Detached while holding nothing, the ring may have lapped the cursor into the
                // middle of a record, which reads as not ready for good: look at the slot here
                // (its line is ours, written at each release), then go on from the log.
                if (!holding_ && !still_attached()) [[unlikely]]
                    return go_to_disk(out, max);
                return;
            } else if (s != ring::PeekStatus::aborted && s != ring::PeekStatus::control) {
                // (a gap in offsets, or a transaction's marker: skipped)
                check_attached();      // a detach explains a lap: report it as such
                if (on_disk_) return;  // detached between batches: go on from the log
                throw_out_of_range(s == ring::PeekStatus::lapped ? "was overwritten (lapped)"
                                                                 : "holds a corrupt record");
            }
            ring::RingReader::advance(cursor_, r);
        }
    }

    /// Moves the tether to the cursor when nothing is held (what was passed was skipped).
    [[gnu::cold, gnu::noinline]] void tether_here() noexcept {
        if (!still_attached()) return;  // the next gather finds it out
        ring::ReaderSlot& s = slot();
        // As release_held: the offset travels with the position (release).
        s.offset.store(cursor_.offset, std::memory_order_relaxed);
        s.position.store(cursor_.position, std::memory_order_release);
    }

    /// Past the daemon's mark: producers are at least as far, and need room soon. Rung from
    /// here, the daemon runs on our core, not on the producer's (see RingWriter).
    [[gnu::cold, gnu::noinline]] void ring_doorbell(std::uint64_t mark) noexcept {
        rung_mark_ = mark;
        client_->ring_doorbell();
    }

    /// At the first record found on the ring: its pages are made present in this process now,
    /// once, rather than one fault per page through the first lap (Client::touch_ring_pages).
    [[gnu::cold, gnu::noinline]] void touch_ring() {
        client_->touch_ring_pages(*handle_, partition_);
        ring_touched_ = true;
    }

    /// A detach between our tether and now means producers may have reused the bytes we read:
    /// the held batch is reported invalidated. Detached while holding nothing, the source just
    /// goes on from the log.
    void check_attached() {
        if (on_disk_ || still_attached()) return;
        if (!holding_) {
            on_disk_ = true;
            clear_disk();
            ring_start_ = -1;
            return;
        }
        throw OffsetOutOfRange(ErrorCode::batch_invalidated,
                               "consumer of " + topic_ + "/" + std::to_string(partition_) +
                                   " was detached (held a batch longer than "
                                   "consumer.hold.timeout.ms); resume from offset " +
                                   std::to_string(held_offset_),
                               topic_, partition_, std::int64_t(held_offset_));
    }

    /// The futex word producers bump when they commit (for consumers that sleep).
    [[nodiscard]] ring::WakeLine& wake_line() const noexcept { return ring().header().wake; }

  private:
    [[nodiscard]] ring::ReaderSlot& slot() const noexcept { return ring().header().readers[slot_]; }

    /// Acquire: if still attached here, nothing we read was reused (the daemon detaches before it
    /// lets producers past our position).
    [[nodiscard]] bool still_attached() const noexcept {
        return slot().state.load(std::memory_order_acquire) ==
               std::uint32_t(ring::ReaderSlotState::attached);
    }

    /// Detached while holding nothing (a consumer that stopped reading for longer than the hold
    /// timeout): it goes on from the log, where the records it has not read are.
    [[gnu::cold, gnu::noinline]] void go_to_disk(std::vector<Message>& out, std::size_t max) {
        check_attached();
        gather_from_disk(out, max);
    }

    void clear_disk() noexcept {
        disk_file_.clear();
        disk_copy_.clear();
        disk_ = {};
        disk_at_ = 0;
        checked_to_ = 0;
    }

    /// Fetches the batches from the cursor on: read from the segment file where the daemon says
    /// they are, else as bytes (decompressed by the daemon). False if the log has nothing there
    /// (or, when `may_report` is false, damage stands there: it is reported by a later poll).
    bool fetch_from_disk(bool may_report) {
        clear_disk();
        try {
            return fetch_at_cursor();
        } catch (const Error& e) {
            if (e.code() != ErrorCode::corrupt_record) throw;
            // Offsets the daemon knows were lost to damage: it tells us which (the report of a
            // known region costs it no check).
            if (may_report) report_damage();
            return false;
        }
    }

    bool fetch_at_cursor() {
        log_end_ = std::numeric_limits<std::int64_t>::max();  // unknown until a reply says
        const std::uint64_t id = handle_->metadata.topic_id;
        const auto offset = std::int64_t(cursor_.offset);
        // A segment replaced between the reply and our open (retention, the log cleaner) is
        // asked for again; one we cannot read at all is asked of the daemon from then on.
        for (int attempt = 0; read_segments_ && attempt < 3; ++attempt) {
            const protocol::FetchReply f = client_->fetch(
                id, partition_, offset, protocol::max_fetch_file_bytes, true, read_committed_);
            log_outcomes_.reset(f);
            ring_start_ = f.ring_start_offset;
            log_end_ = f.log_end_offset;
            if (f.file_path.empty()) return false;
            using Read = detail::FileExtentReader::Result;
            const Read r = disk_file_.read(f.file_path, f.file_position, std::size_t(f.file_length),
                                           f.file_inode);
            if (r == Read::read) {
                disk_ = disk_file_.bytes();
                return true;
            }
            if (r == Read::unreadable) read_segments_ = false;
        }
        protocol::FetchReply f = client_->fetch(id, partition_, offset, protocol::max_fetch_bytes,
                                                false, read_committed_);
        log_outcomes_.reset(f);
        ring_start_ = f.ring_start_offset;
        log_end_ = f.log_end_offset;
        disk_copy_ = std::move(f.batches);
        disk_ = {reinterpret_cast<const std::byte*>(disk_copy_.data()), disk_copy_.size()};
        return !disk_.empty();
    }

    /// The next batch to decode, fetching more when they run out and moving back onto the ring
    /// once the cursor reaches what the ring holds. A refill happens only before this poll took
    /// anything from the partition: earlier views point into the old batches. False: nothing
    /// (more) now, and poll waits. It never loops by itself (at most two fetches and one move to
    /// the ring): offsets that are gone for good are reported, offsets not there yet waited for.
    /// `tried_ring`: this gather went back to the ring once already. `may_report`: this poll has
    /// gathered nothing yet, so a loss can be thrown.
    bool next_disk_batch(bool& tried_ring, bool may_report) {
        if (disk_at_ < disk_.size()) return true;
        if (taken_this_poll_ != 0) return false;
        for (int fetches = 0; fetches < 2; ++fetches) {
            if (!tried_ring && ring_start_ >= 0 && std::int64_t(cursor_.offset) >= ring_start_) {
                tried_ring = true;
                attach(OffsetSpec::at(std::int64_t(cursor_.offset)));
                if (!on_disk_) return false;  // back on the ring: the next gather reads it
            }
            if (fetch_from_disk(may_report)) return true;
            // Nothing on disk at the cursor: the ring has it (once), or it is not there yet.
            if (tried_ring || ring_start_ < 0 || std::int64_t(cursor_.offset) < ring_start_) break;
        }
        if (may_report) report_hole();
        return false;
    }

    /// Nothing at the cursor in the log, whose end is at or below it, while the ring starts above
    /// it (the daemon reads the ring's start first, so the two cannot straddle a spill): those
    /// offsets are gone for good (a log cut short under a ring that moved on, or a ring-only
    /// bus). Anything else is merely not written yet.
    void report_hole() {
        const auto at = std::int64_t(cursor_.offset);
        if (ring_start_ < 0 || at >= ring_start_ || log_end_ > at) return;
        throw_lost(at, ring_start_ - 1, ring_start_,
                   "being neither in the log (it ends at offset " + std::to_string(log_end_) +
                       ") nor in the ring (it starts at offset " + std::to_string(ring_start_) +
                       ")");
    }

    /// A batch read from disk failed its check, or a fetch met damage: the daemon checks the
    /// batch at the cursor itself. Confirmed, the loss is thrown (the position moved past it).
    /// Not confirmed (kbusd's copy is sound), the daemon sends the bytes from now on; if those
    /// fail here too, the disagreement is thrown without moving, and never retried in a loop.
    void report_damage() {
        clear_disk();
        const protocol::CorruptBatchReply r = client_->request(protocol::ReportCorruptBatchRequest{
            handle_->metadata.topic_id, partition_, std::int64_t(cursor_.offset)});
        if (r.corrupt)
            throw_lost(r.first_offset, r.last_offset, r.resume_offset,
                       "to a corrupt batch in " + r.file + " (bytes " +
                           std::to_string(r.file_begin) + ".." + std::to_string(r.file_end) + ")");
        if (!read_segments_)
            throw OffsetOutOfRange(ErrorCode::corrupt_record,
                                   "the batch at offset " + std::to_string(cursor_.offset) +
                                       " of " + topic_ + "/" + std::to_string(partition_) +
                                       " failed its CRC as received, though kbusd reads it sound",
                                   topic_, partition_, std::int64_t(cursor_.offset));
        read_segments_ = false;
    }

    [[noreturn]] void throw_lost(std::int64_t first, std::int64_t last, std::int64_t resume,
                                 const std::string& how) {
        clear_disk();
        cursor_.offset = std::max(cursor_.offset, std::uint64_t(resume));
        const std::string offsets =
            first > last ? "no offsets"
                         : "offsets " + std::to_string(first) + ".." + std::to_string(last);
        throw OffsetOutOfRange(ErrorCode::corrupt_record,
                               offsets + " of " + topic_ + "/" + std::to_string(partition_) +
                                   " were lost " + how + "; reading resumes at offset " +
                                   std::to_string(cursor_.offset),
                               topic_, partition_, std::int64_t(cursor_.offset));
    }

    /// Framing always; the CRC too (check.crcs), but not of a batch stored compressed, which the
    /// daemon checks when it decompresses it for us. A batch taken over several polls is checked
    /// once.
    [[nodiscard]] bool batch_sound(const log::BatchView& b) {
        if (disk_at_ < checked_to_) return true;
        if (b.check(false) != log::BatchCheck::ok) return false;
        const bool stored_compressed = b.compression_codec() != 0 && disk_copy_.empty();
        if (check_crcs_ && !stored_compressed && b.crc() != b.computed_crc()) return false;
        checked_to_ = disk_at_ + b.total_bytes();
        return true;
    }

    void gather_from_disk(std::vector<Message>& out, std::size_t max) {
        // Nothing fetched left and the cursor at the partition's end (its ring's next offset,
        // in shared memory): no round trip to the daemon for what cannot be there. An idle
        // partition (its ring not yet reserved) reads from here, and is read by every pass.
        if (disk_at_ >= disk_.size() && cursor_.offset >= high_watermark()) return;
        bool tried_ring = false;
        while (out.size() < max && next_disk_batch(tried_ring, out.empty())) {
            const log::BatchView b(disk_.subspan(disk_at_));
            if (!batch_sound(b)) {
                if (!out.empty()) return;  // what this poll gathered goes out first
                report_damage();           // throws, or the daemon sends the bytes from now on
                continue;
            }
            if (b.compression_codec() != 0) {
                if (disk_copy_.empty() && taken_this_poll_ == 0) {
                    // Stored compressed: from here on the daemon decompresses for us.
                    read_segments_ = false;
                    if (!fetch_from_disk(out.empty())) return;
                    continue;
                }
                if (disk_copy_.empty()) return;  // after this poll's views are released
                clear_disk();
                throw_out_of_range("is in a batch the daemon did not decompress");
            }
            if ((read_committed_ && log_outcomes_.skip(b)) || b.is_control()) {
                skip_batch(b);  // a marker, or an aborted transaction's records
                continue;
            }
            if (read_committed_ && log_outcomes_.unstable(b)) {
                // At the last stable offset: an end, unless it is only where a full list of
                // aborted transactions stopped.
                at_stable_end_ = !log_outcomes_.list_cut();
                clear_disk();  // past the last stable offset: fetched again, or read on the ring
                return;
            }
            at_stable_end_ = false;
            if (!take_records(b, out, max)) return;  // the rest of it is decoded next poll
            skip_batch(b);                           // taken whole: the cursor goes past it
        }
    }

    void skip_batch(const log::BatchView& b) {
        cursor_.offset = std::max(cursor_.offset, std::uint64_t(b.last_offset()) + 1);
        disk_at_ += b.total_bytes();
    }

    /// The batch's records from the cursor on; false if `out` filled up before its end.
    bool take_records(const log::BatchView& b, std::vector<Message>& out, std::size_t max) {
        log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                               b.base_timestamp());
        for (log::RecordView r; it.next(r);) {
            if (std::uint64_t(r.offset) < cursor_.offset) continue;
            if (out.size() >= max) return false;
            out.emplace_back(r, &topic_, partition_);
            cursor_.offset = std::uint64_t(r.offset) + 1;
            ++taken_this_poll_;
        }
        if (it.malformed()) throw_out_of_range("is in a corrupt record on disk");
        return true;
    }

    [[noreturn]] void throw_out_of_range(const char* why) const {
        throw OffsetOutOfRange(ErrorCode::offset_out_of_range,
                               "offset " + std::to_string(cursor_.offset) + " of " + topic_ + "/" +
                                   std::to_string(partition_) + " " + why,
                               topic_, partition_, std::int64_t(cursor_.offset));
    }

    Client* client_;
    std::string topic_;
    std::int32_t partition_;
    std::shared_ptr<const TopicHandle> handle_;
    ring::RingReader reader_;
    ring::Cursor cursor_;
    std::uint32_t slot_ = 0;
    bool has_slot_ = false;
    std::uint64_t held_offset_ = 0;  ///< first offset of the batch we hold
    bool holding_ = false;
    /// Reading behind the ring: the fetched batches (an extent of a segment read straight from
    /// the file, or bytes the daemon decompressed), the next one to decode, and from which offset
    /// the ring holds records again.
    bool on_disk_ = false;
    bool read_segments_ = true;  ///< off once a read failed or met a compressed batch
    detail::FileExtentReader disk_file_;
    std::string disk_copy_;
    std::span<const std::byte> disk_;
    std::size_t disk_at_ = 0;
    std::int64_t ring_start_ = -1;  ///< -1: not known yet
    std::int64_t log_end_ = 0;      ///< as of the last fetch
    std::size_t checked_to_ = 0;    ///< disk_ up to here passed batch_sound()
    bool check_crcs_ = true;
    bool read_committed_ = false;
    bool at_stable_end_ = false;  ///< read_committed: the last gather stopped at an open one
    detail::RingOutcomes ring_outcomes_;  ///< read_committed, on the ring
    detail::LogOutcomes log_outcomes_;    ///< read_committed, from the log (as last fetched)
    std::optional<BlockingReaderMark> sleep_mark_;  ///< a blocking consumer's, while assigned
    bool ring_touched_ = false;                     ///< touch_ring() done
    std::uint64_t rung_mark_ = 0;                   ///< the daemon's doorbell mark we rang last
    std::size_t taken_this_poll_ = 0;
};

}  // namespace kbus
