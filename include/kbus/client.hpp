// kbus::Client: one process's connection to a bus. It talks to kbusd over the control socket
// (topics, metadata, reader attachment) and maps the bus's shared memory; Producer and Consumer
// build on it. The control plane is thread-safe (one mutex); the data plane (Producer, Consumer)
// never takes a lock and makes no system call on its hot path.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kbus/bus_location.hpp"
#include "kbus/bus_memory.hpp"
#include "kbus/bus_stats.hpp"
#include "kbus/control_channel.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/control_messages.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/protocol.hpp"
#include "kbus/ring_ref.hpp"
#include "kbus/shared_memory.hpp"
#include "kbus/trusted_path.hpp"

namespace kbus {

struct ClientOptions {
    std::optional<std::string> bus;      ///< else KBUS_BUS, else "default"
    std::optional<std::string> run_dir;  ///< else KBUS_RUN_DIR, else the default for this user
    std::string client_name = "kbus-client";
    std::chrono::milliseconds request_timeout{10000};
    /// How long a control request keeps reconnecting while the daemon is down (restarting).
    std::chrono::milliseconds reconnect_timeout{30000};
    /// Touch every page of a topic's rings when the topic is first used, so that the first lap of
    /// records does not pay each page's first access (SharedMapping::touch_every_page). Costs
    /// about 8 ms per 4 MiB ring on a shadow-paging VM: turn it off in a client that maps many
    /// partitions and reads few records of each.
    bool touch_ring_pages = true;
};

/// A topic's metadata and its mapped partition rings. Shared by the producers and consumers of a
/// Client; kept alive (mapped) while any of them uses it, even if the topic is deleted meanwhile.
/// A topic as a client holds it: its metadata, and each partition's ring once used (Client::ring).
/// A client of one partition of a wide topic maps that partition's ring alone.
struct TopicHandle {
    protocol::TopicMetadata metadata;
    std::shared_ptr<const ClientsLock> lock;  ///< held while the rings below are mapped
    struct MappedPartition {
        SharedMapping mapping;
        bool reserved = false;  ///< the daemon allocated its memory for us (a producer's use)
        bool touched = false;   ///< pages made present for reading (touch_ring_pages)
        bool touched_for_writing = false;  ///< ... and for writing (a producer's)
    };
    mutable std::mutex mutex;  ///< guards `partitions`; the mappings themselves never move
    mutable std::vector<std::unique_ptr<MappedPartition>> partitions;  ///< null until mapped

    /// Partition p's ring file (mapped by Client::ring, leased by an exclusive producer).
    [[nodiscard]] std::string ring_path(std::int32_t p) const {
        return metadata.ring_path_prefix + "." + std::to_string(p);
    }
};

using protocol::TopicDescription;

class Client {
  public:
    explicit Client(ClientOptions options = {})
        : options_(std::move(options)),
          location_(resolve_bus_location({options_.bus, options_.run_dir, std::nullopt})) {
        connect_at_start();
    }

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    [[nodiscard]] const BusLocation& location() const noexcept { return location_; }

    void create_topic(std::string_view name, std::int32_t partitions,
                      const std::map<std::string, std::string>& config = {}) {
        (void)request(
            protocol::CreateTopicRequest{std::string(name), partitions, settings_of(config)});
    }

    void alter_topic(std::string_view name, const std::map<std::string, std::string>& config) {
        (void)request(protocol::AlterTopicRequest{std::string(name), settings_of(config)});
        forget_topic(name);
    }

    /// Grows the topic to `partitions` partitions (it never shrinks). Producers made before see
    /// the new ones once they fetch the topic's metadata again.
    void add_partitions(std::string_view name, std::int32_t partitions) {
        (void)request(protocol::CreatePartitionsRequest{std::string(name), partitions});
        forget_topic(name);
    }

    /// Deletes the partition's records below `offset` (-1: all it holds now); returns the new
    /// log start. Error(offset_out_of_range) past the high watermark.
    std::int64_t delete_records(std::string_view topic, std::int32_t partition,
                                std::int64_t offset) {
        return request(protocol::DeleteRecordsRequest{std::string(topic), partition, offset})
            .log_start_offset;
    }

