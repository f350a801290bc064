// One partition a Consumer reads: from its ring in place while the ring holds the records (the
// consumer is tethered there through a reader slot), or from the log behind it (the segments,
// read straight from the file where it can, else batches the daemon decompressed), moving back
// onto the ring when it catches up. The caller sees the same offsets and bytes either way.
//
// A batch of views into the ring stays valid while this source holds it: until the next
// release_held(), or until the daemon detaches the source for holding longer than
// consumer.hold.timeout.ms, which check_attached() reports (batch_invalidated, with the offset to
// resume from). It never hands out overwritten bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kbus/client.hpp"
#include "kbus/consumer_options.hpp"
#include "kbus/detail/file_extent_reader.hpp"
#include "kbus/message.hpp"
#include "kbus/ring_reader.hpp"

namespace kbus {

// Where a group member commits this partition without a round trip (group_commit.hpp).
struct CommitRoute {
    ring::GroupCommitSlot* slot = nullptr;  // null: through the daemon
    std::uint64_t token = 0;
    std::uint64_t expected = 0;  // what we last saw in the slot (offset + 1)
};

class PartitionSource {
  public:
    PartitionSource(Client& client, std::string topic, std::int32_t partition,
                    std::shared_ptr<const TopicHandle> handle)
        : client_(&client),
          topic_(std::move(topic)),
          partition_(partition),
          handle_(std::move(handle)),
          reader_(handle_->rings[std::size_t(partition)]) {}

    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    // The next offset this source reads.
    [[nodiscard]] std::uint64_t position() const noexcept { return cursor_.offset; }
    [[nodiscard]] std::uint64_t high_watermark() const noexcept {
        return ring::load_next_offset(ring().header());
    }
    [[nodiscard]] const ring::RingRef& ring() const noexcept { return reader_.ring(); }
    CommitRoute commit_route;

