// kbusd: owns a bus. Creates the control segment and one ring per partition, serves control
// requests on <run dir>/kbus.sock, and runs the spill loop that takes committed records off the
// rings and moves the producer limit (the gate of invariant 4).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/bus_stats_view.hpp"
#include "config/broker_config.hpp"
#include "config/properties.hpp"
#include "config/topic_config.hpp"
#include "control_connection.hpp"
#include "groups/group_coordinator.hpp"
#include "kafka_listener.hpp"
#include "kbus/bus_location.hpp"
#include "kbus/bus_stats.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/detail/futex.hpp"
#include "kbus/group_commit.hpp"
#include "kbus/kbus.hpp"
#include "kbus/names.hpp"
#include "kbus/protocol.hpp"
#include "kbus/ring_reader.hpp"
#include "kbus/shared_memory.hpp"
#include "log/compression.hpp"
#include "log/file.hpp"
#include "log/partition_log.hpp"
#include "metrics_server.hpp"
#include "security/access_policy.hpp"
#include "spill/partition_spill.hpp"
#include "topics/topic_store.hpp"

namespace {

using namespace kbus;
using kbusd::ControlConnection;
using kbusd::PeerCredentials;
std::atomic<bool> g_stop{false};
// Connection ids start at 1; slots left by an earlier daemon run are marked with this owner.
constexpr std::uint32_t orphan_owner = 0;

void log_line(const char* level, const std::string& msg) {
    std::fprintf(stderr, "kbusd %s %s\n", level, msg.c_str());
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Partition {
    SharedMapping mapping;
    ring::RingRef ring;
    // The last committed value (offset + 1) persisted from each group commit slot.
    std::array<std::uint64_t, ring::group_commit_slot_count> persisted_commit{};
    std::unique_ptr<log::PartitionLog> log;
    std::unique_ptr<spill::PartitionSpill> spill;  // the daemon's read cursor on the ring
    std::mutex mutex;  // orders slot changes with limit computation (daemon-internal)
    std::uint32_t hold_timeout_ms = 1000;
    ring::ReaderSlot* blocked_slot = nullptr;  // the tether producers wait on, and since when
    std::uint64_t blocked_since_ns = 0;
    std::uint64_t blocked_seen_ns = 0;
    // A Kafka fetch waits for records that are on the ring but not yet in the log: the spill
    // writes them at its next pass instead of letting the batch linger.
    std::atomic<bool> flush_requested{false};
};

struct Topic {
    protocol::TopicMetadata meta;
    config::TopicConfig config;
    std::vector<std::unique_ptr<Partition>> partitions;
};

class Daemon final : public kbusd::KafkaBackend {
  public:
    Daemon(BusLocation loc, config::BrokerConfig broker)
        : loc_(std::move(loc)), broker_(std::move(broker)) {}

    int run() {
        std::filesystem::create_directories(loc_.run_dir);
        std::filesystem::create_directories(loc_.data_dir);
        const security::AccessPolicy& access = security::access_policy();
        access.apply_to_path(loc_.run_dir, true);
        access.apply_to_path(loc_.data_dir, true);
        lock_fd_ = ::open(loc_.lock_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
            log_line("ERROR", "bus '" + loc_.bus + "' is already served by another kbusd (lock " +
                                  loc_.lock_path() + " is held)");
            return 2;
        }
        open_control_segment();
        // Like Kafka's .kafka_cleanShutdown: without it, the last run died and every batch is
        // checked against its CRC before the log is trusted.
        const std::string clean_marker = loc_.data_dir + "/.kbus_clean_shutdown";
        const bool clean = std::filesystem::exists(clean_marker);
        std::filesystem::remove(clean_marker);
        restore_topics(!clean);
        offsets_ = std::make_unique<groups::OffsetStore>(
            loc_.data_dir,
            [](const std::string& l, const std::string& m) { log_line(l.c_str(), m); });
        groups_ = std::make_unique<groups::GroupCoordinator>(
            *offsets_, [](const std::string& l, const std::string& m) { log_line(l.c_str(), m); });
        groups_->on_new_generation([this](const std::string& g, std::int32_t generation) {
            fence_commit_slots(g, generation);
        });
        // A start that fails from here on leaves no control segment behind for a bus that has
        // no topics (nothing in it is worth keeping; with topics, their rings may hold records
        // not yet spilled, and the next start needs them).
        auto abandon = [this](int code) {
            if (topics_.empty()) SharedMapping::remove(loc_.control_shm_name());
            return code;
        };
        if (!listen()) return abandon(1);
        log_line("INFO", "serving bus '" + loc_.bus + "' on " + loc_.socket_path());
        if (broker_.metrics_port >= 0) {
            try {
                const std::uint16_t port = metrics_.start(
                    broker_.metrics_address, std::uint16_t(broker_.metrics_port), [this] {
                        std::lock_guard lock(topics_mutex_);
                        return cli::stats_prometheus(snapshot());
                    });
                log_line("INFO", "metrics on http://" + broker_.metrics_address + ":" +
                                     std::to_string(port) + "/metrics");
            } catch (const Error& e) {
                log_line("ERROR", e.what());
                return abandon(2);
            }
        }
        if (!start_kafka_listener()) return abandon(2);
        std::thread spill([this] { spill_loop(); });
        serve();
        if (kafka_) kafka_->stop();
        metrics_.stop();
        spill.join();
        if (!shutdown()) {
            log_line("ERROR", "stopped without draining every ring");
            return 1;
        }
        log::write_file_durably(clean_marker, "");
        log_line("INFO", "stopped");
        return 0;
    }

  private:
    // listeners=PLAINTEXT://host:port: Kafka clients on a TCP port (off unless configured).
    bool start_kafka_listener() {
        if (!broker_.kafka_listener) return true;
        kbusd::KafkaListenerOptions o;
        o.bind_host = broker_.kafka_listener->host;
        o.port = broker_.kafka_listener->port;
        if (broker_.kafka_advertised) {
            o.advertised_host = broker_.kafka_advertised->host;
            o.advertised_port = broker_.kafka_advertised->port;
        }
        o.max_request_bytes = broker_.socket_request_max_bytes;
        o.cluster_id = "kbus-" + loc_.bus;
        kafka_ = std::make_unique<kbusd::KafkaListener>(
            *this, o, [](const char* level, const std::string& m) { log_line(level, m); });
        try {
            const std::uint16_t port = kafka_->start();
            const std::string host = o.bind_host.empty() ? "0.0.0.0" : o.bind_host;
            log_line("INFO", "Kafka listener on " + host + ":" + std::to_string(port));
            if (host.rfind("127.", 0) != 0 && host != "localhost")
                log_line("WARN",
                         "the Kafka listener is reachable from other hosts, and Kafka "
                         "clients are not authenticated: anyone who reaches " +
                             host + ":" + std::to_string(port) + " can read and write every topic");
            return true;
        } catch (const Error& e) {
            log_line("ERROR", e.what());
            kafka_.reset();
            return false;
        }
    }

    // A control segment left by a killed daemon is reused, so clients that map it keep working;
    // the epoch tells them a new daemon took over.
    void open_control_segment() {
        std::uint64_t epoch = 1;
        try {
            SharedMapping old = SharedMapping::open(loc_.control_shm_name());
            const auto* c = static_cast<const control::ControlSegment*>(old.data());
            if (old.size() >= sizeof(control::ControlSegment) &&
                c->info.magic == control::control_magic &&
                c->info.layout_version == control::control_layout_version) {
                epoch = c->info.daemon_epoch.load() + 1;
                control_mapping_ = std::move(old);
            }
        } catch (const Error&) {
        }
        if (!control_mapping_.mapped()) {
            control_mapping_ = SharedMapping::create(
                loc_.control_shm_name(), sizeof(control::ControlSegment), shm_mode(), shm_group());
            auto* c = static_cast<control::ControlSegment*>(control_mapping_.data());
            c->info.magic = control::control_magic;
            c->info.layout_version = control::control_layout_version;
        }
        control_ = static_cast<control::ControlSegment*>(control_mapping_.data());
        control_->info.daemon_pid.store(std::uint64_t(::getpid()), std::memory_order_relaxed);
        control_->info.daemon_epoch.store(epoch, std::memory_order_release);
    }

    // Topics from <data dir>/__kbus_topics, each partition's log recovered and its ring re-attached
    // (a ring left in shared memory by a killed daemon still holds what was not spilled).
    void restore_topics(bool verify) {
        topics::TopicList list = topics::load_topics(loc_.data_dir);
        next_topic_id_ = list.next_id;
        for (topics::StoredTopic& st : list.topics) {
            try {
                protocol::TopicMetadata m;
                m.name = st.name;
                m.partitions = st.partitions;
                m.topic_id = st.id;
                m.config = st.settings;
                const config::TopicConfig tc =
                    config::make_topic_config(broker_.topic_defaults, m.config);
                auto t = build_topic(m, tc, verify);
                log_line("INFO", "restored topic '" + m.name + "'");
                topics_.emplace(m.name, std::move(t));
            } catch (const std::exception& e) {
                log_line("ERROR", "cannot restore topic '" + st.name + "': " + e.what());
            }
        }
    }

    void save_topics() {
        topics::TopicList list;
        list.next_id = next_topic_id_;
        for (const auto& [name, t] : topics_)
            list.topics.push_back({name, t->meta.topic_id, t->meta.partitions, t->meta.config});
        topics::save_topics(loc_.data_dir, list);
    }

    [[nodiscard]] spill::SpillOptions spill_options() const {
        spill::SpillOptions o;
        o.write_to_log = broker_.spill_enable;
        o.claim_timeout_ns = std::uint64_t(broker_.claim_timeout_ms) * 1'000'000;
        return o;
    }

    log::LogSink log_sink() {
        return [](const std::string& level, const std::string& m) { log_line(level.c_str(), m); };
    }

    // Maps (re-attaching when it is there and matches) or creates partition p's ring.
    void map_ring(Partition& part, const protocol::TopicMetadata& m, std::int32_t p) {
        const std::string name = m.ring_shm_prefix + "." + std::to_string(p);
        const std::uint64_t bytes = ring::ring_layout(m.ring_bytes).total_bytes;
        try {
            SharedMapping old = SharedMapping::open(name);
            if (ring::RingRef::looks_valid(old.data(), old.size())) {
                ring::RingRef r(old.data());
                const ring::RingInfo& info = r.header().info;
                if (info.topic_id == m.topic_id && info.partition == std::uint32_t(p) &&
                    info.capacity == m.ring_bytes && info.max_record_bytes == m.max_message_bytes &&
                    r.header().claim.state.load() == std::uint32_t(ring::RingState::active)) {
                    // Its readers belonged to the old daemon's connections: they stay tethered
                    // (consumers read on undisturbed) as orphans that any client may adopt, and
                    // are bounded by consumer.hold.timeout.ms like every tether.
                    for (auto& slot : r.header().readers)
                        slot.owner_connection = orphan_owner;
                    part.mapping = std::move(old);
                    part.ring = r;
                    part.spill = std::make_unique<spill::PartitionSpill>(
                        part.ring, *part.log, config::Compression::none, log_sink(),
                        spill_options());
                    part.spill->position_at_log_end();
                    log_line("INFO", "re-attached ring " + name + " (high watermark " +
                                         std::to_string(ring::load_next_offset(r.header())) + ")");
                    return;
                }
            }
        } catch (const Error&) {
        }
        part.mapping = SharedMapping::create(name, bytes, shm_mode(), shm_group());
        part.ring = ring::RingRef::initialize(
            part.mapping.data(), m.ring_bytes, m.topic_id, std::uint32_t(p), m.max_message_bytes,
            ring::TimestampType(m.timestamp_type), std::uint64_t(part.log->log_end_offset()));
        part.spill = std::make_unique<spill::PartitionSpill>(
            part.ring, *part.log, config::Compression::none, log_sink(), spill_options());
    }

    std::unique_ptr<Topic> build_topic(protocol::TopicMetadata m, const config::TopicConfig& tc,
                                       bool verify) {
        m.ring_bytes = tc.ring_bytes;
        m.max_message_bytes = tc.max_message_bytes;
        m.timestamp_type = tc.log_append_time ? 1 : 0;
        m.hold_timeout_ms = tc.consumer_hold_timeout_ms;
        m.ring_shm_prefix = ring_prefix_of(m.topic_id);
        auto t = std::make_unique<Topic>();
        t->meta = m;
        t->config = tc;
        for (std::int32_t p = 0; p < m.partitions; ++p) {
            auto part = std::make_unique<Partition>();
            part->hold_timeout_ms = m.hold_timeout_ms;
            part->log = std::make_unique<log::PartitionLog>(
                topics::partition_dir(loc_.data_dir, m.name, p), tc, verify, log_sink());
            map_ring(*part, m, p);
            part->spill->set_codec(tc.compression);
            t->partitions.push_back(std::move(part));
        }
        return t;
    }

    bool listen() {
        ::unlink(loc_.socket_path().c_str());
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (loc_.socket_path().size() >= sizeof(addr.sun_path)) {
            log_line("ERROR", "socket path too long: " + loc_.socket_path());
            return false;
        }
        std::strcpy(addr.sun_path, loc_.socket_path().c_str());
        const mode_t old = ::umask(0177);  // nobody else between bind and the policy's mode
        const int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        ::umask(old);
        if (rc == 0) security::access_policy().apply_to_path(loc_.socket_path(), false);
        if (rc != 0 || ::listen(listen_fd_, 128) != 0) {
            log_line("ERROR",
                     "cannot listen on " + loc_.socket_path() + ": " + std::strerror(errno));
            return false;
        }
        return true;
    }

    void serve() {
        std::vector<ControlConnection> conns;
        std::uint32_t next_id = 1;
        while (!g_stop.load()) {
            std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
            for (auto& c : conns)
                fds.push_back({c.fd(),
                               short((c.accepting_requests() ? POLLIN : 0) |
                                     (c.replies_waiting() ? POLLOUT : 0)),
                               0});
            // A short timeout: group sessions and rebalance deadlines are checked between polls.
            const int ready = ::poll(fds.data(), fds.size(), 20);
            {
                std::lock_guard lock(topics_mutex_);
                persist_slot_commits();
                groups_->tick(wall_ms());
            }
            if (ready <= 0) continue;
            if (fds[0].revents & POLLIN) accept_connection(conns, next_id);
            for (std::size_t i = 1; i < fds.size(); ++i) {
                ControlConnection& c = conns[i - 1];
                if (fds[i].revents == 0) continue;
                bool ok = true;
                if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ok = c.receive();
                if (ok) ok = answer_requests(c) && c.flush();
                if (ok && c.accepting_requests()) ok = answer_requests(c) && c.flush();
                if (!ok) close_connection(c);
            }
            std::erase_if(conns, [](const ControlConnection& c) { return c.fd() < 0; });
            connection_count_.store(std::uint32_t(conns.size()), std::memory_order_relaxed);
        }
        for (auto& c : conns)
            c.close();
    }

    // Only the bus's owner (or root) may connect: the kernel's word for who is calling.
    void accept_connection(std::vector<ControlConnection>& conns, std::uint32_t& next_id) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        const std::optional<PeerCredentials> peer = kbusd::peer_credentials(fd);
        const security::AccessPolicy& access = security::access_policy();
        if (!peer || !access.admits(peer->uid, peer->groups, ::geteuid())) {
            log_line("WARN",
                     peer ? "refused a connection from pid " + std::to_string(peer->pid) +
                                " (uid " + std::to_string(peer->uid) + "): only uid " +
                                std::to_string(::geteuid()) +
                                (access.group ? ", root and group " + std::to_string(*access.group)
                                              : std::string(" and root")) +
                                " may use this bus"
                          : std::string("refused a connection: no peer credentials"));
            ::close(fd);
            return;
        }
        conns.emplace_back(fd, next_id++);
    }

    void close_connection(ControlConnection& c) {
        release_slots_of(c.id());
        {
            std::lock_guard lock(topics_mutex_);
            groups_->connection_closed(c.id(), wall_ms());
        }
        c.close();
    }

    // Answers the complete frames waiting, until too many replies wait; false closes the
    // connection (framing that cannot be trusted: an oversized frame).
    bool answer_requests(ControlConnection& c) {
        std::string& in = c.requests();
        std::size_t used = 0;
        while (c.accepting_requests()) {
            using Status = protocol::SplitFrame::Status;
            const protocol::SplitFrame f = protocol::split_frame(std::string_view(in).substr(used),
                                                                 protocol::max_frame_payload);
            if (f.status == Status::oversized) {
                log_line("WARN", "connection " + std::to_string(c.id()) + ": frame of " +
                                     std::to_string(f.header.payload_length) +
                                     " bytes exceeds the limit, closing");
                return false;
            }
            if (f.status == Status::incomplete) break;
            c.queue_reply(answer(f.header, f.payload, c.id()));
            used += f.frame_bytes;
        }
        in.erase(0, used);
        return true;
    }

    // One request's reply frame: its fields, or the error it met (the connection lives on).
    std::string answer(const protocol::FrameHeader& h, std::string_view payload,
                       std::uint32_t conn) {
        protocol::Writer reply;
        try {
            protocol::Reader r(payload);
            protocol::Writer body;
            handle(static_cast<protocol::RequestType>(h.type), r, body, conn);
            reply.u16(0);
            reply.str("");
            reply.raw(body.bytes().data(), body.bytes().size());
        } catch (const Error& e) {
            reply = {};
            reply.u16(static_cast<std::uint16_t>(e.code()));
            reply.str(e.what());
        } catch (const std::exception& e) {
            reply = {};
            reply.u16(static_cast<std::uint16_t>(ErrorCode::unknown));
            reply.str(e.what());
        }
        protocol::FrameHeader rh{static_cast<std::uint32_t>(reply.bytes().size()),
                                 static_cast<std::uint16_t>(h.type | protocol::reply_flag),
                                 h.version, h.request_id, 0};
        std::string out(reinterpret_cast<const char*>(&rh), sizeof(rh));
        out += reply.bytes();
        return out;
    }

    Topic& topic_named(const std::string& name) {
        auto it = topics_.find(name);
        if (it == topics_.end())
            throw Error(ErrorCode::unknown_topic, "unknown topic '" + name + "'");
        return *it->second;
    }

    Topic& topic_by_id(std::uint64_t id) {
        for (auto& [n, t] : topics_)
            if (t->meta.topic_id == id) return *t;
        throw Error(ErrorCode::unknown_topic, "unknown topic id " + std::to_string(id));
    }

    void handle(protocol::RequestType type, protocol::Reader& r, protocol::Writer& out,
                std::uint32_t conn) {
        using RT = protocol::RequestType;
        std::lock_guard lock(topics_mutex_);
        switch (type) {
            case RT::hello:
                if (const std::uint32_t v = r.u32(); v != protocol::protocol_version)
                    throw Error(ErrorCode::unsupported,
                                "control protocol version " + std::to_string(v) +
                                    " is not spoken here (kbusd speaks " +
                                    std::to_string(protocol::protocol_version) + ")");
                (void)r.u64();
                (void)r.str();
                out.u64(control_->info.daemon_epoch.load());
                out.str(loc_.control_shm_name());
                return;
            case RT::create_topic:
                return create_topic(r);
            case RT::delete_topic:
                return delete_topic_named(r.str());
            case RT::alter_topic:
                return alter_topic(r);
            case RT::list_topics:
                out.u32(static_cast<std::uint32_t>(topics_.size()));
                for (auto& [n, t] : topics_)
                    out.str(n);
                return;
            case RT::topic_metadata:
                topic_or_auto_created(r.str()).meta.write(out);
                return;
            case RT::describe_topic: {
                Topic& t = topic_named(r.str());
                t.meta.write(out);
                out.u32(static_cast<std::uint32_t>(t.partitions.size()));
                for (std::size_t i = 0; i < t.partitions.size(); ++i)
                    describe(*t.partitions[i], int(i)).write(out);
                return;
            }
            case RT::attach_reader:
                return attach(r, out, conn);
            case RT::fetch:
                return fetch(r, out);
            case RT::join_group:
            case RT::sync_group:
            case RT::heartbeat:
            case RT::leave_group:
            case RT::commit_offsets:
            case RT::fetch_offsets:
            case RT::list_groups:
            case RT::describe_group:
            case RT::delete_group:
            case RT::reset_offsets:
                return handle_group(type, r, out, conn);
            case RT::stats:
                return snapshot().write(out);
            case RT::release_reader: {
                Topic& t = topic_by_id(r.u64());
                const std::int32_t p = r.i32();
                const std::uint32_t slot = r.u32();
                if (p < 0 || p >= t.meta.partitions || slot >= ring::reader_slot_count)
                    throw Error(ErrorCode::invalid_argument, "bad partition or slot");
                Partition& part = *t.partitions[std::size_t(p)];
                std::lock_guard pl(part.mutex);
                if (owns(part.ring.header(), std::int32_t(slot), conn))
                    part.ring.header().readers[slot].state.store(
                        std::uint32_t(ring::ReaderSlotState::free));
                return;
            }
            default:
                throw Error(ErrorCode::unsupported,
                            "unknown request type " + std::to_string(int(type)));
        }
    }

    static config::Settings read_settings(protocol::Reader& r) {
        config::Settings settings;
        const std::uint32_t n = r.count(8);
        for (std::uint32_t i = 0; i < n; ++i) {
            std::string k = r.str();
            settings.emplace_back(std::move(k), r.str());
        }
        return settings;
    }

    void create_topic(protocol::Reader& r) {
        protocol::TopicMetadata m;
        m.name = r.str();
        m.partitions = r.i32();
        m.config = read_settings(r);
        create_topic(std::move(m));
    }

    // --- the Kafka listener's view of the bus (kafka_backend.hpp); every call under the lock ---

    Partition& partition_of(const std::string& topic, std::int32_t partition) {
        Topic& t = topic_named(topic);
        if (partition < 0 || partition >= t.meta.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(partition) + " of '" + topic + "'");
        return *t.partitions[std::size_t(partition)];
    }

    std::vector<std::pair<std::string, std::optional<std::int32_t>>> topics(
        const std::optional<std::vector<std::string>>& names, bool auto_create) override {
        std::lock_guard lock(topics_mutex_);
        std::vector<std::pair<std::string, std::optional<std::int32_t>>> found;
        if (!names) {
            for (const auto& [n, t] : topics_)
                found.emplace_back(n, t->meta.partitions);
            return found;
        }
        for (const std::string& n : *names) {
            if (auto why = check_topic_name(n); !why.empty())
                throw Error(ErrorCode::invalid_argument, why);
            if (auto_create && broker_.auto_create_topics) (void)topic_or_auto_created(n);
            const auto it = topics_.find(n);
            found.emplace_back(
                n, it == topics_.end() ? std::nullopt : std::optional(it->second->meta.partitions));
        }
        return found;
    }

    std::uint32_t max_record_bytes(const std::string& topic) override {
        std::lock_guard lock(topics_mutex_);
        return partition_of(topic, 0).ring.header().info.max_record_bytes;
    }

    kbusd::ProduceOutcome produce(const std::string& topic, std::int32_t partition,
                                  const kafka::BatchDecoder& batch) override {
        std::lock_guard lock(topics_mutex_);
        const auto it = topics_.find(topic);
        if (it == topics_.end() || partition < 0 || partition >= it->second->meta.partitions)
            return {kbusd::ProduceStatus::unknown_partition};
        Topic& t = *it->second;
        Partition& p = *t.partitions[std::size_t(partition)];
        ring::RingWriter writer(p.ring);
        const std::int64_t append_time = t.config.log_append_time ? wall_ms() : -1;
        const kafka::AppendResult a = kafka::append_to_ring(writer, batch, append_time);
        switch (a.status) {
            case ring::ClaimStatus::claimed:
                return {kbusd::ProduceStatus::appended, a.base_offset, append_time,
                        p.log->log_start_offset()};
            case ring::ClaimStatus::full:
                return {kbusd::ProduceStatus::full};
            case ring::ClaimStatus::too_large:
                return {kbusd::ProduceStatus::too_large};
            case ring::ClaimStatus::deleted:
                break;
        }
        return {kbusd::ProduceStatus::unknown_partition};
    }

    kbusd::PartitionRead read(const std::string& topic, std::int32_t partition, std::int64_t offset,
                              std::uint32_t max_bytes) override {
        std::lock_guard lock(topics_mutex_);
        Partition& p = partition_of(topic, partition);
        kbusd::PartitionRead read;
        read.log_start_offset = p.log->log_start_offset();
        read.high_watermark = std::int64_t(ring::load_next_offset(p.ring.header()));
        if (offset < read.log_start_offset || offset > read.high_watermark)
            throw Error(ErrorCode::offset_out_of_range,
                        "offset " + std::to_string(offset) + " is outside " +
                            std::to_string(read.log_start_offset) + ".." +
                            std::to_string(read.high_watermark));
        // Served from the segments as stored. Records still on their way there are served by a
        // later look at this fetch; the spill is asked to write them now rather than linger.
        if (offset >= p.log->log_end_offset()) {
            if (offset < read.high_watermark) request_flush(p);
            return read;
        }
        const log::PartitionLog::Extent e = p.log->locate(offset, max_bytes);
        if (e.length == 0) return read;
        const int fd = ::open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw Error(ErrorCode::io_error, "cannot open " + e.path + ": " + std::strerror(errno));
        // Kept open until the response is sent: retention may unlink the file meanwhile.
        read.extent = kbusd::FileExtent{std::shared_ptr<const int>(new int(fd),
                                                                   [](const int* f) {
                                                                       ::close(*f);
                                                                       delete f;
                                                                   }),
                                        e.position, e.length};
        return read;
    }

    // Wakes the spill thread for a partition a Kafka consumer waits on.
    void request_flush(Partition& p) {
        if (p.flush_requested.exchange(true, std::memory_order_relaxed)) return;
        control_->doorbell.ring();
    }

    std::optional<std::int64_t> offset_for(const std::string& topic, std::int32_t partition,
                                           std::int64_t timestamp) override {
        std::lock_guard lock(topics_mutex_);
        Partition& p = partition_of(topic, partition);
        if (timestamp == -2) return p.log->log_start_offset();
        if (timestamp == -1) return std::int64_t(ring::load_next_offset(p.ring.header()));
        if (timestamp < 0)
            throw Error(ErrorCode::invalid_argument,
                        "timestamp " + std::to_string(timestamp) + " is not served");
        return p.log->offset_for_timestamp(timestamp);
    }

    void create_topic(const std::string& name, std::int32_t partitions,
                      const std::vector<std::pair<std::string, std::string>>& configs,
                      bool validate_only) override {
        std::lock_guard lock(topics_mutex_);
        protocol::TopicMetadata m;
        m.name = name;
        m.partitions = partitions == -1 ? broker_.num_partitions : partitions;
        m.config = configs;
        if (validate_only)
            (void)check_new_topic(m);  // what creating it would refuse, nothing more
        else
            create_topic(std::move(m));
    }

    void delete_topic(const std::string& name) override {
        std::lock_guard lock(topics_mutex_);
        delete_topic_named(name);
    }

    // Kafka members are not tied to a connection (librdkafka talks to the coordinator on a
    // connection of its own and may reconnect): their session timeout is what expires them.
    static constexpr std::uint32_t no_connection = 0;

    group::JoinGroupReply join(const group::JoinGroupRequest& request) override {
        std::lock_guard lock(topics_mutex_);
        persist_slot_commits();
        return groups_->join(request, no_connection, wall_ms());
    }

    std::optional<std::string> sync(const group::SyncGroupRequest& request) override {
        std::lock_guard lock(topics_mutex_);
        persist_slot_commits();
        return groups_->sync(request, wall_ms());
    }

    void heartbeat(const std::string& g, std::int32_t generation,
                   const std::string& member) override {
        std::lock_guard lock(topics_mutex_);
        groups_->heartbeat(g, generation, member, wall_ms());
    }

    void leave(const std::string& g, const std::string& member) override {
        std::lock_guard lock(topics_mutex_);
        persist_slot_commits();
        groups_->leave(g, member, wall_ms());
    }

    void commit(
        const std::string& g, std::int32_t generation, const std::string& member,
        const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets) override {
        std::lock_guard lock(topics_mutex_);
        persist_slot_commits();
        groups_->commit(
            g, generation, member, offsets,
            [this](const group::TopicPartition& tp) { return bounds_of(tp); }, wall_ms());
        mirror_into_slots(g, offsets);
    }

    std::optional<std::int64_t> committed(const std::string& g,
                                          const group::TopicPartition& tp) override {
        std::lock_guard lock(topics_mutex_);
        persist_slot_commits();
        for (const auto& [p, offset] : groups_->committed(g, tp.topic))
            if (p == tp.partition) return offset;
        return std::nullopt;
    }

    // Marks the rings deleted (producers stop), removes them and the partition directories;
    // the mappings stay with retired_ until exit, for clients that still hold them.
    void delete_topic_named(const std::string& name) {
        Topic& t = topic_named(name);
        for (auto& p : t.partitions)
            p->ring.header().claim.state.store(std::uint32_t(ring::RingState::deleted));
        for (std::int32_t p = 0; p < t.meta.partitions; ++p)
            SharedMapping::remove(t.meta.ring_shm_prefix + "." + std::to_string(p));
        retired_.push_back(std::move(topics_[name]));
        topics_.erase(name);
        save_topics();
        for (std::int32_t p = 0; p < t.meta.partitions; ++p) {
            const std::string dir = topics::partition_dir(loc_.data_dir, name, p);
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
            if (ec) log_line("WARN", "cannot remove " + dir + ": " + ec.message());
        }
        groups_->topic_deleted(name);
        log_line("INFO", "deleted topic '" + name + "'");
    }

    // A topic a client names before anyone created it: made on first use, as Kafka does, when
    // auto.create.topics.enable is set (num.partitions partitions, the broker's defaults).
    Topic& topic_or_auto_created(const std::string& name) {
        if (!topics_.count(name) && broker_.auto_create_topics) {
            protocol::TopicMetadata m;
            m.name = name;
            m.partitions = broker_.num_partitions;
            create_topic(std::move(m));
        }
        return topic_named(name);
    }

    // Everything that refuses a new topic (its config, name, partition count, the limits); its
    // config when none does.
    config::TopicConfig check_new_topic(const protocol::TopicMetadata& m) const {
        config::TopicConfig tc = config::make_topic_config(broker_.topic_defaults, m.config);
        if (auto why = check_topic_name(m.name); !why.empty())
            throw Error(ErrorCode::invalid_argument, why);
        if (topics_.count(m.name))
            throw Error(ErrorCode::topic_exists, "topic '" + m.name + "' already exists");
        if (m.partitions < 1 || m.partitions > 10000)
            throw Error(ErrorCode::invalid_argument, "partitions must be between 1 and 10000");
        check_limits(m, tc);
        return tc;
    }

    void create_topic(protocol::TopicMetadata m) {
        const config::TopicConfig tc = check_new_topic(m);
        m.topic_id = next_topic_id_++;
        // A directory left by an earlier topic of this name must not leak old records into it.
        for (std::int32_t p = 0; p < m.partitions; ++p)
            std::filesystem::remove_all(topics::partition_dir(loc_.data_dir, m.name, p));
        std::unique_ptr<Topic> t;
        try {
            t = build_topic(m, tc, false);
        } catch (const std::exception&) {
            remove_topic_files(m);  // nothing of a topic that was refused half-way stays behind
            throw;
        }
        topics_.emplace(m.name, std::move(t));
        save_topics();
        log_line("INFO", "created topic '" + m.name + "' with " + std::to_string(m.partitions) +
                             " partitions");
    }

    // kbus.max.topics, kbus.max.partitions and kbus.max.shared.memory.bytes, and the room the
    // tmpfs has now: a topic that would pass one is refused before anything is created.
    void check_limits(const protocol::TopicMetadata& m, const config::TopicConfig& tc) const {
        std::int64_t partitions = m.partitions, ring_bytes = 0;
        for (const auto& [name, t] : topics_) {
            partitions += t->meta.partitions;
            ring_bytes += std::int64_t(ring::ring_layout(t->config.ring_bytes).total_bytes) *
                          t->meta.partitions;
        }
        const std::uint64_t wanted = ring::ring_layout(tc.ring_bytes).total_bytes * m.partitions;
        auto refuse = [&](const std::string& why) {
            throw Error(ErrorCode::resource_exhausted,
                        "cannot create topic '" + m.name + "': " + why);
        };
        if (std::int64_t(topics_.size()) >= broker_.max_topics)
            refuse("kbus.max.topics (" + std::to_string(broker_.max_topics) + ") reached");
        if (partitions > broker_.max_partitions)
            refuse("its " + std::to_string(m.partitions) + " partitions would pass " +
                   "kbus.max.partitions (" + std::to_string(broker_.max_partitions) + ")");
        if (broker_.max_shared_memory_bytes >= 0 &&
            ring_bytes + std::int64_t(wanted) > broker_.max_shared_memory_bytes)
            refuse("its rings (" + std::to_string(wanted) + " bytes) would pass " +
                   "kbus.max.shared.memory.bytes (" +
                   std::to_string(broker_.max_shared_memory_bytes) + ", " +
                   std::to_string(ring_bytes) + " in use)");
        struct statvfs fs {};
        if (::statvfs("/dev/shm", &fs) == 0 && std::uint64_t(fs.f_bavail) * fs.f_frsize < wanted)
            refuse("its rings need " + std::to_string(wanted) + " bytes of shared memory and " +
                   "/dev/shm has " + std::to_string(std::uint64_t(fs.f_bavail) * fs.f_frsize) +
                   " free (shared memory full)");
    }

    [[nodiscard]] static unsigned shm_mode() { return security::access_policy().file_mode(); }
    [[nodiscard]] static int shm_group() {
        const auto& g = security::access_policy().group;
        return g ? int(*g) : -1;
    }

    [[nodiscard]] std::string ring_prefix_of(std::uint64_t topic_id) const {
        return loc_.shm_prefix() + ".t" + std::to_string(topic_id);
    }

    // The rings and partition directories of a topic that is not (or no longer) there.
    void remove_topic_files(const protocol::TopicMetadata& m) {
        for (std::int32_t p = 0; p < m.partitions; ++p) {
            SharedMapping::remove(ring_prefix_of(m.topic_id) + "." + std::to_string(p));
            std::error_code ec;
            std::filesystem::remove_all(topics::partition_dir(loc_.data_dir, m.name, p), ec);
        }
    }

    // Changes per-topic settings in place; the ring's shape (ring.bytes, max.message.bytes,
    // message.timestamp.type) is fixed while producers map it.
    void alter_topic(protocol::Reader& r) {
        Topic& t = topic_named(r.str());
        const config::Settings changes = read_settings(r);
        for (const auto& [k, v] : changes)
            if (config::is_fixed_at_creation(k))
                throw Error(ErrorCode::invalid_argument, k + " cannot be altered after creation");
        t.config = config::make_topic_config(t.config, changes);
        for (const auto& [k, v] : changes) {
            std::erase_if(t.meta.config, [&](const auto& kv) { return kv.first == k; });
            t.meta.config.emplace_back(k, v);
        }
        t.meta.hold_timeout_ms = t.config.consumer_hold_timeout_ms;
        for (auto& p : t.partitions) {
            std::lock_guard pl(p->mutex);
            p->hold_timeout_ms = t.config.consumer_hold_timeout_ms;
            p->log->set_config(t.config);
            p->spill->set_codec(t.config.compression);
        }
        save_topics();
        log_line("INFO", "altered topic '" + t.meta.name + "'");
    }

    // The bus as `kbus stats` and the metrics endpoint show it. Under topics_mutex_.
    kbus::stats::BusStats snapshot() {
        kbus::stats::BusStats s;
        s.time_ms = wall_ms();
        s.connections = connection_count_.load(std::memory_order_relaxed);
        std::map<std::pair<std::string, std::int32_t>, std::int64_t> watermarks;
        for (auto& [name, t] : topics_) {
            for (std::size_t i = 0; i < t->partitions.size(); ++i) {
                Partition& part = *t->partitions[i];
                const protocol::PartitionState d = describe(part, int(i));
                kbus::stats::PartitionStats p;
                p.topic = name;
                p.partition = std::int32_t(i);
                p.log_start_offset = d.log_start_offset;
                p.high_watermark = d.high_watermark;
                p.spilled_offset = d.spill_offset;
                p.ring_bytes = d.ring_bytes;
                p.ring_fill_bytes = d.ring_fill_bytes;
                p.aborted_offsets = part.spill->aborted_offsets();
                const ring::RingHeader& h = part.ring.header();
                for (std::uint32_t slot = 0; slot < ring::reader_slot_count; ++slot)
                    if (h.readers[slot].state.load(std::memory_order_acquire) ==
                        std::uint32_t(ring::ReaderSlotState::attached))
                        p.readers.emplace_back(
                            slot,
                            std::int64_t(h.readers[slot].offset.load(std::memory_order_relaxed)));
                watermarks[{name, p.partition}] = p.high_watermark;
                s.partitions.push_back(std::move(p));
            }
        }
        for (const groups::GroupListing& g : groups_->list())
            for (const auto& [name, t] : topics_)
                for (const auto& [partition, committed] : groups_->committed(g.group, name))
                    s.groups.push_back({g.group, groups::to_string(g.state), g.members, name,
                                        partition, committed,
                                        watermarks[{name, partition}] - committed});
        return s;
    }

    protocol::PartitionState describe(Partition& p, int index) {
        ring::RingHeader& h = p.ring.header();
        const detail::WordPair pair = detail::dwload(&h.claim.next_offset_and_tail);
        protocol::PartitionState s;
        s.partition = index;
        s.high_watermark = std::int64_t(pair.first);
        s.log_start_offset = p.log->log_start_offset();
        s.ring_bytes = p.ring.capacity();
        const std::uint64_t gate = h.limit.producer_limit.load() - p.ring.capacity();
        s.ring_fill_bytes = pair.second > gate ? pair.second - gate : 0;
        s.spill_offset = std::int64_t(h.spill.spill_offset.load());
        for (auto& slot : h.readers)
            if (slot.state.load() == std::uint32_t(ring::ReaderSlotState::attached))
                ++s.attached_readers;
        return s;
    }

    // The oldest offset still safely in the ring (binary search over the claim journal).
    std::uint64_t earliest(Partition& p, std::uint64_t next) {
        ring::RingReader reader(p.ring);
        const std::uint64_t gate = p.ring.header().limit.producer_limit.load() - p.ring.capacity();
        auto ok = [&](std::uint64_t o) {
            ring::Cursor c;
            return reader.locate(o, c) && c.position >= gate;
        };
        std::uint64_t lo = next > p.ring.header().info.journal_entries
                               ? next - p.ring.header().info.journal_entries
                               : 0;
        std::uint64_t hi = next;
        while (lo < hi) {
            const std::uint64_t mid = lo + (hi - lo) / 2;
            if (ok(mid))
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }

    // The first offset at or after `ts`: on disk through the time index, else among the records
    // the spill has not taken yet, else the high watermark.
    std::uint64_t offset_for_timestamp(Partition& part, std::int64_t ts, std::uint64_t hw) {
        if (auto o = part.log->offset_for_timestamp(ts)) return std::uint64_t(*o);
        ring::RingReader reader(part.ring);
        ring::Cursor c = part.spill->cursor();
        for (ring::RecordRef rec;;) {
            const ring::PeekStatus s = reader.peek(c, rec);
            if (s == ring::PeekStatus::record && rec.header->timestamp >= ts) return rec.offset;
            if (s != ring::PeekStatus::record && s != ring::PeekStatus::aborted) return hw;
            ring::RingReader::advance(c, rec);
        }
    }

    // Tethers a consumer to the ring at the offset it asks for, or, when that offset is only on
    // disk any more, tells it to read the log (fetch) until it catches up with the ring.
    void attach(protocol::Reader& r, protocol::Writer& out, std::uint32_t conn) {
        Topic& t = topic_by_id(r.u64());
        const std::int32_t p = r.i32();
        const auto kind = static_cast<protocol::OffsetSpecKind>(r.u8());
        const std::int64_t offset = r.i64();
        const std::int32_t want_slot = r.i32();
        if (p < 0 || p >= t.meta.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(p) + " out of range");
        Partition& part = *t.partitions[std::size_t(p)];
        ring::RingHeader& h = part.ring.header();
        std::lock_guard pl(part.mutex);
        const detail::WordPair pair = detail::dwload(&h.claim.next_offset_and_tail);
        const std::uint64_t hw = pair.first;
        const auto log_start = std::uint64_t(part.log->log_start_offset());
        std::uint64_t target = hw;
        switch (kind) {
            case protocol::OffsetSpecKind::beginning:
                target = log_start;
                break;
            case protocol::OffsetSpecKind::end:
                target = hw;
                break;
            case protocol::OffsetSpecKind::timestamp:
                target = offset_for_timestamp(part, offset, hw);
                break;
            case protocol::OffsetSpecKind::offset:
                if (offset < 0 || std::uint64_t(offset) > hw)
                    throw Error(ErrorCode::offset_out_of_range,
                                "offset " + std::to_string(offset) +
                                    " is beyond the high watermark " + std::to_string(hw));
                if (std::uint64_t(offset) < log_start)
                    throw Error(ErrorCode::offset_out_of_range,
                                "offset " + std::to_string(offset) + " is below the log start " +
                                    std::to_string(log_start) + " (deleted by retention)");
                target = std::uint64_t(offset);
                break;
            default:
                throw Error(ErrorCode::protocol_error,
                            "unknown offset kind " + std::to_string(int(kind)));
        }
        target = std::max(target, log_start);
        protocol::ReaderAttachment a;
        ring::Cursor at{pair.second, hw};
        if (target < hw) {
            ring::RingReader reader(part.ring);
            const std::uint64_t gate = h.limit.producer_limit.load() - part.ring.capacity();
            if (!reader.locate(target, at) || at.position < gate) {
                // Behind the ring: the consumer reads the log, holding producers back not at all.
                if (owns(h, want_slot, conn))
                    h.readers[want_slot].state.store(std::uint32_t(ring::ReaderSlotState::free));
                a.on_disk = true;
                a.offset = std::int64_t(target);
                a.write(out);
                return;
            }
        }
        std::uint32_t slot = ring::reader_slot_count;
        if (owns(h, want_slot, conn)) slot = std::uint32_t(want_slot);
        for (std::uint32_t i = 0; slot == ring::reader_slot_count && i < ring::reader_slot_count;
             ++i)
            if (h.readers[i].state.load() == std::uint32_t(ring::ReaderSlotState::free)) slot = i;
        if (slot == ring::reader_slot_count)
            throw Error(ErrorCode::resource_exhausted, "no free reader slot on this partition");
        ring::ReaderSlot& s = h.readers[slot];
        s.owner_connection = conn;
        s.offset.store(at.offset);
        s.position.store(at.position);
        s.state.store(std::uint32_t(ring::ReaderSlotState::attached), std::memory_order_seq_cst);
        a.slot = slot;
        a.position = at.position;
        a.offset = std::int64_t(at.offset);
        a.write(out);
    }

    // A partition's log start and high watermark, for the group coordinator's checks and lag.
    std::optional<groups::PartitionBounds> bounds_of(const group::TopicPartition& tp) {
        const auto it = topics_.find(tp.topic);
        if (it == topics_.end() || tp.partition < 0 || tp.partition >= it->second->meta.partitions)
            return std::nullopt;
        Partition& p = *it->second->partitions[std::size_t(tp.partition)];
        return groups::PartitionBounds{p.log->log_start_offset(),
                                       std::int64_t(ring::load_next_offset(p.ring.header()))};
    }

    void handle_group(protocol::RequestType type, protocol::Reader& r, protocol::Writer& out,
                      std::uint32_t conn) {
        using RT = protocol::RequestType;
        const std::int64_t now = wall_ms();
        const groups::BoundsOf bounds = [this](const group::TopicPartition& tp) {
            return bounds_of(tp);
        };
        persist_slot_commits();  // what members committed in shared memory counts from here
        switch (type) {
            case RT::join_group:
                groups_->join(group::JoinGroupRequest::read(r), conn, now).write(out);
                return;
            case RT::sync_group: {
                const group::SyncGroupRequest req = group::SyncGroupRequest::read(r);
                const std::optional<std::string> a = groups_->sync(req, now);
                out.u8(a ? 0 : 1);
                out.str(a.value_or(""));
                std::vector<group::CommitGrant> grants;
                if (a) grants = grant_commit_slots(req.group, req.generation, req.member_id);
                out.u32(std::uint32_t(grants.size()));
                for (const auto& g : grants) {
                    out.str(g.topic);
                    out.i32(g.partition);
                    out.u32(g.slot);
                    out.u64(g.token);
                }
                return;
            }
            case RT::heartbeat: {
                const std::string g = r.str();
                const std::int32_t generation = r.i32();
                groups_->heartbeat(g, generation, r.str(), now);
                return;
            }
            case RT::leave_group: {
                const std::string g = r.str();
                groups_->leave(g, r.str(), now);
                return;
            }
            case RT::commit_offsets: {
                const std::string g = r.str();
                const std::int32_t generation = r.i32();
                const std::string member = r.str();
                std::vector<std::pair<group::TopicPartition, std::int64_t>> offsets(r.count(16));
                for (auto& [tp, offset] : offsets) {
                    tp.topic = r.str();
                    tp.partition = r.i32();
                    offset = r.i64();
                }
                groups_->commit(g, generation, member, offsets, bounds, now);
                mirror_into_slots(g, offsets);
                return;
            }
            case RT::fetch_offsets: {
                const std::string g = r.str();
                const auto committed = groups_->committed(g, r.str());
                out.u32(std::uint32_t(committed.size()));
                for (const auto& [p, offset] : committed) {
                    out.i32(p);
                    out.i64(offset);
                }
                return;
            }
            case RT::list_groups: {
                const auto all = groups_->list();
                out.u32(std::uint32_t(all.size()));
                for (const auto& l : all) {
                    out.str(l.group);
                    out.str(groups::to_string(l.state));
                    out.u32(l.members);
                }
                return;
            }
            case RT::describe_group:
                groups_->describe(r.str(), bounds).write(out);
                return;
            case RT::delete_group: {
                const std::string g = r.str();
                groups_->remove(g);
                free_commit_slots(g);
                return;
            }
            case RT::reset_offsets:
                return reset_offsets(r, out);
            default:
                throw Error(ErrorCode::protocol_error, "not a group request");
        }
    }

    // --- group commit slots (see GroupCommitSlot): members commit by compare-and-swap ---

    template <class F>
    void for_each_slot_of(const std::string& g, F f) {
        for (auto& [n, t] : topics_)
            for (std::int32_t p = 0; p < t->meta.partitions; ++p) {
                Partition& part = *t->partitions[std::size_t(p)];
                const std::uint32_t i = slot_index_of(part.ring.header(), g);
                if (i < ring::group_commit_slot_count)
                    f(*t, p, part, i, part.ring.header().group_commits[i]);
            }
    }

    // The index of group `g`'s slot in a ring (a group has at most one per partition), or
    // group_commit_slot_count if it has none.
    static std::uint32_t slot_index_of(ring::RingHeader& h, const std::string& g) {
        for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i)
            if (group::slot_token(h.group_commits[i]) != 0 &&
                group::slot_group(h.group_commits[i]) == g)
                return i;
        return ring::group_commit_slot_count;
    }

    // The slot of group `g` on a partition, allocated (holding the group's committed offset)
    // if it has none; nullptr if every slot is taken (commits then go through the socket).
    ring::GroupCommitSlot* slot_for(const std::string& g, const std::string& topic,
                                    std::int32_t partition, Partition& part, std::uint32_t& index) {
        ring::RingHeader& h = part.ring.header();
        if (const std::uint32_t i = slot_index_of(h, g); i < ring::group_commit_slot_count)
            return &h.group_commits[index = i];
        for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i) {
            ring::GroupCommitSlot& s = h.group_commits[i];
            if (group::slot_token(s) != 0) continue;
            s.name_length = std::uint32_t(g.size());
            std::memcpy(s.name, g.data(), g.size());
            const auto committed = offsets_->committed(g, {topic, partition});
            const std::uint64_t v = committed ? std::uint64_t(*committed) + 1 : 0;
            // Relaxed: a free slot has no token, so no member writes it; the grant's
            // compare-and-swap below publishes it.
            __atomic_store_n(&s.token_and_commit.second, v, __ATOMIC_RELAXED);
            part.persisted_commit[i] = v;
            group::set_slot_token(s, group::fence_token(0x7fffffff));  // taken, nobody's yet
            return &h.group_commits[index = i];
        }
        return nullptr;
    }

