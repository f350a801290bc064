// The partition ring's binary layout, defined once. The daemon creates it; producers, consumers
// and the daemon's spill all go through these definitions.
//
//   [ RingHeader | claim journal | data region (capacity bytes, a power of two) ]
//
// Positions are 64-bit byte counts that only grow; `position & (capacity - 1)` indexes the data
// region. A record is a RecordHeader followed by its payload, 8-byte aligned, never straddling
// the end of the region (a padding record, or an implicit skip when fewer than
// record_header_bytes remain, fills the end of a lap).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kbus/detail/dwcas.hpp"

namespace kbus::ring {

inline constexpr std::size_t cache_line_bytes = 64;
inline constexpr std::uint64_t ring_magic = 0x4e49525f5355424bULL;  ///< "KBUS_RIN"
inline constexpr std::uint32_t ring_layout_version = 8;             ///< 8: 32-byte frames
inline constexpr std::uint32_t reader_slot_count = 64;
inline constexpr std::uint32_t group_commit_slot_count = 16;  ///< groups committing here by CAS
inline constexpr std::uint32_t aborted_range_count = 16;      ///< the abort log's memory
inline constexpr std::uint32_t producer_slot_count = 64;      ///< idempotent producers at once
inline constexpr std::uint64_t min_ring_bytes = 64 * 1024;
inline constexpr std::uint64_t max_ring_bytes = 1ULL << 32;

enum class RingState : std::uint32_t { creating = 0, active = 1, deleted = 2 };
enum class ReaderSlotState : std::uint32_t { free = 0, attached = 1, detached = 2 };
enum class TimestampType : std::uint32_t { create_time = 0, log_append_time = 1 };

/// Written once by the daemon before the ring is published, read-only afterwards.
struct alignas(cache_line_bytes) RingInfo {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t partition;
    std::uint64_t topic_id;
    std::uint64_t capacity;          ///< data region bytes, a power of two
    std::uint64_t journal_entries;   ///< a power of two
    std::uint64_t journal_offset;    ///< from the start of the mapping
    std::uint64_t data_offset;       ///< from the start of the mapping
    std::uint32_t max_record_bytes;  ///< frame bytes (header included) a record may take
    TimestampType timestamp_type;
};
static_assert(sizeof(RingInfo) == cache_line_bytes);

/// The producers' contended line: (next offset, tail position), claimed together by one 16-byte
/// compare-and-swap so that offsets grow with positions.
///
/// An exclusive producer (ProducerOptions::exclusive) sets exclusive_claim_bit in `first` with a
/// compare-and-swap while it holds the ring file's exclusive lock (exclusive_lease.hpp). From then
/// on it alone stores the pair, with plain 16-byte stores and no locked instruction; every other
/// producer's claim sees the bit (or fails its compare-and-swap on it) and is refused. The owner
/// clears the bit when it lets go; a dead owner's bit is cleared by whoever next takes the lock.
struct alignas(cache_line_bytes) ClaimLine {
    detail::WordPair next_offset_and_tail;  ///< first: next offset; second: tail position
    std::atomic<std::uint32_t> state;       ///< RingState; producers check it when they block
    std::atomic<std::int32_t> exclusive_owner_pid;  ///< for messages only: who set the bit
};
static_assert(sizeof(ClaimLine) == cache_line_bytes);
inline constexpr std::uint64_t exclusive_claim_bit = 1ULL << 63;  ///< offsets stay below it

/// Written by the daemon only: producers may claim up to (not beyond) producer_limit. A producer
/// whose claim ends past doorbell_at rings the daemon's doorbell once (it wants the next grant
/// before it runs out of room), so the daemon sleeps until then instead of watching the tail.
struct alignas(cache_line_bytes) LimitLine {
    std::atomic<std::uint64_t> producer_limit;     ///< only ever grows
    std::atomic<std::uint32_t> limit_seq;          ///< futex word bumped when the limit grows
    std::atomic<std::uint32_t> blocked_producers;  ///< producers asleep on limit_seq
    std::atomic<std::uint64_t> doorbell_at;        ///< stored before the limit; 0: no doorbell
    /// 1: the topic is compacted (cleanup.policy has compact), so a record without a key is
    /// refused at its send. Kept by the daemon (create, alter, restart); producers read it only
    /// for a record without a key. Zero in a ring made before it existed: no refusal.
    std::atomic<std::uint32_t> keys_required;
};
static_assert(sizeof(LimitLine) == cache_line_bytes);

/// The mark the daemon stores with a limit: an eighth of the ring below it, room enough for a
/// pass before producers would have to wait. Consumers ring once they read past it.
[[nodiscard]] constexpr std::uint64_t doorbell_mark_for(std::uint64_t limit,
                                                        std::uint64_t capacity) {
    return limit - capacity / 8;
}
/// Where a producer rings: halfway from the mark to the limit, so consumers usually ring first
/// (a woken daemon runs on the ringer's core, better the consumer's, which has time to spare).
[[nodiscard]] constexpr std::uint64_t producer_doorbell_point(std::uint64_t mark,
                                                              std::uint64_t limit) {
    return mark >= limit ? limit : mark + (limit - mark) / 2;
}

/// The daemon's read (spill) cursor: everything before it has been taken by the daemon.
struct alignas(cache_line_bytes) SpillLine {
    std::atomic<std::uint64_t> spill_position;
    std::atomic<std::uint64_t> spill_offset;
};
static_assert(sizeof(SpillLine) == cache_line_bytes);

/// Consumers that sleep in blocking mode wait on wake_seq. Each sets wake_wanted before it sleeps;
/// the first commit to find it set takes it (exchange to 0), bumps wake_seq and wakes every
/// sleeper: one system call per sleep, not one per commit while sleepers are still waking up.
/// While blocking_readers is non-zero producers fence each commit before they look at
/// wake_wanted (a consumer announcing itself must not miss a commit still in a store buffer);
/// without one, commits take no fence at all.
struct alignas(cache_line_bytes) WakeLine {
    std::atomic<std::uint32_t> wake_seq;
    std::atomic<std::uint32_t> sleepers;          ///< consumers asleep here now (for stats, tests)
    std::atomic<std::uint32_t> blocking_readers;  ///< consumers assigned here that may sleep
    std::atomic<std::uint32_t> wake_wanted;       ///< 1: a consumer sleeps on wake_seq's value
};
static_assert(sizeof(WakeLine) == cache_line_bytes);

/// The daemon's record of the claims it aborted (dead producers', invariant 7), so that a producer
/// that was only stalled past kbus.claim.timeout.ms learns at its commit that its record became a
/// gap, instead of being told it was sent. A repair pass bumps `begun` (then looks at the claims),
/// notes each aborted range, and publishes `done`; a producer compares `begun` before its claim
/// and after its commit, and reads the ranges only when it moved (rare: no cost on the hot path).
struct AbortedRange {
    std::atomic<std::uint64_t> pass;  ///< the repair pass (begun's value) that aborted it
    std::atomic<std::uint64_t> first_offset;
    std::atomic<std::uint64_t> end_offset;  ///< exclusive
};
struct alignas(cache_line_bytes) AbortLog {
    std::atomic<std::uint64_t> begun;           ///< repair passes started
    std::atomic<std::uint64_t> done;            ///< repair passes finished (ranges complete)
    std::atomic<std::uint64_t> ranges_written;  ///< ranges[ranges_written % count] is the next
    AbortedRange ranges[aborted_range_count];
};
static_assert(sizeof(AbortLog) % cache_line_bytes == 0);

/// One consumer's tether on this partition. While attached, `position` (which only grows) holds
/// producers back: no claim may pass position + capacity. The daemon attaches and detaches slots
/// (so the limit it publishes always accounts for them); the consumer only moves position forward.
struct alignas(cache_line_bytes) ReaderSlot {
    std::atomic<std::uint64_t> position;  ///< first byte the consumer still reads (its held batch)
    std::atomic<std::uint64_t> offset;    ///< the offset at `position` (the resume point)
    std::atomic<std::uint32_t> state;     ///< ReaderSlotState
    std::uint32_t owner_connection;       ///< daemon bookkeeping: which client holds it
};
static_assert(sizeof(ReaderSlot) == cache_line_bytes);

/// A consumer group's committed offset on this partition, committed by the member that owns the
/// partition with no system call: a 16-byte compare-and-swap of (fence token, offset + 1) that
/// keeps the token. The daemon allocates the slot to the group (by name), hands the owner its
/// token with the assignment, and replaces the token when a rebalance completes: a member that
/// missed it fails the compare, its commit refused. The daemon persists what changed, and after
/// a crash reads the slots back (the ring outlives the daemon in shared memory).
inline constexpr std::size_t group_name_capacity = 300;  ///< >= 249, Kafka's longest name
struct alignas(cache_line_bytes) GroupCommitSlot {
    detail::WordPair
        token_and_commit;       ///< first: fence token, 0 = free; second: offset + 1, 0 = none
    std::uint32_t name_length;  ///< the group's name, written before the token is set
    char name[group_name_capacity];
};
static_assert(sizeof(GroupCommitSlot) == 5 * cache_line_bytes);
static_assert(offsetof(GroupCommitSlot, token_and_commit) % 16 == 0);

/// An idempotent local producer's registration on this partition (RegisterProducerRequest). Its
/// records name the slot in RecordHeader::attributes (slot_stamp_attributes) instead of carrying
/// a RecordStamp, so idempotence costs a send no byte: the spill reads the producer id and epoch
/// here and numbers the slot's records itself, consecutively. Written by the daemon only, before it
/// answers the registration, so every record naming the slot was committed after it. A slot whose
/// producer left is retiring until the spill has passed everything claimed before it left.
enum class ProducerSlotState : std::uint32_t { free = 0, active = 1, retiring = 2 };
struct ProducerSlot {
    std::atomic<std::int64_t> producer_id;
    std::atomic<std::int32_t> epoch;
    std::atomic<std::uint32_t> state;            ///< ProducerSlotState
    std::atomic<std::uint64_t> retire_position;  ///< retiring: free once the spill passed it
    std::atomic<std::int32_t> owner_pid;         ///< its process: a dead one's slot retires
    std::uint32_t reserved;
};
static_assert(sizeof(ProducerSlot) == 32);
struct alignas(cache_line_bytes) ProducerSlots {
    ProducerSlot slots[producer_slot_count];
};
static_assert(sizeof(ProducerSlots) == producer_slot_count * sizeof(ProducerSlot));

struct RingHeader {
    RingInfo info;
    ClaimLine claim;
    LimitLine limit;
    SpillLine spill;
    WakeLine wake;
    AbortLog aborts;
    ReaderSlot readers[reader_slot_count];
    GroupCommitSlot group_commits[group_commit_slot_count];
    ProducerSlots producers;
};
static_assert(sizeof(RingHeader) == cache_line_bytes * (5 + reader_slot_count) + sizeof(AbortLog) +
                                        sizeof(GroupCommitSlot) * group_commit_slot_count +
                                        sizeof(ProducerSlots));
static_assert(alignof(RingHeader) == cache_line_bytes);
static_assert(offsetof(RingHeader, claim) % 16 == 0, "the claim pair needs 16-byte alignment");

// ---- the claim journal -------------------------------------------------------------------------
// journal[offset & (entries-1)] = the record's position, written by the producer before its
// commit. A record takes at least record_header_bytes, so entries = capacity / 32 guarantees
// every record still in the ring has its own entry: a seek finds an offset without scanning, and
// a crash repairer finds where a dead claim ends.
inline constexpr std::uint64_t journal_entries_for(std::uint64_t capacity) {
    return capacity / 32;
}

// ---- the record header ------------------------------------------------------------------------
/// `control`: a transaction marker (Kafka's control record), written by the daemon when a
/// transaction ends. Its key and value are Kafka's control record key and value as the log holds
/// them (control_record.hpp); its attributes name the producer whose transaction it ends, as a
/// data record's do. It takes an offset, as in Kafka's log, and no consumer returns it.
enum class RecordType : std::uint16_t { data = 1, padding = 2, aborted = 3, control = 4 };

/// Named offsets within a record frame. The commit word comes first and is stored last.
inline constexpr std::size_t commit_word_offset = 0;       ///< u64: offset + 1 once committed
inline constexpr std::size_t position_field_offset = 8;    ///< u64: this frame's position
inline constexpr std::size_t timestamp_field_offset = 16;  ///< i64: ms since the epoch
inline constexpr std::size_t frame_length_offset = 24;     ///< u32: a multiple of frame_alignment
inline constexpr std::size_t record_type_offset = 28;      ///< u16: RecordType
inline constexpr std::size_t attributes_offset = 30;       ///< u16: how the record is stamped
inline constexpr std::size_t key_length_offset = 32;       ///< i32: -1 = null key
inline constexpr std::size_t value_length_offset = 36;     ///< i32: -1 = null value
inline constexpr std::size_t headers_length_offset = 40;   ///< u32: bytes of the header block
inline constexpr std::size_t header_count_offset = 44;     ///< u32: number of headers
inline constexpr std::size_t record_header_bytes = 48;

[[nodiscard]] constexpr std::uint64_t align_up(std::uint64_t n, std::uint64_t a) {
    return (n + a - 1) & ~(a - 1);
}
inline constexpr std::size_t record_alignment = 8;  ///< of the value, the header block, a stamp
/// Frames start and end on 32-byte boundaries, as Aeron's do. A frame that ends mid-line shares
/// that line with the next one: a caught-up consumer, looking at the next frame's commit word,
/// takes the line back from the producer while it still writes the frame before, once a record.
/// With 8-byte frames the 64 B stream ran at 0.6-0.8x the rate it reaches with 32-byte frames;
/// a round trip pays ~10% (the reader's first look at a fresh line races the producer's write).
inline constexpr std::size_t frame_alignment = 32;
static_assert(frame_alignment % record_alignment == 0);
/// The smallest frame: a header alone (an aborted offset's, say).
inline constexpr std::size_t min_frame_bytes = align_up(record_header_bytes, frame_alignment);

struct RecordHeader {
    std::atomic<std::uint64_t> commit;
    std::uint64_t position;
    std::int64_t timestamp;
    std::uint32_t frame_length;
    RecordType type;
    std::uint16_t attributes;  ///< stamped_attribute, slot_stamp_attributes(slot), or 0
    std::int32_t key_length;
    std::int32_t value_length;
    std::uint32_t headers_length;
    std::uint32_t header_count;
};
static_assert(sizeof(RecordHeader) == record_header_bytes);
static_assert(offsetof(RecordHeader, commit) == commit_word_offset);
static_assert(offsetof(RecordHeader, position) == position_field_offset);
static_assert(offsetof(RecordHeader, timestamp) == timestamp_field_offset);
static_assert(offsetof(RecordHeader, frame_length) == frame_length_offset);
static_assert(offsetof(RecordHeader, type) == record_type_offset);
static_assert(offsetof(RecordHeader, attributes) == attributes_offset);
static_assert(offsetof(RecordHeader, key_length) == key_length_offset);
static_assert(offsetof(RecordHeader, value_length) == value_length_offset);
static_assert(offsetof(RecordHeader, headers_length) == headers_length_offset);
static_assert(offsetof(RecordHeader, header_count) == header_count_offset);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// ---- the producer stamp ------------------------------------------------------------------------
/// RecordHeader::attributes bit: the frame holds a RecordStamp, an idempotent producer's
/// identity and sequence (Kafka's producer id, epoch and sequence of a RecordBatch): a Kafka
/// client's record through the listener, whose sequences are the client's own. It sits after
/// the header block, 8-aligned (PayloadLayout::stamp_offset), so a reader that does not look for
/// it finds the key, value and headers where they always are.
inline constexpr std::uint16_t stamped_attribute = 1;
/// RecordHeader::attributes bit: a local idempotent producer's record, its ProducerSlot's index in
/// bits 8-15. No stamp bytes: the spill numbers the slot's records.
inline constexpr std::uint16_t slot_stamped_attribute = 2;
inline constexpr unsigned producer_slot_shift = 8;
[[nodiscard]] constexpr std::uint16_t slot_stamp_attributes(std::uint32_t slot) {
    return std::uint16_t(slot_stamped_attribute | (slot << producer_slot_shift));
}
/// RecordHeader::attributes bit: a record of a transaction (Kafka's isTransactional batch bit),
/// with its producer named by a slot or a stamp. Consumers at read_committed return it only once
/// the marker (RecordType::control) of its producer that follows it says the transaction
/// committed.
inline constexpr std::uint16_t transactional_attribute = 4;
static_assert(producer_slot_count <= 256, "a slot's index fits attributes' high byte");

inline constexpr std::size_t stamp_producer_id_offset = 0;  ///< i64: kbusd's producer id
inline constexpr std::size_t stamp_sequence_offset = 8;     ///< i32: per producer and partition
inline constexpr std::size_t stamp_epoch_offset = 12;       ///< i16: the producer id's epoch
inline constexpr std::size_t stamp_reserved_offset = 14;    ///< u16: 0
inline constexpr std::size_t record_stamp_bytes = 16;

struct RecordStamp {
    std::int64_t producer_id;
    std::int32_t sequence;
    std::int16_t epoch;
    std::uint16_t reserved;
};
static_assert(sizeof(RecordStamp) == record_stamp_bytes);
static_assert(offsetof(RecordStamp, producer_id) == stamp_producer_id_offset);
static_assert(offsetof(RecordStamp, sequence) == stamp_sequence_offset);
static_assert(offsetof(RecordStamp, epoch) == stamp_epoch_offset);
static_assert(offsetof(RecordStamp, reserved) == stamp_reserved_offset);
static_assert(record_stamp_bytes % record_alignment == 0);

[[nodiscard]] constexpr std::uint64_t commit_word_for(std::uint64_t offset) {
    return offset + 1;
}

/// Payload layout: key at the header's end, value 8-aligned after it (so a claimed value can
/// hold aligned structs), then the header block: per header u16 key length, key bytes,
/// i32 value length (-1 = null), value bytes.
struct PayloadLayout {  // 64-bit so that hostile lengths cannot wrap
    std::uint64_t key_offset;
    std::uint64_t value_offset;
    std::uint64_t headers_offset;
    std::uint64_t frame_length;  ///< the ring bytes the frame takes (frame_alignment)
    std::uint64_t stamp_offset;  ///< where the payload ends (8-aligned): a stamp's place
};

[[nodiscard]] constexpr PayloadLayout payload_layout(std::int32_t key_length,
                                                     std::int32_t value_length,
                                                     std::uint32_t headers_length) {
    const std::uint64_t key_bytes = key_length < 0 ? 0 : std::uint64_t(key_length);
    const std::uint64_t value_bytes = value_length < 0 ? 0 : std::uint64_t(value_length);
    const std::uint64_t value_offset = align_up(record_header_bytes + key_bytes, record_alignment);
    const std::uint64_t headers_offset = value_offset + value_bytes;
    const std::uint64_t end = align_up(headers_offset + headers_length, record_alignment);
    return {record_header_bytes, value_offset, headers_offset, align_up(end, frame_alignment), end};
}

/// Byte layout of the whole shared-memory object for a ring of `capacity` bytes.
struct RingLayout {
    std::uint64_t journal_offset;
    std::uint64_t journal_entries;
    std::uint64_t data_offset;
    std::uint64_t total_bytes;
};

[[nodiscard]] constexpr RingLayout ring_layout(std::uint64_t capacity) {
    constexpr std::uint64_t page = 4096;
    const std::uint64_t journal_offset = align_up(sizeof(RingHeader), page);
    const std::uint64_t entries = journal_entries_for(capacity);
    const std::uint64_t data_offset = align_up(journal_offset + entries * 8, page);
    return {journal_offset, entries, data_offset, data_offset + capacity};
}

[[nodiscard]] constexpr bool is_power_of_two(std::uint64_t n) {
    return n && !(n & (n - 1));
}

}  // namespace kbus::ring
