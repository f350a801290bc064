// The control protocol's topic, reader, fetch and stats messages: each request names its type and
// its reply, and lists its fields once (detail/message_codec.hpp encodes and decodes them). The
// group messages are in group_messages.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kbus/bus_stats.hpp"
#include "kbus/detail/message_codec.hpp"
#include "kbus/protocol.hpp"

namespace kbus::protocol {

using Setting = std::pair<std::string, std::string>;  ///< a topic config key and its value

/// Topic facts a client needs to produce and consume.
struct TopicMetadata {
    std::string name;
    std::uint64_t topic_id = 0;
    std::int32_t partitions = 0;
    std::uint64_t ring_bytes = 0;
    std::uint32_t max_message_bytes = 0;
    std::uint32_t timestamp_type = 0;  ///< ring::TimestampType
    std::uint32_t hold_timeout_ms = 0;
    std::string ring_path_prefix;  ///< partition p's ring is the file ring_path_prefix + "." + p
    std::vector<Setting> config;
    KBUS_FIELDS(name, topic_id, partitions, ring_bytes, max_message_bytes, timestamp_type,
                hold_timeout_ms, ring_path_prefix, config)
};

struct PartitionState {
    std::int32_t partition = 0;
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;
    std::uint64_t ring_bytes = 0;
    std::uint64_t ring_fill_bytes = 0;  ///< bytes between the producers' gate and the tail
    std::int64_t spill_offset = 0;      ///< next offset the daemon will take
    std::uint32_t attached_readers = 0;
    /// Compaction: the closed segments the cleaner may work on, and the part of them not
    /// cleaned yet (dirty / cleanable is min.cleanable.dirty.ratio's measure).
    std::uint64_t cleanable_bytes = 0;
    std::uint64_t dirty_bytes = 0;
    KBUS_FIELDS(partition, log_start_offset, high_watermark, ring_bytes, ring_fill_bytes,
                spill_offset, attached_readers, cleanable_bytes, dirty_bytes)
};

struct TopicDescription {
    TopicMetadata metadata;
    std::vector<PartitionState> partitions;
    KBUS_FIELDS(metadata, partitions)
};

/// Where a consumer reads next. In the ring (tethered through `slot`, starting at `position`),
/// or, when `on_disk`, behind the ring: it reads the log through fetch from `offset` on.
struct ReaderAttachment {
    std::uint32_t slot = 0;
    std::uint64_t position = 0;
    std::int64_t offset = 0;
    bool on_disk = false;
    KBUS_FIELDS(slot, position, offset, on_disk)
};

/// Records behind the ring: whole RecordBatch v2 batches from the log, starting with the one that
/// holds the requested offset. They come one of two ways: as bytes in the reply (decompressed by
/// the daemon), or, for a client that asked for it, as an extent of a segment file that the
/// client reads itself (stored batches, possibly compressed): one copy out of the page cache,
/// none through the socket.
/// An aborted transaction a read_committed reader skips: its producer's transactional batches
/// from first_offset up to its ABORT marker.
struct AbortedTransactionRef {
    std::int64_t producer_id = -1;
    std::int64_t first_offset = -1;
    KBUS_FIELDS(producer_id, first_offset)
};

struct FetchReply {
    std::int64_t log_start_offset = 0;
    std::int64_t log_end_offset = 0;     ///< next offset the log will hold
    std::int64_t ring_start_offset = 0;  ///< offsets from here on can be read from the ring
    std::string batches;
    std::string file_path;  ///< non-empty: the batches are file_length bytes at file_position
    std::uint64_t file_position = 0;
    std::uint64_t file_length = 0;
    /// The file's inode when the extent was taken: the log cleaner replaces a segment by a file
    /// of the same name, so a client checks it opened the file the extent is of.
    std::uint64_t file_inode = 0;
    /// read_committed only: records below it are decided (Kafka's last stable offset, lowered to
    /// where `aborted` stops when the list was cut short, at max_fetch_aborted entries); the
    /// aborted transactions a reader from the fetch's offset on meets (Kafka's
    /// aborted_transactions), oldest first.
    static constexpr std::size_t max_fetch_aborted = 4096;
    std::int64_t last_stable_offset = -1;
    std::vector<AbortedTransactionRef> aborted;
    KBUS_FIELDS(log_start_offset, log_end_offset, ring_start_offset, batches, file_path,
                file_position, file_length, file_inode, last_stable_offset, aborted)
};

// ---- requests -----------------------------------------------------------------------------------

struct HelloReply {
    std::uint64_t daemon_epoch = 0;  ///< grows with every daemon start
    std::string shm_dir;             ///< the bus's shared-memory directory (control, rings, lock)
    KBUS_FIELDS(daemon_epoch, shm_dir)
};
struct HelloRequest {
    static constexpr RequestType type = RequestType::hello;
    using Reply = HelloReply;
    std::uint32_t version = protocol_version;
    std::uint64_t pid = 0;
    std::string client_name;
    std::string bus;  ///< the bus the client means: refused if the socket serves another
    KBUS_FIELDS(version, pid, client_name, bus)
};

struct CreateTopicRequest {
    static constexpr RequestType type = RequestType::create_topic;
    using Reply = codec::Empty;
    std::string name;
    std::int32_t partitions = 0;
    std::vector<Setting> config;
    KBUS_FIELDS(name, partitions, config)
};

struct DeleteTopicRequest {
    static constexpr RequestType type = RequestType::delete_topic;
    using Reply = codec::Empty;
    std::string name;
    KBUS_FIELDS(name)
};

/// Changes a topic's settings; the ring's shape (ring.bytes, max.message.bytes,
/// message.timestamp.type) is fixed at creation.
struct AlterTopicRequest {
    static constexpr RequestType type = RequestType::alter_topic;
    using Reply = codec::Empty;
    std::string name;
    std::vector<Setting> config;
    KBUS_FIELDS(name, config)
};

/// Grows a topic to `partitions` partitions (Kafka's CreatePartitions); it never shrinks. New keys
/// hash over the new count.
struct CreatePartitionsRequest {
    static constexpr RequestType type = RequestType::create_partitions;
    using Reply = TopicMetadata;
    std::string name;
    std::int32_t partitions = 0;
    KBUS_FIELDS(name, partitions)
};

struct DeleteRecordsReply {
    std::int64_t log_start_offset = 0;  ///< the partition's log start after the deletion
    KBUS_FIELDS(log_start_offset)
};
/// Kafka's DeleteRecords: the partition's records below `offset` (-1: the high watermark) are
/// gone; its log start moves there.
struct DeleteRecordsRequest {
    static constexpr RequestType type = RequestType::delete_records;
    using Reply = DeleteRecordsReply;
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = -1;
    KBUS_FIELDS(topic, partition, offset)
};

/// A producer's first use of a partition: the daemon allocates the ring's journal and data, which
/// stay a hole in shared memory until then (an idle partition costs its header page, not its
/// ring). Producers may claim only after it. Refused with resource_exhausted, naming the limit,
/// when kbus.max.shared.memory.bytes or /dev/shm has no room for the ring.
struct ReserveRingRequest {
    static constexpr RequestType type = RequestType::reserve_ring;
    using Reply = codec::Empty;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    KBUS_FIELDS(topic_id, partition)
};

/// An idempotent producer's identity (Kafka's InitProducerId): a producer id and epoch its records
/// are stamped with. Without a transactional id, a new producer id at epoch 0. With one, that id's
/// producer id at its next epoch: the instance before is fenced (its next send is refused with
/// producer_fenced), and fence_slot names the control segment's ProducerFence it can watch.
struct ProducerIdentity {
    std::int64_t producer_id = -1;
    std::int32_t epoch = -1;
    std::int32_t fence_slot = -1;  ///< -1: none (no transactional id)
    KBUS_FIELDS(producer_id, epoch, fence_slot)
};
struct InitProducerIdRequest {
    static constexpr RequestType type = RequestType::init_producer_id;
    using Reply = ProducerIdentity;
    std::string transactional_id;  ///< empty: none
    KBUS_FIELDS(transactional_id)
};

/// An idempotent producer's first use of a partition: the daemon gives it a ProducerSlot in the
/// ring (ring_descriptor.hpp), which its records name. Refused with resource_exhausted when all
/// producer_slot_count slots are taken; the slot retires when the producer's connection closes.
struct ProducerSlotGrant {
    std::uint32_t slot = 0;
    KBUS_FIELDS(slot)
};
struct RegisterProducerRequest {
    static constexpr RequestType type = RequestType::register_producer;
    using Reply = ProducerSlotGrant;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::int64_t producer_id = -1;
    std::int32_t epoch = -1;
    std::int32_t owner_pid =
        0;  ///< informational: the daemon takes the kernel's word (SO_PEERCRED)
    KBUS_FIELDS(topic_id, partition, producer_id, epoch, owner_pid)
};

/// An idempotent producer destroyed: its slot retires (as when its connection closes). Only the
/// connection that registered the slot can release it.
struct ReleaseProducerRequest {
    static constexpr RequestType type = RequestType::release_producer;
    using Reply = codec::Empty;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::uint32_t slot = 0;
    KBUS_FIELDS(topic_id, partition, slot)
};

/// A transactional producer's first send to a partition since begin_transaction (Kafka's
/// AddPartitionsToTxn): the daemon, its transaction coordinator, will write the transaction's
/// marker there, naming the producer's slot. The transaction starts with its first partition,
/// and is aborted by the daemon if it outlives timeout_ms (Kafka's transaction.timeout.ms) or
/// the producer's connection.
struct AddPartitionToTxnRequest {
    static constexpr RequestType type = RequestType::add_partition_to_txn;
    using Reply = codec::Empty;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::int64_t producer_id = -1;
    std::int32_t epoch = -1;
    std::uint32_t slot = 0;  ///< the producer's slot in the partition's ring
    std::int64_t timeout_ms = 60000;
    KBUS_FIELDS(topic_id, partition, producer_id, epoch, slot, timeout_ms)
};

/// Ends a producer's transaction (Kafka's EndTxn): a COMMIT or ABORT marker in each of its
/// partitions, committed to their rings before the reply. Refused with invalid_txn_state when no
/// transaction is open, producer_fenced when the epoch is not the producer's newest (a newer
/// instance started, or the transaction timed out and the daemon aborted it).
struct TxnEnded {
    std::uint32_t partitions = 0;  ///< markers written
    KBUS_FIELDS(partitions)
};
struct EndTxnRequest {
    static constexpr RequestType type = RequestType::end_txn;
    using Reply = TxnEnded;
    std::int64_t producer_id = -1;
    std::int32_t epoch = -1;
    bool commit = false;
    KBUS_FIELDS(producer_id, epoch, commit)
};

struct TopicNames {
    std::vector<std::string> names;
    KBUS_FIELDS(names)
};
struct ListTopicsRequest {
    static constexpr RequestType type = RequestType::list_topics;
    using Reply = TopicNames;
    KBUS_FIELDS()
};

struct DescribeTopicRequest {
    static constexpr RequestType type = RequestType::describe_topic;
    using Reply = TopicDescription;
    std::string name;
    KBUS_FIELDS(name)
};

/// A topic's metadata for a producer or consumer (auto-created if the bus allows it).
struct TopicMetadataRequest {
    static constexpr RequestType type = RequestType::topic_metadata;
    using Reply = TopicMetadata;
    std::string name;
    KBUS_FIELDS(name)
};

/// Tethers a consumer to a partition at the offset it asks for (see ReaderSlot); slot < 0 asks for
/// a new slot, else the consumer's own is reused.
struct AttachReaderRequest {
    static constexpr RequestType type = RequestType::attach_reader;
    using Reply = ReaderAttachment;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    OffsetSpecKind kind = OffsetSpecKind::beginning;
    std::int64_t offset = 0;
    std::int32_t slot = -1;
    KBUS_FIELDS(topic_id, partition, kind, offset, slot)
};

struct ReleaseReaderRequest {
    static constexpr RequestType type = RequestType::release_reader;
    using Reply = codec::Empty;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::uint32_t slot = 0;
    KBUS_FIELDS(topic_id, partition, slot)
};

/// Batches from a partition's log from the one holding `offset`, up to max_bytes (at least one).
struct FetchRequest {
    static constexpr RequestType type = RequestType::fetch;
    using Reply = FetchReply;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::uint32_t max_bytes = 0;
    bool as_extent = false;
    bool read_committed = false;  ///< the reply carries last_stable_offset and aborted
    KBUS_FIELDS(topic_id, partition, offset, max_bytes, as_extent, read_committed)
};

/// Damage in a partition's log: the offsets a corrupt batch cost (none if last < first), where
/// reading resumes, and the bytes of the segment file it spans.
struct CorruptBatchReply {
    bool corrupt = false;  ///< false: kbusd's own check found the batch sound
    std::int64_t first_offset = 0;
    std::int64_t last_offset = -1;
    std::int64_t resume_offset = 0;
    std::string file;
    std::uint64_t file_begin = 0;
    std::uint64_t file_end = 0;
    std::string message;  ///< the daemon's one line on it
    KBUS_FIELDS(corrupt, first_offset, last_offset, resume_offset, file, file_begin, file_end,
                message)
};

/// A consumer read a batch from disk that fails its CRC (or its framing) at `offset` (the first
/// offset it has not read yet), or a fetch there answered corrupt_record. kbusd checks the batch
/// itself; damage it confirms is remembered (reads step over it from then on) and logged once.
struct ReportCorruptBatchRequest {
    static constexpr RequestType type = RequestType::report_corrupt_batch;
    using Reply = CorruptBatchReply;
    std::uint64_t topic_id = 0;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    KBUS_FIELDS(topic_id, partition, offset)
};

struct StatsRequest {
    static constexpr RequestType type = RequestType::stats;
    using Reply = stats::BusStats;
    KBUS_FIELDS()
};

}  // namespace kbus::protocol
