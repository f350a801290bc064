#include "kafka_bus_backend.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "kbus/exclusive_lease.hpp"
#include "kbus/names.hpp"

namespace kbusd {

using kbus::Error;
using kbus::ErrorCode;
namespace group = kbus::group;

std::vector<std::pair<std::string, std::optional<std::int32_t>>> KafkaBusBackend::topics(
    const std::optional<std::vector<std::string>>& names, bool auto_create) {
    std::vector<std::pair<std::string, std::optional<std::int32_t>>> found;
    const std::vector<std::string> wanted = names ? *names : bus_.names();
    for (const std::string& n : wanted) {
        if (auto why = kbus::check_topic_name(n); !why.empty())
            throw Error(ErrorCode::invalid_argument, why);
        try {
            found.emplace_back(n, bus_.metadata(n, auto_create && auto_create_topics_).partitions);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::unknown_topic) throw;
            if (names) found.emplace_back(n, std::nullopt);  // deleted meanwhile: not listed
        }
    }
    return found;
}

std::uint32_t KafkaBusBackend::max_record_bytes(const std::string& topic) {
    return bus_.partition(topic, 0)->ring().header().info.max_record_bytes;
}

bool KafkaBusBackend::keys_required(const std::string& topic) {
    // Relaxed: the daemon's own setting (Partition::set_keys_required); an alter may race it.
    return bus_.partition(topic, 0)->ring().header().limit.keys_required.load(
               std::memory_order_relaxed) != 0;
}

ProduceOutcome KafkaBusBackend::produce(const std::string& topic, std::int32_t partition,
                                        const kbus::kafka::BatchDecoder& batch) {
    std::shared_ptr<kbus::bus::Partition> p;
    bool log_append_time = false;
    try {
        p = bus_.partition(topic, partition);
        log_append_time = bus_.config_of(topic).log_append_time;
    } catch (const Error&) {
        return {ProduceStatus::unknown_partition};
    }
    bus_.reserve_ring(*p);  // a Kafka producer's first batch here: the ring's memory
    kbus::ring::RingWriter writer(p->ring(), &doorbell_);
    const std::int64_t append_time = log_append_time ? kbus::detail::wall_clock_ms() : -1;
    kbus::kafka::AppendResult a;
    const auto append = [&] {
        a = kbus::kafka::append_to_ring(writer, batch, append_time);
        if (a.status == kbus::ring::ClaimStatus::owned &&
            kbus::reclaim_abandoned_ring(p->ring_name(), p->ring().header()))  // its owner died
            a = kbus::kafka::append_to_ring(writer, batch, append_time);
    };
    // The topic's id from the ring's header: no lookup under the bus's lock per batch.
    const std::uint64_t topic_id = p->ring().header().info.topic_id;
    if (batch.transactional())  // only into its open transaction, and no marker in between
        transactions_.append_in_transaction(batch.producer().id, batch.producer().epoch, topic_id,
                                            partition, append);
    else if (batch.producer().id >= 0)  // never into its open transaction
        transactions_.append_outside_transaction(batch.producer().id, topic_id, partition, append);
    else
        append();
    switch (a.status) {
        case kbus::ring::ClaimStatus::claimed:
            // A consumer's fetch waits past the log's end: write these now, not after a linger.
            if (p->fetch_waiting() && p->request_flush()) doorbell_.ring();
            return {ProduceStatus::appended, a.base_offset, append_time,
                    p->log().log_start_offset()};
        case kbus::ring::ClaimStatus::full:  // or aborted before its commit: appended again
            // The space comes back as the spill writes what the ring holds: asked to do it now,
            // not after its linger (a batch over half the free ring waited a linger each).
            if (p->request_flush()) doorbell_.ring();
            return {ProduceStatus::full};
        case kbus::ring::ClaimStatus::too_large:
            return {ProduceStatus::too_large};
        case kbus::ring::ClaimStatus::owned:
            return {ProduceStatus::owned};
        case kbus::ring::ClaimStatus::deleted:
            break;
    }
    return {ProduceStatus::unknown_partition};
}

