// kbus::Client: one process's connection to a bus. It talks to kbusd over the control socket
// (topics, metadata, reader attachment) and maps the bus's shared memory; Producer and Consumer
// build on it. The control plane is thread-safe (one mutex); the data plane (Producer, Consumer)
// never takes a lock and makes no system call on its hot path.
#pragma once

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kbus/bus_location.hpp"
#include "kbus/bus_stats.hpp"
#include "kbus/control_channel.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/protocol.hpp"
#include "kbus/ring_ref.hpp"
#include "kbus/shared_memory.hpp"

namespace kbus {

struct ClientOptions {
    std::optional<std::string> bus;      // else KBUS_BUS, else "default"
    std::optional<std::string> run_dir;  // else KBUS_RUN_DIR, else the default for this user
    std::string client_name = "kbus-client";
    std::chrono::milliseconds request_timeout{10000};
    // How long a control request keeps reconnecting while the daemon is down (restarting).
    std::chrono::milliseconds reconnect_timeout{30000};
    // Touch every page of a topic's rings when the topic is first used, so that the first lap of
    // records does not pay each page's first access (SharedMapping::touch_every_page). Costs
    // about 8 ms per 4 MiB ring on a shadow-paging VM: turn it off in a client that maps many
    // partitions and reads few records of each.
    bool touch_ring_pages = true;
};

// A topic's metadata and its mapped partition rings. Shared by the producers and consumers of a
// Client; kept alive (mapped) while any of them uses it, even if the topic is deleted meanwhile.
struct TopicHandle {
    protocol::TopicMetadata metadata;
    std::vector<SharedMapping> mappings;
    std::vector<ring::RingRef> rings;
};

struct TopicDescription {
    protocol::TopicMetadata metadata;
    std::vector<protocol::PartitionState> partitions;
};

class Client {
  public:
    explicit Client(ClientOptions options = {})
        : options_(std::move(options)),
          location_(resolve_bus_location({options_.bus, options_.run_dir, std::nullopt})) {
        connect_at_start();
        control_mapping_ = SharedMapping::open(control_shm_name_);
        if (control_mapping_.size() < sizeof(control::ControlSegment))
            throw Error(ErrorCode::protocol_error, "control segment is too small");
        control_ = static_cast<control::ControlSegment*>(control_mapping_.data());
    }

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    [[nodiscard]] const BusLocation& location() const noexcept { return location_; }

    void create_topic(std::string_view name, std::int32_t partitions,
                      const std::map<std::string, std::string>& config = {}) {
        protocol::Writer w;
        w.str(name);
        w.i32(partitions);
        write_config(w, config);
        call(protocol::RequestType::create_topic, w.bytes());
    }

    void alter_topic(std::string_view name, const std::map<std::string, std::string>& config) {
        protocol::Writer w;
        w.str(name);
        write_config(w, config);
        call(protocol::RequestType::alter_topic, w.bytes());
        std::lock_guard lock(mutex_);
        topics_.erase(std::string(name));
    }

    void delete_topic(std::string_view name) {
        protocol::Writer w;
        w.str(name);
        call(protocol::RequestType::delete_topic, w.bytes());
        std::lock_guard lock(mutex_);
        topics_.erase(std::string(name));
    }

    [[nodiscard]] std::vector<std::string> list_topics() {
        const std::string reply = call(protocol::RequestType::list_topics, {});
        protocol::Reader r(reply);
        std::vector<std::string> names(r.count(4));
        for (auto& n : names)
            n = r.str();
        return names;
    }

    [[nodiscard]] TopicDescription describe_topic(std::string_view name) {
        protocol::Writer w;
        w.str(name);
        const std::string reply = call(protocol::RequestType::describe_topic, w.bytes());
        protocol::Reader r(reply);
        TopicDescription d{protocol::TopicMetadata::read(r), {}};
        const std::uint32_t n = r.count(8);
        for (std::uint32_t i = 0; i < n; ++i)
            d.partitions.push_back(protocol::PartitionState::read(r));
        return d;
    }

    // A snapshot of the whole bus: every partition's offsets, fill and readers, every group's lag.
    [[nodiscard]] stats::BusStats stats() {
        const std::string reply = call(protocol::RequestType::stats, {});
        protocol::Reader r(reply);
        return stats::BusStats::read(r);
    }

