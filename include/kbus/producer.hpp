// kbus::Producer: writes records into partition rings.
//   send()         copies key, value and headers once, into the ring;
//   claim()/commit() hands out the value's bytes inside the ring, for a producer that builds its
//                  message in place (zero copy), and publishes it on commit.
// Blocking calls wait (spin, then futex) while the ring is full, at most max_block; try_ variants
// never wait. Partitioning is Kafka's: explicit partition, else murmur2(key), else round robin.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kbus/bytes.hpp"
#include "kbus/client.hpp"
#include "kbus/consumer_group_metadata.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/detail/producer_transaction.hpp"
#include "kbus/detail/record_clock.hpp"
#include "kbus/detail/transaction_end.hpp"
#include "kbus/exclusive_lease.hpp"
#include "kbus/group_messages.hpp"
#include "kbus/header_block.hpp"
#include "kbus/murmur2.hpp"
#include "kbus/producer_options.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_writer.hpp"

namespace kbus {

/// A claimed record whose value is written in place; publish it with Producer::commit.
class ProducerClaim {
  public:
    [[nodiscard]] std::span<std::byte> value() const noexcept { return value_; }
    [[nodiscard]] std::int32_t partition() const noexcept { return partition_; }
    [[nodiscard]] std::int64_t offset() const noexcept {
        return static_cast<std::int64_t>(claim_.offset);
    }

  private:
    friend class Producer;
    ring::RingClaim claim_{};
    ring::RingWriter* writer_ = nullptr;
    std::span<std::byte> value_{};
    std::int32_t partition_ = 0;
    std::int64_t timestamp_ = 0;
};

class Producer {
  public:
    /// An idempotent or transactional producer asks the daemon for its id here (a round trip).
    explicit Producer(Client& client, ProducerOptions options = {})
        : client_(&client), options_(std::move(options)) {
        if (options_.enable_idempotence || !options_.transactional_id.empty()) {
            check_transactional_options(options_);
            identity_ = client_->init_producer_id(options_.transactional_id);
            idempotent_ = true;
            transactional_ = !options_.transactional_id.empty();
        }
    }

    /// The moved-from producer keeps no transaction, slot or lease of the one it was.
    Producer(Producer&&) noexcept = default;
    /// What this producer held first goes as its destructor lets it go (its open transaction
    /// aborted, its slots given back), then it becomes `other`.
    Producer& operator=(Producer&& other) noexcept {
        if (this != &other) {
            std::destroy_at(this);
            std::construct_at(this, std::move(other));
        }
        return *this;
    }
    /// An idempotent producer gives its ring slots back (the daemon retires them once the spill
    /// has its records); errors are swallowed, as a destructor must.
    ~Producer() {
        if (txn_.open()) try {
                abort_transaction();
            } catch (const Error&) {  // the daemon aborts it when the slots are released
            }
        for (const protocol::ReleaseProducerRequest& slot : slots_)
            try {
                client_->release_producer(slot.topic_id, slot.partition, slot.slot);
            } catch (const Error&) {
            }
    }

    /// Kafka's beginTransaction (a transactional producer only): the sends from here on, to any
    /// partitions of any topics, are one transaction. No round trip here: the first send to each
    /// partition tells the daemon (one round trip per partition and transaction).
    /// Throws Error(producer_fenced) once fenced: a fenced producer is done, as in Kafka.
    void begin_transaction() {
        check_not_fenced();
        txn_.begin(transactional_);
    }
    /// Kafka's commitTransaction: a COMMIT marker in every partition the transaction wrote to,
    /// in their rings when this returns. A read_committed consumer then returns its records.
    /// Throws Error(producer_fenced) if the daemon aborted it (its timeout) or a newer instance
    /// started; Error(invalid_txn_state) without begin_transaction.
    void commit_transaction() { end_transaction(true); }
    /// Kafka's abortTransaction: ABORT markers; no read_committed consumer returns its records.
    void abort_transaction() { end_transaction(false); }
    /// Kafka's sendOffsetsToTransaction: the group's offsets (the next offset to read of each
    /// partition) are committed if and only if the transaction commits, the consume-transform-
    /// produce loop's exactly once. Checked now as a commit is (the member's generation, the
    /// partitions it owns: Error(illegal_generation) and the like), and again at the commit, which
    /// aborts instead if they no longer hold (a rebalance meanwhile) and says so.
    void send_offsets_to_transaction(
        const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets,
        const ConsumerGroupMetadata& group) {
        txn_.require_open("send_offsets_to_transaction");
        check_not_fenced();
        (void)client_->request(group::TxnOffsetCommitRequest{
            identity_.producer_id, identity_.epoch, group.group_id, group.generation_id,
            group.member_id, offsets, std::int64_t(options_.transaction_timeout.count())});
        txn_.offsets_sent();
    }
    [[nodiscard]] bool in_transaction() const noexcept { return txn_.open(); }