    std::vector<group::CommitGrant> grant_commit_slots(const std::string& g,
                                                       std::int32_t generation,
                                                       const std::string& member) {
        std::vector<group::CommitGrant> grants;
        for (const group::TopicPartition& tp : groups_->owned(g, member)) {
            const auto it = topics_.find(tp.topic);
            if (it == topics_.end() || tp.partition >= it->second->meta.partitions) continue;
            Partition& part = *it->second->partitions[std::size_t(tp.partition)];
            std::uint32_t index = 0;
            ring::GroupCommitSlot* s = slot_for(g, tp.topic, tp.partition, part, index);
            if (s == nullptr) continue;
            const std::uint64_t token = group::member_token(generation, member);
            group::set_slot_token(*s, token);
            grants.push_back({tp.topic, tp.partition, index, token});
        }
        return grants;
    }

    // A new generation: no older member may commit any more.
    void fence_commit_slots(const std::string& g, std::int32_t generation) {
        for_each_slot_of(
            g, [&](Topic&, std::int32_t, Partition&, std::uint32_t, ring::GroupCommitSlot& s) {
                group::set_slot_token(s, group::fence_token(generation));
            });
    }

    void free_commit_slots(const std::string& g) {
        for_each_slot_of(g, [&](Topic&, std::int32_t, Partition& part, std::uint32_t i,
                                ring::GroupCommitSlot& s) {
            group::set_slot_token(s, 0);
            s.name_length = 0;
            part.persisted_commit[i] = 0;
        });
    }