    // The topic's metadata and mapped rings, fetched once and cached.
    [[nodiscard]] std::shared_ptr<const TopicHandle> topic(std::string_view name) {
        {
            std::lock_guard lock(mutex_);
            if (auto it = topics_.find(std::string(name)); it != topics_.end()) return it->second;
        }
        protocol::Writer w;
        w.str(name);
        const std::string reply = call(protocol::RequestType::topic_metadata, w.bytes());
        protocol::Reader r(reply);
        auto handle = std::make_shared<TopicHandle>();
        handle->metadata = protocol::TopicMetadata::read(r);
        for (std::int32_t p = 0; p < handle->metadata.partitions; ++p) {
            const std::string shm = handle->metadata.ring_shm_prefix + "." + std::to_string(p);
            SharedMapping m = SharedMapping::open(shm, options_.touch_ring_pages);
            if (!ring::RingRef::looks_valid(m.data(), m.size()))
                throw Error(ErrorCode::protocol_error,
                            "ring '" + shm + "' has an unexpected layout");
            handle->rings.emplace_back(m.data());
            handle->mappings.push_back(std::move(m));
        }
        std::lock_guard lock(mutex_);
        return topics_.emplace(std::string(name), std::move(handle)).first->second;
    }

    // Forgets a cached topic (after a topic_deleted error, say), so the next use re-fetches it.
    void forget_topic(std::string_view name) {
        std::lock_guard lock(mutex_);
        topics_.erase(std::string(name));
    }

    // Asks the daemon to tether a consumer to a partition (see ReaderSlot). slot < 0 allocates.
    [[nodiscard]] protocol::ReaderAttachment attach_reader(std::uint64_t topic_id,
                                                           std::int32_t partition,
                                                           protocol::OffsetSpecKind kind,
                                                           std::int64_t offset, std::int32_t slot) {
        protocol::Writer w;
        w.u64(topic_id);
        w.i32(partition);
        w.u8(static_cast<std::uint8_t>(kind));
        w.i64(offset);
        w.i32(slot);
        const std::string reply = call(protocol::RequestType::attach_reader, w.bytes());
        protocol::Reader r(reply);
        return protocol::ReaderAttachment::read(r);
    }

    // Batches from a partition's log, from the one holding `offset`, up to max_bytes (at least
    // one batch). For consumers reading behind the ring.
    [[nodiscard]] protocol::FetchReply fetch(std::uint64_t topic_id, std::int32_t partition,
                                             std::int64_t offset, std::uint32_t max_bytes,
                                             bool as_extent = false) {
        protocol::Writer w;
        w.u64(topic_id);
        w.i32(partition);
        w.i64(offset);
        w.u32(max_bytes);
        w.u8(as_extent ? 1 : 0);
        const std::string reply = call(protocol::RequestType::fetch, w.bytes());
        protocol::Reader r(reply);
        return protocol::FetchReply::read(r);
    }

    void release_reader(std::uint64_t topic_id, std::int32_t partition, std::uint32_t slot) {
        protocol::Writer w;
        w.u64(topic_id);
        w.i32(partition);
        w.u32(slot);
        (void)call_if_connected(protocol::RequestType::release_reader, w.bytes());
    }

    // Wakes the daemon's spill loop if it sleeps (a blocked producer wants the limit to move).
    void ring_doorbell() noexcept { control_->doorbell.ring(); }

    // One control request. If the daemon went away (killed, restarted), the client reconnects
    // and retries until options.reconnect_timeout has passed: a restart is ridden through.
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

    // One request on the current connection, with no reconnect: for releases and leaves, which a
    // lost connection has done already (the daemon frees what a closed connection held).
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

    // A request whose reply nobody waits for (see ControlChannel::send_async). Lost, not retried,
    // if the daemon is away: what it carried (an offset commit) is superseded by the next one.
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

    // Grows by one with every daemon start: a change means the daemon restarted.
    [[nodiscard]] std::uint64_t daemon_epoch() const noexcept { return daemon_epoch_; }

  private:
    // No daemon: a clear error at once. A daemon that dies while greeting us (killed, about to
    // restart): ridden through like any call, within reconnect_timeout.
    void connect_at_start() {
        try {
            connect_and_greet();
            return;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::not_connected || !reached_daemon_) throw;
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

    void connect_and_greet() {
        channel_.connect(location_.socket_path(), options_.request_timeout);
        reached_daemon_ = true;
        protocol::Writer w;
        w.u32(protocol::protocol_version);
        w.u64(static_cast<std::uint64_t>(::getpid()));
        w.str(options_.client_name);
        const std::string reply = channel_.call(protocol::RequestType::hello, w.bytes());
        protocol::Reader r(reply);
        daemon_epoch_ = r.u64();
        control_shm_name_ = r.str();
    }

    static void write_config(protocol::Writer& w,
                             const std::map<std::string, std::string>& config) {
        w.u32(static_cast<std::uint32_t>(config.size()));
        for (const auto& [k, v] : config) {
            w.str(k);
            w.str(v);
        }
    }

    ClientOptions options_;
    BusLocation location_;
    std::mutex mutex_;
    ControlChannel channel_;
    std::uint64_t daemon_epoch_ = 0;
    bool reached_daemon_ = false;  // a connect has succeeded once
    std::string control_shm_name_;
    SharedMapping control_mapping_;
    control::ControlSegment* control_ = nullptr;
    std::map<std::string, std::shared_ptr<TopicHandle>, std::less<>> topics_;
};

}  // namespace kbus