    /// The producer id and epoch the daemon granted (-1 each: not an idempotent producer).
    [[nodiscard]] std::int64_t producer_id() const noexcept { return identity_.producer_id; }
    [[nodiscard]] std::int16_t producer_epoch() const noexcept {
        return std::int16_t(identity_.epoch);
    }

    RecordMetadata send(std::string_view topic, BytesView key, BytesView value,
                        const SendOptions& options = {}) {
        ProducerClaim c;
        if (!claim_into(topic, key, value_length(value), options, true, c)) [[unlikely]]
            throw_unclaimed();
        fill_value(c, value);
        return commit(c);
    }

    /// Like send, but returns nullopt at once when the partition's ring is full.
    [[nodiscard]] std::optional<RecordMetadata> try_send(std::string_view topic, BytesView key,
                                                         BytesView value,
                                                         const SendOptions& options = {}) {
        ProducerClaim c;
        if (!claim_into(topic, key, value_length(value), options, false, c)) return std::nullopt;
        fill_value(c, value);
        return commit(c);
    }

    /// Claims a record with a value of value_size bytes (-1: a null value) to be written in place.
    /// The key and headers are copied now. Until commit, the partition waits for this record:
    /// commit promptly.
    [[nodiscard]] ProducerClaim claim(std::string_view topic, BytesView key,
                                      std::int32_t value_size, const SendOptions& options = {}) {
        ProducerClaim c;
        if (!claim_into(topic, key, value_size, options, true, c)) [[unlikely]]
            throw_unclaimed();
        return c;
    }
    [[nodiscard]] std::optional<ProducerClaim> try_claim(std::string_view topic, BytesView key,
                                                         std::int32_t value_size,
                                                         const SendOptions& options = {}) {
        ProducerClaim c;
        if (!claim_into(topic, key, value_size, options, false, c)) return std::nullopt;
        return c;
    }

    /// Publishes a claimed record (the release store of its commit word). Throws
    /// Error(claim_aborted) if the claim was held past kbus.claim.timeout.ms and the daemon
    /// turned it into a gap meanwhile: then the record was not sent.
    RecordMetadata commit(ProducerClaim& c) {
        if (!c.writer_->commit(c.claim_)) [[unlikely]]
            throw_aborted(c.claim_.offset, 1, c.partition_);
        return {c.partition_, static_cast<std::int64_t>(c.claim_.offset), c.timestamp_};
    }

    /// Sends several records to one partition as one run: one claim (one atomic operation) and
    /// one timestamp for all of them, as Kafka's producer batches records per partition. The
    /// partition is options.partition, else the first record's key's, else round robin; record i
    /// gets offset first.offset + i. Records carry their own headers (options.headers must be
    /// empty). Waits like send() while the ring is full; the run must fit in half the ring.
    RecordMetadata send_batch(std::string_view topic, std::span<const BatchRecord> records,
                              const SendOptions& options = {}) {
        return send_batch_impl(topic, records, options, true).value();
    }
    [[nodiscard]] std::optional<RecordMetadata> try_send_batch(std::string_view topic,
                                                               std::span<const BatchRecord> records,
                                                               const SendOptions& options = {}) {
        return send_batch_impl(topic, records, options, false);
    }