    // Starts (again) at `from`: tethered in the ring, or reading the log behind it. Re-attaching
    // reuses this source's reader slot.
    void attach(OffsetSpec from) {
        const protocol::ReaderAttachment a =
            client_->attach_reader(handle_->metadata.topic_id, partition_, from.kind(),
                                   from.offset(), has_slot_ ? std::int32_t(slot_) : -1);
        holding_ = false;
        clear_disk();
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

    // Gives the reader slot back (the daemon frees it with our connection anyway).
    void detach() noexcept {
        try {
            client_->release_reader(handle_->metadata.topic_id, partition_, slot_);
        } catch (...) {
        }
    }

    // Moves the tether forward to where we read next: the batch held so far is released.
    void release_held() noexcept {
        taken_this_poll_ = 0;
        if (!holding_ || on_disk_) return;
        ring::ReaderSlot& s = slot();
        // Relaxed, then release: our reads of the old batch happen before producers may reuse
        // its bytes; the offset travels with the position.
        s.offset.store(cursor_.offset, std::memory_order_relaxed);
        s.position.store(cursor_.position, std::memory_order_release);
        holding_ = false;
    }

    // Appends what is readable now to `out`, up to `max` messages in all.
    void gather(std::vector<Message>& out, std::size_t max) {
        if (on_disk_) return gather_from_disk(out, max);
        while (out.size() < max) {
            ring::RecordRef r;
            const ring::PeekStatus s = reader_.peek(cursor_, r);
            if (s == ring::PeekStatus::record) {
                if (!holding_) {  // from here on a detach invalidates what we return
                    holding_ = true;
                    held_offset_ = r.offset;
                }
                out.emplace_back(r.header, &topic_, partition_, std::int64_t(r.offset));
            } else if (s == ring::PeekStatus::not_ready) {
                return;
            } else if (s != ring::PeekStatus::aborted) {  // aborted: a gap in offsets, skipped
                check_attached();      // a detach explains a lap: report it as such
                if (on_disk_) return;  // detached between batches: go on from the log
                throw_out_of_range(s == ring::PeekStatus::lapped ? "was overwritten (lapped)"
                                                                 : "holds a corrupt record");
            }
            ring::RingReader::advance(cursor_, r);
        }
    }

    // A detach between our tether and now means producers may have reused the bytes we read:
    // the held batch is reported invalidated. Detached while holding nothing, the source just
    // goes on from the log.
    void check_attached() {
        if (on_disk_) return;
        // Acquire: if still attached here, nothing we read was reused (the daemon detaches
        // before it lets producers past our position).
        if (slot().state.load(std::memory_order_acquire) ==
            std::uint32_t(ring::ReaderSlotState::attached))
            return;
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

    // The futex word producers bump when they commit (for consumers that sleep).
    [[nodiscard]] ring::WakeLine& wake_line() const noexcept { return ring().header().wake; }

  private:
    [[nodiscard]] ring::ReaderSlot& slot() const noexcept { return ring().header().readers[slot_]; }

    void clear_disk() noexcept {
        disk_file_.clear();
        disk_copy_.clear();
        disk_ = {};
        disk_at_ = 0;
    }

    // Fetches the batches from the cursor on: read from the segment file where the daemon says
    // they are, else as bytes (decompressed by the daemon). False if the log has nothing there.
    bool fetch_from_disk() {
        clear_disk();
        const std::uint64_t id = handle_->metadata.topic_id;
        const auto offset = std::int64_t(cursor_.offset);
        if (read_segments_) {
            const protocol::FetchReply f =
                client_->fetch(id, partition_, offset, protocol::max_fetch_file_bytes, true);
            ring_start_ = f.ring_start_offset;
            if (f.file_path.empty()) return false;
            if (disk_file_.read(f.file_path, f.file_position, std::size_t(f.file_length))) {
                disk_ = disk_file_.bytes();
                return true;
            }
            read_segments_ = false;
        }
        protocol::FetchReply f = client_->fetch(id, partition_, offset, protocol::max_fetch_bytes);
        ring_start_ = f.ring_start_offset;
        disk_copy_ = std::move(f.batches);
        disk_ = {reinterpret_cast<const std::byte*>(disk_copy_.data()), disk_copy_.size()};
        return !disk_.empty();
    }

    // The next batch to decode, fetching more when they run out and moving back onto the ring
    // once the cursor reaches what the ring holds. A refill happens only before this poll took
    // anything from the partition: earlier views point into the old batches. False: nothing
    // (more) now. `tried_ring`: this gather went back to the ring once already.
    bool next_disk_batch(bool& tried_ring) {
        while (disk_at_ >= disk_.size()) {
            if (taken_this_poll_ != 0) return false;
            if (!tried_ring && ring_start_ >= 0 && std::int64_t(cursor_.offset) >= ring_start_) {
                tried_ring = true;
                attach(OffsetSpec::at(std::int64_t(cursor_.offset)));
                if (!on_disk_) return false;  // back on the ring: the next gather reads it
            }
            if (!fetch_from_disk()) {
                if (tried_ring) return false;  // the ring moved on meanwhile: next time
                continue;                      // nothing more on disk: the ring has the rest
            }
        }
        return true;
    }

    void gather_from_disk(std::vector<Message>& out, std::size_t max) {
        bool tried_ring = false;
        while (out.size() < max && next_disk_batch(tried_ring)) {
            const log::BatchView b(disk_.subspan(disk_at_));
            if (b.check(false) != log::BatchCheck::ok) {
                clear_disk();
                throw_out_of_range("is in a corrupt batch on disk");
            }
            if (b.compression_codec() != 0) {
                if (disk_copy_.empty() && taken_this_poll_ == 0) {
                    // Stored compressed: from here on the daemon decompresses for us.
                    read_segments_ = false;
                    if (!fetch_from_disk()) return;
                    continue;
                }
                if (disk_copy_.empty()) return;  // after this poll's views are released
                clear_disk();
                throw_out_of_range("is in a batch the daemon did not decompress");
            }
            if (!take_records(b, out, max)) return;  // the rest of it is decoded next poll
            cursor_.offset = std::max(cursor_.offset, std::uint64_t(b.last_offset()) + 1);
            disk_at_ += b.total_bytes();
        }
    }

    // The batch's records from the cursor on; false if `out` filled up before its end.
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
    std::uint64_t held_offset_ = 0;  // first offset of the batch we hold
    bool holding_ = false;
    // Reading behind the ring: the fetched batches (an extent of a segment read straight from
    // the file, or bytes the daemon decompressed), the next one to decode, and from which offset
    // the ring holds records again.
    bool on_disk_ = false;
    bool read_segments_ = true;  // off once a read failed or met a compressed batch
    detail::FileExtentReader disk_file_;
    std::string disk_copy_;
    std::span<const std::byte> disk_;
    std::size_t disk_at_ = 0;
    std::int64_t ring_start_ = -1;  // -1: not known yet
    std::size_t taken_this_poll_ = 0;
};

}  // namespace kbus