    void delete_topic(std::string_view name) {
        (void)request(protocol::DeleteTopicRequest{std::string(name)});
        forget_topic(name);
    }

    [[nodiscard]] std::vector<std::string> list_topics() {
        return request(protocol::ListTopicsRequest{}).names;
    }

    [[nodiscard]] TopicDescription describe_topic(std::string_view name) {
        return request(protocol::DescribeTopicRequest{std::string(name)});
    }

    /// A snapshot of the whole bus: every partition's offsets, fill and readers, every group's lag.
    [[nodiscard]] stats::BusStats stats() { return request(protocol::StatsRequest{}); }

    /// The topic's metadata and mapped rings, fetched once and cached.
    [[nodiscard]] std::shared_ptr<const TopicHandle> topic(std::string_view name) {
        {
            std::lock_guard lock(mutex_);
            if (auto it = topics_.find(std::string(name)); it != topics_.end()) return it->second;
        }
        auto handle = std::make_shared<TopicHandle>();
        handle->metadata = request(protocol::TopicMetadataRequest{std::string(name)});
        std::lock_guard lock(mutex_);
        handle->lock = memory_.lock();
        handle->partitions.resize(std::size_t(handle->metadata.partitions));
        return topics_.emplace(std::string(name), std::move(handle)).first->second;
    }

    /// Partition p's ring, mapped at its first use. for_producing: the daemon reserves the ring's
    /// memory first (a ring nobody produced to is a header and a hole in shared memory), and it
    /// is mapped with its pages touched (ClientOptions::touch_ring_pages). Throws
    /// Error(resource_exhausted) when the bus's shared-memory budget has no room for it.
    [[nodiscard]] ring::RingRef ring(const TopicHandle& t, std::int32_t p, bool for_producing) {
        if (p < 0 || p >= t.metadata.partitions)
            throw Error(ErrorCode::partition_out_of_range, "partition " + std::to_string(p) +
                                                               " is out of range for topic '" +
                                                               t.metadata.name + "'");
        std::lock_guard lock(t.mutex);
        std::unique_ptr<TopicHandle::MappedPartition>& mp = t.partitions[std::size_t(p)];
        if (mp && (mp->reserved || !for_producing)) return ring::RingRef(mp->mapping.data());
        if (for_producing) reserve_ring(t, p);
        if (!mp) {
            const std::string shm = t.ring_path(p);
            auto mapped = std::make_unique<TopicHandle::MappedPartition>();
            mapped->mapping = memory_.map(shm);
            if (!ring::RingRef::looks_valid(mapped->mapping.data(), mapped->mapping.size()))
                throw Error(ErrorCode::protocol_error,
                            "ring '" + shm + "' has an unexpected layout" +
                                layout_mismatch(mapped->mapping.data(), mapped->mapping.size()));
            mp = std::move(mapped);
        }
        mp->reserved = mp->reserved || for_producing;
        if (for_producing) touch_pages(*mp, true);
        return ring::RingRef(mp->mapping.data());
    }

    /// For a consumer that found records on partition p's ring: its pages are read once now
    /// (ClientOptions::touch_ring_pages), so that the records of its first lap do not each pay
    /// a page's first access. Not done when the consumer maps the ring: a consumer of many
    /// partitions would pay it for every idle one, and an unreserved ring is a hole until a
    /// producer uses it.
    void touch_ring_pages(const TopicHandle& t, std::int32_t p) {
        std::lock_guard lock(t.mutex);
        if (const auto& mp = t.partitions.at(std::size_t(p)); mp) touch_pages(*mp, false);
    }

    /// Has the daemon allocate a partition's ring for producing. A topic the daemon no longer
    /// knows was deleted since we fetched it: topic_deleted, as a claim on its ring would say.
    void reserve_ring(const TopicHandle& t, std::int32_t p) {
        try {
            (void)request(protocol::ReserveRingRequest{t.metadata.topic_id, p});
        } catch (const Error& e) {
            if (e.code() != ErrorCode::unknown_topic) throw;
            forget_topic(t.metadata.name);
            throw Error(ErrorCode::topic_deleted, "topic '" + t.metadata.name + "' was deleted");
        }
    }