    [[nodiscard]] std::int32_t partition_count(std::string_view topic) {
        return state_for(topic).handle->metadata.partitions;
    }

  private:
    /// Out of line and cold: building the message would otherwise keep commit() from being
    /// inlined into send(), at ~30 instructions a record.
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_aborted(std::uint64_t first_offset,
                                                                     std::size_t count,
                                                                     std::int32_t partition) {
        throw Error(ErrorCode::claim_aborted,
                    "offsets " + std::to_string(first_offset) + ".." +
                        std::to_string(first_offset + count - 1) + " of partition " +
                        std::to_string(partition) +
                        " were claimed but not committed within kbus.claim.timeout.ms: the "
                        "daemon aborted them (not sent; send again)");
    }

    struct TopicState {
        std::string name;
        std::shared_ptr<const TopicHandle> handle;
        std::vector<std::optional<ring::RingWriter>> writers;  ///< per partition, once used
        std::vector<std::optional<ExclusiveOwnership>> owned;  ///< exclusive: per partition
        std::vector<std::uint16_t> attributes;  ///< per partition: its producer slot's, or 0
        std::uint32_t round_robin = 0;
    };

    std::optional<RecordMetadata> send_batch_impl(std::string_view topic,
                                                  std::span<const BatchRecord> records,
                                                  const SendOptions& options, bool block) {
        if (!options.headers.empty())
            throw Error(ErrorCode::invalid_argument,
                        "send_batch: headers go in each BatchRecord, not in SendOptions");
        TopicState& t = state_for(topic);
        if (records.empty()) return RecordMetadata{-1, -1, 0};
        const std::int32_t partition = choose_partition(t, records.front().key, options);
        planned_.clear();
        std::uint64_t total = 0, longest = 0;
        for (const BatchRecord& r : records) {
            planned_.push_back(ring::frame_plan(r.key, value_length(r.value), r.headers));
            total += planned_.back().layout.frame_length;
            longest = std::max(longest, planned_.back().layout.frame_length);
        }
        ring::RingWriter& writer = writer_for(t, partition);
        if (idempotent_) {
            const std::uint16_t attributes = record_attributes(t, partition);
            for (ring::FramePlan& p : planned_)
                p.attributes = attributes;
        }
        if (std::any_of(records.begin(), records.end(),
                        [](const BatchRecord& r) { return r.key.is_null(); }))
            check_keyless_allowed(t, partition, writer);
        ring::RingRun run;
        if (!claim_space(t, partition, writer, total, std::uint32_t(records.size()), longest, run,
                         block))
            return std::nullopt;
        if (idempotent_) abort_if_fenced(writer, run, planned_);
        const std::int64_t timestamp = record_timestamp(t, options);
        claims_.clear();
        std::uint64_t at = 0;
        for (std::uint32_t i = 0; i < records.size(); ++i) {
            const BatchRecord& r = records[i];
            const ring::FramePlan& p = planned_[i];
            const ring::RingClaim c = writer.place(run, i, at, p.layout);
            ring::write_data_frame(writer.payload(c), c.position, p, timestamp, r.key,
                                   r.value.wire_length(), r.headers);
            ring::write_value(writer.payload(c), p, r.value);
            claims_.push_back(c);
            at += p.layout.frame_length;
        }
        // Last to first: a reader waits on the run's first record, so it takes the whole run at
        // once instead of following our writes line by line (each line it read early would have
        // to be taken back from its core before we could write the rest of it).
        for (auto c = claims_.rbegin(); c != claims_.rend(); ++c)
            writer.publish(*c);
        writer.after_publish();
        if (writer.aborted_since(run.abort_pass, run.first_offset,
                                 run.first_offset + records.size()))
            throw_aborted(run.first_offset, records.size(), partition);
        return RecordMetadata{partition, static_cast<std::int64_t>(run.first_offset), timestamp};
    }