PartitionRead KafkaBusBackend::read(const std::string& topic, std::int32_t partition,
                                    std::int64_t offset, std::uint32_t max_bytes,
                                    bool read_committed) {
    const auto p = bus_.partition(topic, partition);
    PartitionRead read;
    read.log_start_offset = p->log().log_start_offset();
    read.high_watermark = std::int64_t(p->high_watermark());
    read.last_stable_offset = std::min(read.high_watermark, p->log().last_stable_offset());
    if (offset < read.log_start_offset || offset > read.high_watermark)
        throw Error(ErrorCode::offset_out_of_range, "offset " + std::to_string(offset) +
                                                        " is outside " +
                                                        std::to_string(read.log_start_offset) +
                                                        ".." + std::to_string(read.high_watermark));
    // Served from the segments as stored. Records still on their way there are served by a
    // later look at this fetch; the spill is asked to write them now rather than linger.
    if (offset >= p->log().log_end_offset()) {
        p->set_fetch_waiting(true);
        if (offset < read.high_watermark && p->request_flush()) doorbell_.ring();
        return read;
    }
    p->set_fetch_waiting(false);
    // Offsets lost to a corrupt batch throw Error(corrupt_record): Kafka's CORRUPT_MESSAGE for
    // this partition (an extent always ends before known damage, so the client fetches there).
    const std::int64_t below =
        read_committed ? read.last_stable_offset : std::numeric_limits<std::int64_t>::max();
    if (read_committed)
        for (const kbus::log::AbortedTransaction& t :
             p->log().aborted_transactions(offset, read.last_stable_offset))
            read.aborted.emplace_back(t.producer_id, t.first_offset);
    const auto [e, fd] = open_extent(p->log(), offset, max_bytes, below);
    if (e.length == 0) return read;
    // Kept open until the response is sent: retention may unlink the file meanwhile.
    read.extent = FileExtent{std::shared_ptr<const int>(new int(fd),
                                                        [](const int* f) {
                                                            ::close(*f);
                                                            delete f;
                                                        }),
                             e.position, e.length};
    return read;
}

// The extent and its file, opened: the file checked to be the one the extent is of (the log
// cleaner replaces a segment by a file of the same name; the extent is then taken again).
std::pair<kbus::log::PartitionLog::Extent, int> KafkaBusBackend::open_extent(
    const kbus::log::PartitionLog& log, std::int64_t offset, std::uint32_t max_bytes,
    std::int64_t below) {
    for (int attempt = 0;; ++attempt) {
        const kbus::log::PartitionLog::Extent e = log.locate(offset, max_bytes, below);
        if (e.length == 0) return {e, -1};
        const int fd = ::open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd >= 0 && ::fstat(fd, &st) == 0 && std::uint64_t(st.st_ino) == e.inode) return {e, fd};
        const int err = fd < 0 ? errno : 0;
        if (fd >= 0) ::close(fd);
        if (attempt == 2)
            throw Error(ErrorCode::io_error,
                        "cannot open " + e.path +
                            (err != 0 ? std::string(": ") + std::strerror(err)
                                      : std::string(": replaced while it was being opened")));
    }
}

std::optional<std::int64_t> KafkaBusBackend::offset_for(const std::string& topic,
                                                        std::int32_t partition,
                                                        std::int64_t timestamp) {
    const auto p = bus_.partition(topic, partition);
    if (timestamp == -2) return p->log().log_start_offset();
    if (timestamp == -1) return std::int64_t(p->high_watermark());
    if (timestamp < 0)
        throw Error(ErrorCode::invalid_argument,
                    "timestamp " + std::to_string(timestamp) + " is not served");
    // Acknowledged records still on the ring count, as in Kafka (everything below the high
    // watermark): the spill writes them first.
    (void)bus_.wait_for_log(*p, std::int64_t(p->high_watermark()), [this] { doorbell_.ring(); });
    return p->log().offset_for_timestamp(timestamp);
}