    /// Forgets a cached topic (after a topic_deleted error, say), so the next use re-fetches it.
    void forget_topic(std::string_view name) {
        std::lock_guard lock(mutex_);
        topics_.erase(std::string(name));
    }

    /// Asks the daemon to tether a consumer to a partition (see ReaderSlot). slot < 0 allocates.
    [[nodiscard]] protocol::ReaderAttachment attach_reader(std::uint64_t topic_id,
                                                           std::int32_t partition,
                                                           protocol::OffsetSpecKind kind,
                                                           std::int64_t offset, std::int32_t slot) {
        return request(protocol::AttachReaderRequest{topic_id, partition, kind, offset, slot});
    }

    /// Batches from a partition's log, from the one holding `offset`, up to max_bytes (at least
    /// one batch). For consumers reading behind the ring.
    [[nodiscard]] protocol::FetchReply fetch(std::uint64_t topic_id, std::int32_t partition,
                                             std::int64_t offset, std::uint32_t max_bytes,
                                             bool as_extent = false, bool read_committed = false) {
        return request(protocol::FetchRequest{topic_id, partition, offset, max_bytes, as_extent,
                                              read_committed});
    }

    void release_reader(std::uint64_t topic_id, std::int32_t partition, std::uint32_t slot) {
        (void)request_if_connected(protocol::ReleaseReaderRequest{topic_id, partition, slot});
    }

    /// Kafka's InitProducerId, for an idempotent producer (transactional_id empty: a new producer
    /// id) or a transactional one (that id's next epoch, which fences the instance before it).
    [[nodiscard]] protocol::ProducerIdentity init_producer_id(const std::string& transactional_id) {
        protocol::ProducerIdentity id = request(protocol::InitProducerIdRequest{transactional_id});
        if (id.producer_id < 0 || id.epoch < 0 || id.epoch > 32767 || id.fence_slot < -1 ||
            id.fence_slot >= std::int32_t(control::producer_fence_slots) ||
            (id.fence_slot < 0) != transactional_id.empty())
            throw Error(ErrorCode::protocol_error, "the daemon granted a malformed producer id");
        return id;
    }
    /// An idempotent producer's slot in a partition's ring (RegisterProducerRequest).
    [[nodiscard]] std::uint32_t register_producer(std::uint64_t topic_id, std::int32_t partition,
                                                  std::int64_t producer_id, std::int32_t epoch) {
        const protocol::ProducerSlotGrant g = request(protocol::RegisterProducerRequest{
            topic_id, partition, producer_id, epoch, std::int32_t(::getpid())});
        if (g.slot >= ring::producer_slot_count)
            throw Error(ErrorCode::protocol_error, "the daemon granted a malformed producer slot");
        return g.slot;
    }
    /// Gives a producer slot back (the Producer's destructor); nothing if the daemon is gone.
    void release_producer(std::uint64_t topic_id, std::int32_t partition, std::uint32_t slot) {
        (void)request_if_connected(protocol::ReleaseProducerRequest{topic_id, partition, slot});
    }
    /// A transactional producer's first send to a partition in its transaction.
    void add_partition_to_txn(const protocol::AddPartitionToTxnRequest& r) { (void)request(r); }
    /// Ends a producer's transaction: the markers are in the rings when it returns.
    std::uint32_t end_txn(std::int64_t producer_id, std::int32_t epoch, bool commit) {
        return request(protocol::EndTxnRequest{producer_id, epoch, commit}).partitions;
    }
    /// The control segment's fence for a transactional id's slot (ProducerIdentity::fence_slot).
    [[nodiscard]] const control::ProducerFence& producer_fence(std::int32_t slot) const noexcept {
        return memory_.control().fences[slot];
    }
    /// Its transaction word (control::TransactionState), which its producer moves at its end.
    [[nodiscard]] std::atomic<std::uint32_t>& transaction_word(std::int32_t slot) noexcept {
        return memory_.control().fences[slot].transaction;
    }