    std::int64_t record_timestamp(const TopicState& t, const SendOptions& options) {
        const std::int64_t now = clock_.now_ms();
        const bool log_append = t.handle->metadata.timestamp_type ==
                                static_cast<std::uint32_t>(ring::TimestampType::log_append_time);
        return (options.timestamp && !log_append) ? *options.timestamp : now;
    }

    /// A value's length as a frame keeps it (-1: null). A value of 2 GiB or more is refused here:
    /// its length would wrap (4 GiB + 5 bytes to 5), and the copy would then run past the claim.
    [[nodiscard]] static std::int32_t value_length(BytesView value) {
        if (value.size() > 0x7fffffffu) [[unlikely]]
            throw Error(ErrorCode::message_too_large,
                        "a value of " + std::to_string(value.size()) +
                            " bytes: a record holds at most 2147483647");
        return value.wire_length();
    }

    /// A blocking claim either claims or throws (claim_slowly): never reached, kept as a guard.
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_unclaimed() {
        throw Error(ErrorCode::unknown, "a blocking claim returned without claiming");
    }

    static void fill_value(ProducerClaim& c, BytesView value) noexcept {
        if (!value.is_null() && value.size() != 0)
            std::memcpy(c.value_.data(), value.data(), value.size());  // the claim's value span
    }

    /// Inline: the topic of the last send, compared by length first. Any other: find_state.
    [[gnu::always_inline]] TopicState& state_for(std::string_view topic) {
        if (last_ != nullptr && last_->name.size() == topic.size() &&
            std::memcmp(last_->name.data(), topic.data(), topic.size()) == 0) [[likely]]
            return *last_;
        return find_state(topic);
    }

    [[gnu::noinline]] TopicState& find_state(std::string_view topic) {
        for (auto& t : topics_)
            if (t->name == topic) return *(last_ = t.get());
        auto t = std::make_unique<TopicState>();
        t->name = std::string(topic);
        t->handle = client_->topic(topic);
        t->writers.resize(std::size_t(t->handle->metadata.partitions));
        t->owned.resize(t->writers.size());
        t->attributes.resize(t->writers.size());
        t->round_robin = static_cast<std::uint32_t>(::getpid());
        last_ = t.get();
        topics_.push_back(std::move(t));
        return *last_;
    }

    /// The partition's writer, made at the first send to it (the daemon reserves its ring then),
    /// and made its owner if this producer is exclusive.
    [[gnu::always_inline]] ring::RingWriter& writer_for(TopicState& t, std::int32_t partition) {
        std::optional<ring::RingWriter>& w = t.writers[std::size_t(partition)];
        if (w) [[likely]]
            return *w;
        return make_writer(t, partition);
    }

    [[gnu::noinline]] ring::RingWriter& make_writer(TopicState& t, std::int32_t partition) {
        std::optional<ring::RingWriter>& w = t.writers[std::size_t(partition)];
        ring::RingWriter writer(client_->ring(*t.handle, partition, true), &client_->doorbell());
        if (idempotent_) {
            const std::uint32_t slot = client_->register_producer(
                t.handle->metadata.topic_id, partition, identity_.producer_id, identity_.epoch);
            slots_.push_back({t.handle->metadata.topic_id, partition, slot});
            t.attributes[std::size_t(partition)] = ring::slot_stamp_attributes(slot);
        }
        if (!options_.exclusive) return w.emplace(writer);
        std::optional<ExclusiveLease> lease =
            ExclusiveLease::take(t.handle->ring_path(partition), std::chrono::milliseconds(20));
        if (!lease) throw_owned(t, partition, writer.ring().header());
        w.emplace(writer);
        t.owned[std::size_t(partition)].emplace(std::move(*lease), *w);
        return *w;
    }

    [[noreturn, gnu::cold, gnu::noinline]] static void throw_owned(const TopicState& t,
                                                                   std::int32_t partition,
                                                                   const ring::RingHeader& h) {
        // Relaxed: only a name for the message.
        const std::int32_t pid = h.claim.exclusive_owner_pid.load(std::memory_order_relaxed);
        throw Error(ErrorCode::partition_owned,
                    "partition " + std::to_string(partition) + " of topic '" + t.name +
                        "' is owned by an exclusive producer (pid " + std::to_string(pid) +
                        "): no other producer may send to it until that one is destroyed");
    }