std::optional<std::int64_t> KafkaBusBackend::offset_before_start(
    const std::string& topic, std::int32_t partition, const kbus::kafka::ProducerStamp& stamp) {
    if (!producer_ids_.granted_before_start(stamp.id)) return std::nullopt;
    const auto p = bus_.partition(topic, partition);
    if (p->end_at_start() <= p->log().log_start_offset()) return std::nullopt;
    // What the last run left on the ring goes to the log first (it is where the tail is read).
    if (!bus_.wait_for_log(*p, p->end_at_start(), [this] { doorbell_.ring(); }))
        throw Error(ErrorCode::timed_out,
                    "the last run's records of " + topic + "-" + std::to_string(partition) +
                        " are not all on disk yet: a batch retried across the restart cannot be "
                        "told from a new one");
    const std::int32_t last =
        kbus::log::sequence_after(stamp.first_sequence, stamp.record_count - 1);
    return p->offset_before_start(stamp.id, stamp.epoch, stamp.first_sequence, last);
}

void KafkaBusBackend::create_topic(const std::string& name, std::int32_t partitions,
                                   const std::vector<std::pair<std::string, std::string>>& configs,
                                   bool validate_only) {
    const kbus::protocol::CreateTopicRequest request{
        name, partitions == -1 ? num_partitions_ : partitions, configs};
    if (validate_only)
        bus_.check_new(request);  // what creating it would refuse, nothing more
    else
        (void)bus_.create(request);
}

void KafkaBusBackend::delete_topic(const std::string& name) {
    bus_.remove(name);
}

void KafkaBusBackend::replace_topic_config(
    const std::string& name, const std::vector<std::pair<std::string, std::string>>& overrides,
    bool validate_only) {
    bus_.replace_config(name, overrides, validate_only);
}

void KafkaBusBackend::add_partitions(const std::string& name, std::int32_t count,
                                     bool validate_only) {
    (void)bus_.add_partitions(name, count, validate_only);
}

std::optional<kbus::log::TimestampAndOffset> KafkaBusBackend::max_timestamp(
    const std::string& topic, std::int32_t partition) {
    const auto p = bus_.partition(topic, partition);
    (void)bus_.wait_for_log(*p, std::int64_t(p->high_watermark()), [this] { doorbell_.ring(); });
    return p->log().max_timestamp_record();
}

std::int64_t KafkaBusBackend::delete_records(const std::string& topic, std::int32_t partition,
                                             std::int64_t offset) {
    return bus_.delete_records(topic, partition, offset, [this] { doorbell_.ring(); });
}

std::uint64_t KafkaBusBackend::log_bytes(const std::string& topic, std::int32_t partition) {
    return bus_.partition(topic, partition)->log().size_bytes();
}

KafkaBackend::LogDir KafkaBusBackend::log_dir() {
    LogDir d;
    d.path = bus_.data_dir();
    struct statvfs fs {};
    if (::statvfs(d.path.c_str(), &fs) == 0) {
        d.total_bytes = std::int64_t(fs.f_blocks * fs.f_frsize);
        d.usable_bytes = std::int64_t(fs.f_bavail * fs.f_frsize);
    }
    return d;
}

group::JoinGroupReply KafkaBusBackend::join(const group::JoinGroupRequest& request) {
    return groups_.join(request, kbus::groups::GroupService::no_connection);
}

std::optional<std::string> KafkaBusBackend::sync(const group::SyncGroupRequest& request) {
    const group::SyncGroupReply reply = groups_.sync(request, false);
    if (reply.pending) return std::nullopt;
    return reply.assignment;
}

void KafkaBusBackend::heartbeat(const std::string& g, std::int32_t generation,
                                const std::string& member) {
    groups_.heartbeat({g, generation, member});
}

void KafkaBusBackend::leave(const std::string& g, const std::string& member) {
    groups_.leave({g, member});
}

void KafkaBusBackend::commit(const std::string& g, std::int32_t generation,
                             const std::string& member, const group::OffsetList& offsets,
                             const std::map<group::TopicPartition, std::string>& metadata) {
    groups_.commit({g, generation, member, offsets}, metadata);
}

std::string KafkaBusBackend::commit_metadata(const std::string& g,
                                             const group::TopicPartition& tp) {
    return groups_.metadata(g, tp);
}