    /// Wakes the daemon's spill loop if it sleeps (a blocked producer wants the limit to move).
    void ring_doorbell() noexcept { memory_.control().doorbell.ring(); }
    /// The daemon's doorbell itself, for a producer's RingWriter to ring at the daemon's mark.
    [[nodiscard]] control::Doorbell& doorbell() noexcept { return memory_.control().doorbell; }

    /// A typed request (control_messages.hpp, group_messages.hpp) and its decoded reply; failures
    /// are kbus::Error. Reconnects like call().
    template <class Request>
    typename Request::Reply request(const Request& r) {
        return codec::decoded<typename Request::Reply>(call(Request::type, codec::encoded(r)));
    }
    /// Like request(), with no reconnect (see call_if_connected).
    template <class Request>
    typename Request::Reply request_if_connected(const Request& r) {
        return codec::decoded<typename Request::Reply>(
            call_if_connected(Request::type, codec::encoded(r)));
    }
    /// Like request(), without waiting for the reply (see call_async).
    template <class Request>
    void request_async(const Request& r) {
        call_async(Request::type, codec::encoded(r));
    }

    /// One control request. If the daemon went away (killed, restarted), the client reconnects
    /// and retries until options.reconnect_timeout has passed: a restart is ridden through.
    std::string call(protocol::RequestType type, const std::string& payload) {
        std::lock_guard lock(mutex_);
        const auto deadline = std::chrono::steady_clock::now() + options_.reconnect_timeout;
        for (;;) {
            try {
                if (!channel_.connected()) connect_and_greet();
                return channel_.call(type, payload);
            } catch (const Error& e) {
                if (e.code() != ErrorCode::not_connected) throw;
                channel_.close();
                if (std::chrono::steady_clock::now() >= deadline) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    }

    [[nodiscard]] bool connected() {
        std::lock_guard lock(mutex_);
        return channel_.connected();
    }

    /// One request on the current connection, with no reconnect: for releases and leaves, which a
    /// lost connection has done already (the daemon frees what a closed connection held).
    std::string call_if_connected(protocol::RequestType type, const std::string& payload) {
        std::lock_guard lock(mutex_);
        if (!channel_.connected()) throw Error(ErrorCode::not_connected, "not connected to kbusd");
        try {
            return channel_.call(type, payload);
        } catch (const Error& e) {
            if (e.code() == ErrorCode::not_connected) channel_.close();
            throw;
        }
    }

    /// A request whose reply nobody waits for (see ControlChannel::send_async). Lost, not retried,
    /// if the daemon is away: what it carried (an offset commit) is superseded by the next one.
    void call_async(protocol::RequestType type, const std::string& payload) {
        std::lock_guard lock(mutex_);
        if (!channel_.connected()) return;
        try {
            channel_.send_async(type, payload);
        } catch (const Error&) {
            channel_.close();
        }
    }
    [[nodiscard]] std::optional<Error> take_async_error() {
        std::lock_guard lock(mutex_);
        return channel_.take_async_error();
    }

    /// Grows by one with every daemon start: a change means the daemon restarted.
    [[nodiscard]] std::uint64_t daemon_epoch() const noexcept { return daemon_epoch_; }

  private:
    /// Why a ring is not of our layout, when it is a kbus ring of another release's.
    [[nodiscard]] static std::string layout_mismatch(const void* base, std::size_t bytes) {
        const std::uint32_t other = ring::RingRef::other_layout_version(base, bytes);
        if (other == 0) return "";
        return " (layout " + std::to_string(other) + ", this client reads " +
               std::to_string(ring::ring_layout_version) +
               ": kbusd and this program are of different kbus releases)";
    }
    /// Only a reserved ring (a producer limit granted: its memory allocated) is touched: reading
    /// a hole would allocate it behind the daemon's back. A producer's pages are made present
    /// for writing: a page mapped by a read takes a write fault at its first record otherwise.
    void touch_pages(TopicHandle::MappedPartition& mp, bool for_writing) const noexcept {
        if (!options_.touch_ring_pages || (for_writing ? mp.touched_for_writing : mp.touched))
            return;
        const ring::RingRef r(mp.mapping.data());
        // Relaxed: only whether the daemon granted a limit, which it does after allocating.
        if (r.header().limit.producer_limit.load(std::memory_order_relaxed) == 0) return;
        mp.mapping.populate_and_touch(for_writing);
        mp.touched = true;
        mp.touched_for_writing = mp.touched_for_writing || for_writing;
    }

    /// No daemon: a clear error at once. A daemon that dies while greeting us (killed, about to
    /// restart): ridden through like any call, within reconnect_timeout.
    void connect_at_start() {
        try {
            connect_and_greet();
            return;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::not_connected || (!reached_daemon_ && !daemon_starting()))
                throw;
        }
        const auto deadline = std::chrono::steady_clock::now() + options_.reconnect_timeout;
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            try {
                connect_and_greet();
                return;
            } catch (const Error& e) {
                channel_.close();
                if (e.code() != ErrorCode::not_connected ||
                    std::chrono::steady_clock::now() >= deadline)
                    throw;
            }
        }
    }