    /// A compacted topic keeps each key's newest record: a record without a key has nothing to
    /// be kept by, and Kafka refuses it (INVALID_RECORD), as we do before claiming anything.
    static void check_keyless_allowed(const TopicState& t, std::int32_t partition,
                                      const ring::RingWriter& writer) {
        // Relaxed: a setting the daemon changes at an alter; a send racing the alter may go
        // either way, as with Kafka.
        if (writer.ring().header().limit.keys_required.load(std::memory_order_relaxed) == 0) return;
        throw Error(ErrorCode::invalid_record, "compacted topic '" + t.name +
                                                   "' cannot accept a record without a key "
                                                   "(partition " +
                                                   std::to_string(partition) +
                                                   "; its cleanup.policy has compact)");
    }

    std::int32_t choose_partition(TopicState& t, BytesView key, const SendOptions& options) {
        const std::int32_t n = t.handle->metadata.partitions;
        if (options.partition) {
            if (*options.partition < 0 || *options.partition >= n)
                throw Error(ErrorCode::partition_out_of_range,
                            "partition " + std::to_string(*options.partition) +
                                " is out of range for topic '" + t.name + "' (" +
                                std::to_string(n) + " partitions)");
            return *options.partition;
        }
        if (!key.is_null())
            return partition_for_key(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                                     n);
        return static_cast<std::int32_t>(t.round_robin++ % std::uint32_t(n));
    }

    /// Claims into `c` (the caller's: returning a claim through an optional copied it, a twentieth
    /// of a send). False only when not `block`ing and the ring is full.
    [[nodiscard]] bool claim_into(std::string_view topic, BytesView key, std::int32_t value_size,
                                  const SendOptions& options, bool block, ProducerClaim& c) {
        TopicState& t = state_for(topic);
        const std::int32_t partition = choose_partition(t, key, options);
        ring::FramePlan p = ring::frame_plan(key, value_size, options.headers);
        ring::RingWriter& writer = writer_for(t, partition);
        if (idempotent_) p.attributes = record_attributes(t, partition);
        if (key.is_null()) [[unlikely]]
            check_keyless_allowed(t, partition, writer);
        ring::RingRun run;
        if (!claim_space(t, partition, writer, p.layout.frame_length, 1, p.layout.frame_length, run,
                         block))
            return false;
        if (idempotent_) abort_if_fenced(writer, run, std::span<const ring::FramePlan>(&p, 1));
        c.claim_ = writer.place(run, 0, 0, p.layout);
        c.timestamp_ = record_timestamp(t, options);
        ring::write_data_frame(writer.payload(c.claim_), c.claim_.position, p, c.timestamp_, key,
                               value_size, options.headers);
        c.writer_ = &writer;
        c.partition_ = partition;
        c.value_ = {reinterpret_cast<std::byte*>(c.claim_.record) + p.layout.value_offset,
                    value_size < 0 ? 0 : std::size_t(value_size)};
        return true;
    }

    /// The attributes of a record to the partition: its slot's, and in a transaction, the
    /// transactional bit, which the partition gets at its first send there (join_transaction).
    [[gnu::always_inline]] std::uint16_t record_attributes(TopicState& t, std::int32_t partition) {
        const std::uint16_t a = t.attributes[std::size_t(partition)];
        if (transactional_ && (a & ring::transactional_attribute) == 0) [[unlikely]]
            return join_transaction(t, partition);
        return a;
    }

    [[gnu::cold, gnu::noinline]] std::uint16_t join_transaction(TopicState& t,
                                                                std::int32_t partition) {
        check_not_fenced();  // a fenced producer hears that first, in or out of a transaction
        txn_.require_open("send (a transactional producer sends only inside a transaction)");
        std::uint16_t& a = t.attributes[std::size_t(partition)];
        client_->add_partition_to_txn({t.handle->metadata.topic_id, partition,
                                       identity_.producer_id, identity_.epoch,
                                       std::uint32_t(a >> ring::producer_slot_shift),
                                       std::int64_t(options_.transaction_timeout.count())});
        txn_partitions_.emplace_back(&t, partition);
        return txn_.joined(a);
    }