    // A commit that came through the socket (an outsider's, a reset) also goes into the slot,
    // which must always hold the group's latest commit.
    void mirror_into_slots(
        const std::string& g,
        const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offs) {
        for_each_slot_of(g, [&](Topic& t, std::int32_t p, Partition& part, std::uint32_t i,
                                ring::GroupCommitSlot& s) {
            for (const auto& [tp, offset] : offs)
                if (tp.topic == t.meta.name && tp.partition == p) {
                    group::set_slot_commit(s, offset);
                    part.persisted_commit[i] = std::uint64_t(offset) + 1;
                }
        });
    }

    // Writes to the offsets file what members committed in the slots since the last look.
    void persist_slot_commits() {
        for (auto& [n, t] : topics_)
            for (std::int32_t p = 0; p < t->meta.partitions; ++p) {
                Partition& part = *t->partitions[std::size_t(p)];
                ring::RingHeader& h = part.ring.header();
                for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i) {
                    ring::GroupCommitSlot& s = h.group_commits[i];
                    const std::uint64_t v = group::slot_commit(s);
                    if (group::slot_token(s) == 0 || v == 0 || v == part.persisted_commit[i])
                        continue;
                    part.persisted_commit[i] = v;
                    const std::string g(group::slot_group(s));
                    const auto offset = std::int64_t(v - 1);
                    if (!check_group_name(g).empty() ||
                        offset > std::int64_t(ring::load_next_offset(h))) {
                        log_line("WARN", "ignored a commit slot of " + t->meta.name + "-" +
                                             std::to_string(p) + " holding offset " +
                                             std::to_string(offset) + " for group '" + g + "'");
                        continue;
                    }
                    try {
                        offsets_->commit(g, {t->meta.name, p}, offset);
                    } catch (const Error& e) {
                        part.persisted_commit[i] = 0;  // try again at the next tick
                        log_line("ERROR", std::string("cannot persist a commit: ") + e.what());
                    }
                }
            }
    }

    // kafka-consumer-groups.sh --reset-offsets: every partition of the topic to the log start,
    // the high watermark, an offset (clamped into the log) or the first offset at a time.
    void reset_offsets(protocol::Reader& r, protocol::Writer& out) {
        const std::string g = r.str();
        Topic& t = topic_named(r.str());
        const auto kind = static_cast<protocol::OffsetSpecKind>(r.u8());
        const std::int64_t value = r.i64();
        std::vector<std::pair<group::TopicPartition, std::int64_t>> offsets;
        for (std::int32_t p = 0; p < t.meta.partitions; ++p) {
            Partition& part = *t.partitions[std::size_t(p)];
            const std::int64_t start = part.log->log_start_offset();
            const auto hw = ring::load_next_offset(part.ring.header());
            std::int64_t to = std::int64_t(hw);
            switch (kind) {
                case protocol::OffsetSpecKind::beginning:
                    to = start;
                    break;
                case protocol::OffsetSpecKind::end:
                    break;
                case protocol::OffsetSpecKind::offset:
                    to = std::clamp(value, start, std::int64_t(hw));
                    break;
                case protocol::OffsetSpecKind::timestamp:
                    to = std::int64_t(offset_for_timestamp(part, value, hw));
                    break;
                default:
                    throw Error(ErrorCode::invalid_argument, "unknown offset kind");
            }
            offsets.push_back({{t.meta.name, p}, to});
        }
        groups_->reset(g, offsets);
        mirror_into_slots(g, offsets);
        out.u32(std::uint32_t(offsets.size()));
        for (const auto& [tp, offset] : offsets) {
            out.i32(tp.partition);
            out.i64(offset);
        }
    }

    // Batches from the log for a consumer behind the ring: where they lie in a segment, for a
    // client that maps it, or their bytes decompressed here, so that clients link no codec.
    void fetch(protocol::Reader& r, protocol::Writer& out) {
        Topic& t = topic_by_id(r.u64());
        const std::int32_t p = r.i32();
        const std::int64_t offset = r.i64();
        const std::uint32_t requested = r.u32();
        const bool extent_wanted = r.u8() != 0;
        const std::uint32_t max_bytes = std::min(
            requested, extent_wanted ? protocol::max_fetch_file_bytes : protocol::max_fetch_bytes);
        if (p < 0 || p >= t.meta.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(p) + " out of range");
        Partition& part = *t.partitions[std::size_t(p)];
        protocol::FetchReply f;
        f.log_start_offset = part.log->log_start_offset();
        f.log_end_offset = part.log->log_end_offset();
        {
            std::lock_guard pl(part.mutex);
            f.ring_start_offset =
                std::int64_t(earliest(part, ring::load_next_offset(part.ring.header())));
        }
        if (extent_wanted) {
            log::PartitionLog::Extent e = part.log->locate(offset, max_bytes);
            if (e.length != 0) {
                f.file_path = std::move(e.path);
                f.file_position = e.position;
                f.file_length = e.length;
            }
        } else {
            // What a batch may inflate to: the spill's batch size plus one record beyond it,
            // with room to spare for batches other producers compressed harder.
            const std::size_t most = 64u << 20;
            f.batches = log::decompress_batches(part.log->read(offset, max_bytes),
                                                most + t.config.max_message_bytes);
        }
        f.write(out);
    }

    // A client may use a slot it attached, or one orphaned by a daemon restart (its own, from
    // before the restart: consumers keep their slot numbers).
    static bool owns(const ring::RingHeader& h, std::int32_t slot, std::uint32_t conn) {
        if (slot < 0 || std::uint32_t(slot) >= ring::reader_slot_count) return false;
        const std::uint32_t owner = h.readers[slot].owner_connection;
        return owner == conn || owner == orphan_owner;
    }

    void release_slots_of(std::uint32_t conn) {
        std::lock_guard lock(topics_mutex_);
        for (auto& [n, t] : topics_)
            for (auto& p : t->partitions) {
                std::lock_guard pl(p->mutex);
                for (auto& s : p->ring.header().readers)
                    if (s.owner_connection == conn)
                        s.state.store(std::uint32_t(ring::ReaderSlotState::free));
            }
    }

    // Takes committed records off every ring and raises each producer limit to
    // min(spill position, attached readers' positions) + capacity (monotonic).
    void spill_loop() {
        constexpr auto idle_nap = std::chrono::milliseconds(1);
        while (!g_stop.load(std::memory_order_relaxed)) {
            bool progress = false;
            {
                std::lock_guard lock(topics_mutex_);
                const std::uint64_t now_ns = detail::monotonic_ns();
                const std::int64_t now_ms = wall_ms();
                for (auto& [n, t] : topics_)
                    for (auto& p : t->partitions)
                        progress |= spill_one(*p, now_ns, now_ms);
                if (now_ms - last_retention_ms_ >= broker_.retention_check_interval_ms) {
                    last_retention_ms_ = now_ms;
                    for (auto& [n, t] : topics_)
                        for (auto& p : t->partitions)
                            p->log->apply_retention(now_ms);
                }
            }
            if (progress) continue;
            // Nothing due: sleep rather than poll. Every pass reads each ring's claim line, and
            // polling it would pull that line away from the producers on every claim (and steal
            // their core on a small machine). Producers are granted half a ring ahead, so 1 ms
            // naps are inside their headroom; a blocked producer rings the doorbell at once, and
            // a batch lingers 2 ms anyway.
            const std::uint32_t seq = control_->doorbell.seq.load();
            control_->doorbell.sleeping.store(1, std::memory_order_seq_cst);
            detail::futex_wait(&control_->doorbell.seq, seq, idle_nap);
            control_->doorbell.sleeping.store(0, std::memory_order_relaxed);
        }
    }

    bool spill_one(Partition& p, std::uint64_t now_ns, std::int64_t now_ms) {
        ring::RingHeader& h = p.ring.header();
        // Relaxed: a hint; the records themselves are read through the ring's own ordering.
        bool progress = p.flush_requested.exchange(false, std::memory_order_relaxed) &&
                        p.spill->write_now(now_ns, now_ms);
        progress = p.spill->step(now_ns, now_ms) || progress;
        if (!progress) p.log->maybe_flush(now_ms);  // flush.ms also applies to an idle partition
        std::lock_guard pl(p.mutex);
        std::uint64_t base = p.spill->cursor().position;
        ring::ReaderSlot* bottleneck = nullptr;
        for (auto& s : h.readers)
            if (s.state.load(std::memory_order_acquire) ==
                std::uint32_t(ring::ReaderSlotState::attached)) {
                const std::uint64_t pos = s.position.load(std::memory_order_acquire);
                if (pos < base) {
                    base = pos;
                    bottleneck = &s;
                }
            }
        if (detach_if_holding_too_long(p, bottleneck)) return true;
        // Grant producers half a ring beyond the tail, not everything the gate allows: the other
        // half keeps recent history intact, so a consumer can still attach at "beginning".
        const std::uint64_t tail = ring::load_tail(h);
        const std::uint64_t limit =
            std::min(base + p.ring.capacity(), tail + p.ring.capacity() / 2);
        const std::uint64_t granted = h.limit.producer_limit.load(std::memory_order_relaxed);
        const bool blocked = h.limit.blocked_producers.load(std::memory_order_seq_cst) != 0;
        // Grant in steps of an eighth of the ring (or at once to a waiting producer): the limit
        // shares nothing with the claim line, but a new one every pass would keep this loop
        // chasing the tail, and the tail's cache line away from the producers.
        if (limit > granted && (blocked || limit - granted >= p.ring.capacity() / 8)) {
            // Release: producers that see the new limit see our reads of the old bytes done.
            h.limit.producer_limit.store(limit, std::memory_order_seq_cst);
            if (blocked) {
                h.limit.limit_seq.fetch_add(1, std::memory_order_release);
                detail::futex_wake_all(&h.limit.limit_seq);
                progress = true;
            }
        }
        return progress;
    }

    // Invariant 5: a consumer holding a batch may stop producers only for hold_timeout_ms.
    // Detaching it (state first, then a higher limit) means its next poll reports the batch
    // invalidated; it is never handed bytes a producer reused.
    bool detach_if_holding_too_long(Partition& p, ring::ReaderSlot* bottleneck) {
        ring::RingHeader& h = p.ring.header();
        const std::uint64_t now = detail::monotonic_ns();
        // Blocked producers wake every few ms to retry, so "blocked" is judged over a short window.
        if (h.limit.blocked_producers.load(std::memory_order_seq_cst) != 0) p.blocked_seen_ns = now;
        const bool producers_blocked = now - p.blocked_seen_ns < 50'000'000;
        if (bottleneck == nullptr || !producers_blocked) {
            p.blocked_since_ns = 0;
            return false;
        }
        if (p.blocked_slot != bottleneck || p.blocked_since_ns == 0) {
            p.blocked_slot = bottleneck;
            p.blocked_since_ns = now;
            return false;
        }
        if (now - p.blocked_since_ns < std::uint64_t(p.hold_timeout_ms) * 1'000'000) return false;
        // An orphan (its daemon restarted and no client adopted it) is freed outright.
        bottleneck->state.store(std::uint32_t(bottleneck->owner_connection == orphan_owner
                                                  ? ring::ReaderSlotState::free
                                                  : ring::ReaderSlotState::detached),
                                std::memory_order_seq_cst);
        log_line("WARN", "detached a consumer of partition " + std::to_string(h.info.partition) +
                             " that held producers back for more than consumer.hold.timeout.ms (" +
                             std::to_string(p.hold_timeout_ms) + " ms)");
        p.blocked_since_ns = 0;
        return true;  // the next pass computes the limit without it
    }

    // Everything committed to a ring goes to disk and is synced before the rings go away. A ring
    // whose records could not be written (disk full) is left in shared memory, as after a crash:
    // the next start re-attaches it and spills them. Returns false then (no clean-shutdown mark).
    [[nodiscard]] bool shutdown() {
        bool all_drained = true;
        persist_slot_commits();  // the slots go with the rings
        for (auto& [n, t] : topics_)
            for (std::size_t i = 0; i < t->partitions.size(); ++i)
                if (drain_to_disk(*t->partitions[i]))
                    SharedMapping::remove(t->meta.ring_shm_prefix + "." + std::to_string(i));
                else
                    all_drained = false;
        if (all_drained) SharedMapping::remove(loc_.control_shm_name());
        ::unlink(loc_.socket_path().c_str());
        ::close(listen_fd_);
        return all_drained;
    }

    bool drain_to_disk(Partition& p) {
        bool drained = p.spill->drain(detail::monotonic_ns(), wall_ms());
        try {
            p.log->maybe_flush(wall_ms(), true);
        } catch (const std::exception& e) {
            log_line("ERROR", e.what());
            drained = false;
        }
        if (!drained)
            log_line("ERROR", "shutdown: the records of " + p.log->dir() +
                                  " could not all be written; its ring is kept in shared memory "
                                  "for the next start to spill");
        return drained;
    }

    BusLocation loc_;
    config::BrokerConfig broker_;
    int lock_fd_ = -1;
    int listen_fd_ = -1;
    std::atomic<std::uint32_t> connection_count_{0};  // for the stats
    kbusd::MetricsServer metrics_;
    std::unique_ptr<kbusd::KafkaListener> kafka_;
    SharedMapping control_mapping_;
    control::ControlSegment* control_ = nullptr;
    std::mutex topics_mutex_;
    std::map<std::string, std::unique_ptr<Topic>> topics_;
    std::vector<std::unique_ptr<Topic>> retired_;
    std::unique_ptr<groups::OffsetStore> offsets_;
    std::unique_ptr<groups::GroupCoordinator> groups_;
    std::uint64_t next_topic_id_ = 1;
    std::int64_t last_retention_ms_ = wall_ms();
};