    /// A kbusd holds the bus's lock from its first moment, before its socket listens: a client
    /// started right after it (`kbusd & kbus ...`) waits for it instead of failing. With nobody
    /// holding the lock there is no daemon, and the error comes at once.
    [[nodiscard]] bool daemon_starting() const {
        const int fd = ::open(location_.lock_path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return false;
        const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        ::close(fd);
        return held;
    }

    void connect_and_greet() {
        channel_.connect(location_.socket_path(), options_.request_timeout);
        reached_daemon_ = true;
        check_daemon(channel_.peer_uid());
        const protocol::HelloRequest hello{protocol::protocol_version,
                                           static_cast<std::uint64_t>(::getpid()),
                                           options_.client_name, location_.bus};
        const auto reply = codec::decoded<protocol::HelloReply>(
            channel_.call(protocol::HelloRequest::type, codec::encoded(hello)));
        daemon_epoch_ = reply.daemon_epoch;
        if (!memory_.attached() || memory_.dir() != reply.shm_dir) {
            // First contact, or a daemon that could not adopt the old directory: what was mapped
            // from it is of no use any more (topics are mapped again on their next use).
            memory_ = BusMemory::attach(reply.shm_dir, channel_.peer_uid());
            topics_.clear();
        }
    }

    /// Who may serve this client: its own uid or root, or, for a bus shared with a group, the
    /// owner of a run directory nobody else could have put there (trusted_path.hpp: owned by
    /// root or that owner all the way down, and not through a world-writable directory such as
    /// /tmp, where anyone may take a name first). Anyone else could be another local user
    /// standing in for the daemon.
    void check_daemon(uid_t daemon) const {
        if (daemon == ::geteuid() || daemon == 0) return;
        struct stat st {};
        const bool owns_run_dir =
            ::stat(location_.run_dir.c_str(), &st) == 0 && st.st_uid == daemon;
        if (owns_run_dir && untrusted_path_reason(location_.run_dir, daemon, {}, false).empty())
            return;
        throw Error(ErrorCode::permission_denied,
                    "the process serving " + location_.socket_path() + " runs as uid " +
                        std::to_string(daemon) + ", neither this user (uid " +
                        std::to_string(::geteuid()) + ") nor root, and " + location_.run_dir +
                        " is not its own private directory: refusing to trust it");
    }

    static std::vector<protocol::Setting> settings_of(
        const std::map<std::string, std::string>& config) {
        return {config.begin(), config.end()};
    }

    ClientOptions options_;
    BusLocation location_;
    std::mutex mutex_;
    ControlChannel channel_;
    std::uint64_t daemon_epoch_ = 0;
    bool reached_daemon_ = false;  ///< a connect has succeeded once
    BusMemory memory_;
    std::map<std::string, std::shared_ptr<TopicHandle>, std::less<>> topics_;
};

}  // namespace kbus