    void end_transaction(bool commit) {
        if (!txn_.open()) check_not_fenced();  // fenced says more than "none begun"
        txn_.require_open(commit ? "commit_transaction" : "abort_transaction");
        // Over on this side whatever happens next: a failed commit's records are aborted by the
        // daemon (its timeout), never left for the next transaction.
        const bool offsets = txn_.carries_offsets(), any = txn_.close();
        ending_.swap(txn_partitions_);  // both keep their capacity: no allocation a transaction
        txn_partitions_.clear();
        check_not_fenced();
        if (!any) return;
        if (offsets) {  // the daemon decides, and commits the group's offsets with it
            (void)client_->end_txn(identity_.producer_id, identity_.epoch, commit);
            return;
        }
        detail::TransactionEnd end(client_->transaction_word(identity_.fence_slot),
                                   identity_.producer_id, identity_.epoch, commit);
        if (!end.decide()) {  // the daemon ended it first: an abort, whatever we asked
            check_not_fenced();
            if (commit)
                throw Error(ErrorCode::invalid_txn_state,
                            "commit_transaction: kbusd had aborted the transaction");
            return;
        }
        bool all = true;
        for (const auto& [t, partition] : ending_)
            all &= end.write_marker(
                writer_for(*t, partition),
                std::uint32_t(t->attributes[std::size_t(partition)] >> ring::producer_slot_shift),
                options_.max_block);
        if (all) end.markers_written();  // else kbusd writes what is missing, at its next look
    }

    /// Looked at after the claim, not before: the daemon bumps the fence before it claims the
    /// marker that aborts a fenced producer's transaction, and our claim's locked
    /// compare-and-swap, if it came after that marker's, makes the bump visible here. So no
    /// record of ours lands after that marker. A fenced claim is published as a gap.
    void abort_if_fenced(ring::RingWriter& writer, const ring::RingRun& run,
                         std::span<const ring::FramePlan> plans) {
        if (identity_.fence_slot < 0 || !fenced()) [[likely]]
            return;
        std::uint64_t at = 0;
        for (std::uint32_t i = 0; i < plans.size(); ++i) {
            const ring::RingClaim c = writer.place(run, i, at, plans[i].layout);
            ring::write_marker_frame(c.record, c.position, plans[i].layout.frame_length,
                                     ring::RecordType::aborted);
            writer.publish(c);
            at += plans[i].layout.frame_length;
        }
        writer.after_publish();
        throw_fenced();
    }

    [[nodiscard]] bool fenced() const noexcept {
        const control::ProducerFence& f = client_->producer_fence(identity_.fence_slot);
        // Relaxed: ordered after our claim by its locked compare-and-swap (see abort_if_fenced).
        return f.epoch.load(std::memory_order_relaxed) != identity_.epoch ||
               f.producer_id.load(std::memory_order_relaxed) != identity_.producer_id;
    }

    /// A transactional producer whose id a newer instance took is fenced: it sends nothing more.
    void check_not_fenced() const {
        if (identity_.fence_slot >= 0 && fenced()) throw_fenced();
    }
    [[noreturn, gnu::cold, gnu::noinline]] void throw_fenced() const {
        throw Error(ErrorCode::producer_fenced,
                    "producer fenced: transactional id '" + options_.transactional_id +
                        "' moved past this producer's epoch " + std::to_string(identity_.epoch) +
                        " (producer id " + std::to_string(identity_.producer_id) +
                        "): a newer instance started, or the daemon aborted its transaction "
                        "(transaction_timeout passed, or kbusd restarted while it was open)");
    }