void on_signal(int) {
    g_stop.store(true);
}

}  // namespace

namespace {

constexpr const char* usage =
    "usage: kbusd [--bus NAME] [--run-dir DIR] [--data-dir DIR] [--config FILE] "
    "[--override key=value]...\n"
    "  --bus NAME            bus to serve (default: $KBUS_BUS, else 'default')\n"
    "  --run-dir DIR         socket and lock directory (default: $KBUS_RUN_DIR, else per user)\n"
    "  --data-dir DIR        topics and log segments (default: log.dirs, $KBUS_DATA_DIR, per "
    "user)\n"
    "  --config FILE         Kafka-style properties file (log.dirs, log.retention.hours, ...)\n"
    "  --override key=value  a property on top of the file (repeatable)\n"
    "  --version             kbusd's version\n";

struct Options {
    BusLocationOverrides location;
    std::vector<config::Property> properties;
};

// Flags win over the config file, which wins over the environment.
BusLocationOverrides merged_location(const Options& o, const config::BrokerConfig& broker) {
    BusLocationOverrides l = o.location;
    if (!l.bus) l.bus = broker.bus;
    if (!l.run_dir) l.run_dir = broker.run_dir;
    if (!l.data_dir) l.data_dir = broker.data_dir;
    return l;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    std::optional<std::string> config_file;
    std::vector<config::Property> overrides;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "kbusd: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        try {
            if (a == "--bus")
                o.location.bus = value();
            else if (a == "--run-dir")
                o.location.run_dir = value();
            else if (a == "--data-dir")
                o.location.data_dir = value();
            else if (a == "--config")
                config_file = value();
            else if (a == "--override")
                overrides.push_back(config::parse_override(value()));
            else if (a == "--help" || a == "-h") {
                std::fputs(usage, stdout);
                return 0;
            } else if (a == "--version") {
                std::printf("kbusd %s\n", KBUS_VERSION);
                return 0;
            } else {
                std::fprintf(stderr, "kbusd: unknown argument '%s' (see --help)\n", a.c_str());
                return 2;
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "kbusd: %s\n", e.what());
            return 2;
        }
    }
    config::BrokerConfig broker;
    BusLocation location;
    try {
        if (config_file) o.properties = config::read_properties_file(*config_file);
        o.properties.insert(o.properties.end(), overrides.begin(), overrides.end());
        broker = config::make_broker_config(o.properties);
        location = kbus::resolve_bus_location(merged_location(o, broker));
        security::AccessPolicy access;
        if (broker.group) access.group = security::resolve_group(*broker.group);
        security::set_access_policy(access);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kbusd: %s\n", e.what());
        return 2;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGXFSZ, SIG_IGN);  // a file size limit fails the write (EFBIG); the spill retries
    try {
        return Daemon(std::move(location), std::move(broker)).run();
    } catch (const std::exception& e) {
        log_line("ERROR", e.what());
        return 1;
    }
}