std::optional<std::int64_t> KafkaBusBackend::committed(const std::string& g,
                                                       const group::TopicPartition& tp) {
    for (const auto& [p, offset] : groups_.committed(g, tp.topic))
        if (p == tp.partition) return offset;
    return std::nullopt;
}

std::vector<group::GroupListing> KafkaBusBackend::list_groups() {
    return groups_.list();
}

group::GroupDescription KafkaBusBackend::describe_group(const std::string& g) {
    return groups_.describe(g);
}

void KafkaBusBackend::delete_group(const std::string& g) {
    groups_.remove(g);
}

std::vector<group::TopicPartition> KafkaBusBackend::delete_offsets(
    const std::string& g, const std::vector<group::TopicPartition>& partitions) {
    return groups_.delete_offsets(g, partitions);
}

std::vector<KafkaBackend::Setting> KafkaBusBackend::topic_settings(const std::string& topic) {
    const auto overrides = bus_.metadata(topic, false).config;
    std::vector<Setting> out;
    for (const auto& setting : kbus::config::to_settings(bus_.config_of(topic))) {
        const bool overridden =
            std::any_of(overrides.begin(), overrides.end(),
                        [&](const auto& kv) { return kv.first == setting.first; });
        out.push_back({setting.first, setting.second, overridden});
    }
    return out;
}

// Kafka's transaction coordinator requests, over the one kbusd runs for local producers too.
KafkaBackend::ProducerGrant KafkaBusBackend::init_transactional(const std::string& transactional_id,
                                                                std::int64_t timeout_ms) {
    check_transaction_timeout(timeout_ms);
    const kbus::bus::ProducerIdRegistry::Grant g = producer_ids_.grant_for(transactional_id);
    transactions_.abort_open(g.producer_id, "a newer instance of its transactional id started");
    timeouts_[g.producer_id] = timeout_ms;
    return {g.producer_id, g.epoch};
}

void KafkaBusBackend::check_transaction_timeout(std::int64_t timeout_ms) {
    if (timeout_ms <= 0 || timeout_ms > max_transaction_timeout_ms)
        throw Error(ErrorCode::invalid_argument,
                    "transaction timeout " + std::to_string(timeout_ms) +
                        " ms: it must be 1 ms to transaction.max.timeout.ms (" +
                        std::to_string(max_transaction_timeout_ms) + " ms)");
}

std::int64_t KafkaBusBackend::timeout_of(std::int64_t producer_id) const {
    const auto it = timeouts_.find(producer_id);
    return it == timeouts_.end() ? default_transaction_timeout_ms : it->second;
}

void KafkaBusBackend::add_to_transaction(std::int64_t producer_id, std::int16_t epoch,
                                         const std::string& topic, std::int32_t partition) {
    kbus::protocol::AddPartitionToTxnRequest r;
    r.topic_id = bus_.metadata(topic, false).topic_id;
    r.partition = partition;
    (void)bus_.partition(topic, partition);  // unknown_topic, partition_out_of_range
    r.producer_id = producer_id;
    r.epoch = epoch;
    r.slot = kbus::bus::TransactionCoordinator::no_slot;
    r.timeout_ms = timeout_of(producer_id);
    transactions_.add_partition(r, kbus::bus::TransactionCoordinator::no_connection,
                                kbus::detail::wall_clock_ms());
}

void KafkaBusBackend::open_transaction(std::int64_t producer_id, std::int16_t epoch) {
    transactions_.open(producer_id, epoch, kbus::bus::TransactionCoordinator::no_connection,
                       timeout_of(producer_id), kbus::detail::wall_clock_ms());
}

void KafkaBusBackend::add_transaction_offsets(group::TxnOffsetCommitRequest r) {
    r.timeout_ms = timeout_of(r.producer_id);
    transactions_.add_offsets(r, kbus::bus::TransactionCoordinator::no_connection,
                              kbus::detail::wall_clock_ms());
}

void KafkaBusBackend::end_transaction(std::int64_t producer_id, std::int16_t epoch, bool commit) {
    (void)transactions_.end(producer_id, epoch, commit);
}

}  // namespace kbusd