    /// Inline: a claim that fits. Anything else (a full ring, an error) goes to claim_slowly.
    [[gnu::always_inline]] bool claim_space(TopicState& t, std::int32_t partition,
                                            ring::RingWriter& writer, std::uint64_t frame_bytes,
                                            std::uint32_t count, std::uint64_t max_frame,
                                            ring::RingRun& out, bool block) {
        const ring::ClaimStatus s = writer.try_claim_run(frame_bytes, count, max_frame, out);
        if (s == ring::ClaimStatus::claimed) [[likely]]
            return true;
        return claim_slowly(s, t, partition, writer, frame_bytes, count, max_frame, out, block);
    }

    [[gnu::noinline]] bool claim_slowly(ring::ClaimStatus status, TopicState& t,
                                        std::int32_t partition, ring::RingWriter& writer,
                                        std::uint64_t frame_bytes, std::uint32_t count,
                                        std::uint64_t max_frame, ring::RingRun& out, bool block) {
        std::uint64_t deadline_ns = 0;
        for (std::uint32_t attempt = 0;; ++attempt) {
            if (attempt > 0) status = writer.try_claim_run(frame_bytes, count, max_frame, out);
            switch (status) {
                case ring::ClaimStatus::claimed:
                    return true;
                case ring::ClaimStatus::too_large:
                    if (max_frame > t.handle->metadata.max_message_bytes)
                        throw Error(ErrorCode::message_too_large,
                                    "record of " + std::to_string(max_frame) +
                                        " bytes (with its 48-byte header) exceeds "
                                        "max.message.bytes " +
                                        std::to_string(t.handle->metadata.max_message_bytes) +
                                        " of topic '" + t.name + "'");
                    throw Error(ErrorCode::message_too_large,
                                std::to_string(count) + " records of " +
                                    std::to_string(frame_bytes) +
                                    " bytes in all exceed half the ring of topic '" + t.name + "'" +
                                    (count > 1 ? ": send them in smaller batches" : ""));
                case ring::ClaimStatus::deleted:
                    client_->forget_topic(t.name);
                    throw Error(ErrorCode::topic_deleted, "topic '" + t.name + "' was deleted");
                case ring::ClaimStatus::owned:
                    if (!reclaim_abandoned_ring(t.handle->ring_path(partition),
                                                writer.ring().header()))
                        throw_owned(t, partition, writer.ring().header());
                    continue;  // its owner died: claim again
                case ring::ClaimStatus::full:
                    break;
            }
            if (!block) return false;
            if (deadline_ns == 0)
                deadline_ns = detail::monotonic_ns() +
                              std::uint64_t(std::chrono::nanoseconds(options_.max_block).count());
            if (detail::monotonic_ns() > deadline_ns)
                throw Error(ErrorCode::timed_out,
                            "topic '" + t.name + "': ring full for longer than max.block.ms");
            wait_for_space(writer, attempt);
        }
    }

    /// Spin briefly (the daemon usually frees space within microseconds), then sleep on the
    /// ring's limit word after ringing the daemon's doorbell (RingWriter::wait_for_room).
    static void wait_for_space(ring::RingWriter& writer, std::uint32_t attempt) {
        if (attempt < 64) {
            detail::cpu_relax();
            return;
        }
        writer.wait_for_room(std::chrono::milliseconds(10));
    }

    Client* client_;
    ProducerOptions options_;
    protocol::ProducerIdentity identity_;  ///< idempotent: what the daemon granted
    bool idempotent_ = false;              ///< records name this producer's slot in each ring
    bool transactional_ = false;           ///< a transactional_id: sends inside transactions
    detail::ProducerTransaction txn_;
    std::vector<std::pair<TopicState*, std::int32_t>> txn_partitions_;  // joined, in order
    std::vector<std::pair<TopicState*, std::int32_t>> ending_;          // the ending one's
    std::vector<protocol::ReleaseProducerRequest> slots_;  ///< the ring slots it registered
    detail::RecordClock clock_;
    std::vector<ring::FramePlan> planned_;  ///< send_batch's, reused: no allocation once warm
    std::vector<ring::RingClaim> claims_;
    std::vector<std::unique_ptr<TopicState>> topics_;
    TopicState* last_ = nullptr;
};

}  // namespace kbus
