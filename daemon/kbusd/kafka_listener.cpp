#include "kafka_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "kbus/error.hpp"
#include "tcp_listen.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

// A connection stops reading requests while this much of its responses waits to be sent: a
// client that does not read stalls itself, never the listener.
constexpr std::uint64_t max_queued_response_bytes = 64u << 20;
// Received and not yet served, beyond the request at the front.
constexpr std::size_t read_ahead_bytes = 4u << 20;
// How often parked requests are tried again (a fetch waiting for the spill, a join).
constexpr int park_poll_ms = 1;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

KafkaError error_of(const kbus::Error& e) {
    return kafka_error_of(e.code());
}

}  // namespace

KafkaListener::KafkaListener(KafkaBackend& backend, KafkaListenerOptions options, Log log)
    : backend_(backend), options_(std::move(options)), log_(std::move(log)) {}

std::uint16_t KafkaListener::start() {
    // listeners=PLAINTEXT://:9092 (no host) means every address, as in Kafka.
    const std::string host = options_.bind_host.empty() ? "0.0.0.0" : options_.bind_host;
    const TcpListening l = listen_tcp(host, options_.port, SOCK_NONBLOCK, 128, "listeners",
                                      "cannot listen for Kafka clients on");
    listen_fd_ = l.fd;
    const std::uint16_t port = l.port;
    if (options_.advertised_host.empty())
        options_.advertised_host = options_.bind_host.empty() ? "127.0.0.1" : options_.bind_host;
    if (options_.advertised_port < 0) options_.advertised_port = port;

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    thread_ = std::thread([this] { run(); });
    return port;
}

void KafkaListener::stop() {
    stopping_.store(true, std::memory_order_relaxed);
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, c] : connections_)
        ::close(fd);
    connections_.clear();
    for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
}

void KafkaListener::run() {
    epoll_event events[64];
    while (!stopping_.load(std::memory_order_relaxed)) {
        bool any_parked = false;
        for (auto& [fd, c] : connections_)
            any_parked = any_parked || c->parked.has_value();
        const int n = ::epoll_wait(epoll_fd_, events, 64, any_parked ? park_poll_ms : 100);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listen_fd_) {
                accept_all();
                continue;
            }
            if (fd == wake_fd_) continue;
            const auto it = connections_.find(fd);
            if (it == connections_.end()) continue;
            KafkaConnection& c = *it->second;
            if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                close(c, "");  // reset or hung up: nothing can be sent back
                continue;
            }
            if (events[i].events & EPOLLIN) on_readable(c);
            if (c.fd >= 0 && (events[i].events & EPOLLOUT)) on_writable(c);
        }
        // Parked requests try again (their wait may be over), and a connection freed of its
        // backlog takes up the requests it had read ahead.
        const std::int64_t now = wall_ms();
        for (auto& [fd, c] : connections_)
            if (c->fd >= 0 && !c->closing && (c->parked || !c->in.empty())) {
                serve_requests(*c, now);
                if (c->fd >= 0) on_writable(*c);
            }
        std::erase_if(connections_, [](const auto& kv) { return kv.second->fd < 0; });
    }
}

void KafkaListener::accept_all() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<KafkaConnection>();
        c->fd = fd;
        c->id = next_connection_id_++;
        epoll_event ev{};
        ev.events = c->epoll_events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        connections_[fd] = std::move(c);
    }
}

void KafkaListener::on_readable(KafkaConnection& c) {
    if (c.closing) return;
    char buf[64 * 1024];
    for (;;) {
        // Read ahead only so far: beyond it the kernel's buffer holds the client back.
        std::size_t wanted = read_ahead_bytes;
        if (c.in.size() >= frame_size_bytes) {
            const std::int32_t size = kbus::detail::load_be<std::int32_t>(c.in.data());
            if (size > 0) wanted = std::max(wanted, std::size_t(size) + frame_size_bytes);
        }
        if (c.in.size() >= wanted) break;
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c.in.append(buf, std::size_t(n));
            continue;
        }
        if (n == 0) return close(c, "");  // the client went away (perhaps mid-request)
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return close(c, std::string("receive failed: ") + std::strerror(errno));
    }
    serve_requests(c, wall_ms());
    if (c.fd >= 0) on_writable(c);
}

void KafkaListener::on_writable(KafkaConnection& c) {
    while (!c.out.empty()) {
        auto& front = c.out.front();
        ssize_t n = 0;
        std::uint64_t left = 0;
        if (auto* bytes = std::get_if<std::string>(&front)) {
            left = bytes->size() - c.sent_in_front;
            n = ::send(c.fd, bytes->data() + c.sent_in_front, left, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            const FileExtent& e = std::get<FileExtent>(front);
            left = e.length - c.sent_in_front;
            off_t at = off_t(e.position + c.sent_in_front);
            n = ::sendfile(c.fd, *e.fd, &at, std::min<std::uint64_t>(left, 1u << 30));
            // A segment cut shorter than the extent the response promised: the frame cannot
            // be completed, so the connection must go (the client retries elsewhere).
            if (n == 0) return close(c, "segment shorter than its extent");
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return close(c, std::string("send failed: ") + std::strerror(errno));
        }
        c.out_bytes -= std::uint64_t(n);
        c.sent_in_front += std::uint64_t(n);
        if (std::uint64_t(n) == left) {
            c.out.pop_front();
            c.sent_in_front = 0;
        }
    }
    if (c.closing && c.out.empty()) return close(c, "");
    update_interest(c);
}

void KafkaListener::update_interest(KafkaConnection& c) {
    std::uint32_t wanted = 0;
    const bool accepting = !c.parked && c.out_bytes < max_queued_response_bytes;
    if (!c.closing && (accepting || c.in.size() < read_ahead_bytes)) wanted |= EPOLLIN;
    if (!c.out.empty()) wanted |= EPOLLOUT;
    if (wanted == c.epoll_events) return;
    epoll_event ev{};
    ev.events = c.epoll_events = wanted;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void KafkaListener::close_after_answers(KafkaConnection& c, const std::string& why) {
    log_("WARN", "Kafka connection " + std::to_string(c.id) + ": " + why + ", closing");
    c.closing = true;
    c.parked.reset();
    c.in.clear();
}

void KafkaListener::close(KafkaConnection& c, const std::string& why) {
    if (c.fd < 0) return;
    if (!why.empty())
        log_("WARN", "Kafka connection " + std::to_string(c.id) + ": " + why + ", closing");
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.parked.reset();
}

// Serves the complete frames at the front of `in`, in order, until one parks or the response
// backlog is full.
void KafkaListener::serve_requests(KafkaConnection& c, std::int64_t now_ms) {
    std::size_t used = 0;
    while (c.fd >= 0 && !c.closing && c.out_bytes < max_queued_response_bytes) {
        const std::string_view rest = std::string_view(c.in).substr(used);
        if (rest.size() < frame_size_bytes) break;
        const std::int32_t size = kbus::detail::load_be<std::int32_t>(rest.data());
        if (size < 8 || size > options_.max_request_bytes) {
            // Framing that cannot be trusted: nothing after it can be found.
            close_after_answers(c, "request frame of " + std::to_string(size) +
                                       " bytes (socket.request.max.bytes is " +
                                       std::to_string(options_.max_request_bytes) + ")");
            return;
        }
        if (rest.size() < frame_size_bytes + std::size_t(size)) break;
        WireReader frame(rest.substr(frame_size_bytes, std::size_t(size)));
        RequestHeader h;
        bool done = true;
        try {
            h = RequestHeader::read(frame);
        } catch (const KafkaDecodeError& e) {
            close_after_answers(c, std::string("malformed request header: ") + e.what());
            return;
        }
        try {
            done = serve(c, h, frame, now_ms);
        } catch (const KafkaDecodeError& e) {
            // A body that does not parse: Kafka closes the connection, and so do we (the client
            // then knows the request failed, rather than waiting for an answer forever).
            close_after_answers(c, "malformed " + std::to_string(h.api_key) + " v" +
                                       std::to_string(h.api_version) + " request: " + e.what());
            return;
        }
        if (!done) break;  // parked: it stays at the front
        c.parked.reset();
        used += frame_size_bytes + std::size_t(size);
    }
    if (c.fd >= 0 && !c.closing) c.in.erase(0, used);
}

void KafkaListener::respond(KafkaConnection& c, const RequestHeader& h, ResponseBuilder& body) {
    WireWriter head;
    head.i32(std::int32_t(4 + body.size()));
    head.i32(h.correlation_id);
    std::vector<std::variant<std::string, FileExtent>> pieces;
    pieces.emplace_back(std::move(head.buffer()));
    c.queue(std::move(pieces));
    c.queue(body.finish());
}

bool KafkaListener::serve(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                          std::int64_t now_ms) {
    if (h.api_key == std::int16_t(ApiKey::api_versions)) {
        ResponseBuilder out;
        ApiVersionsResponse r;
        if (!is_supported(h.api_key, h.api_version)) {
            r.error = KafkaError::unsupported_version;
            r.only_api_versions = true;
        }
        r.write(out.bytes(), r.only_api_versions ? 0 : h.api_version);
        respond(c, h, out);
        return true;
    }
    if (!is_supported(h.api_key, h.api_version)) {
        // The body's layout is unknown: the error code alone, as Kafka answers what it cannot
        // parse. Clients only send what ApiVersions advertised, so this is a misbehaving one.
        log_("WARN", "Kafka connection " + std::to_string(c.id) + ": API " +
                         std::to_string(h.api_key) + " v" + std::to_string(h.api_version) +
                         " is not served (UNSUPPORTED_VERSION)");
        respond_with(c, h, ErrorOnlyResponse{KafkaError::unsupported_version});
        return true;
    }
    switch (ApiKey(h.api_key)) {
        case ApiKey::produce:
            return produce(c, h, body, now_ms);
        case ApiKey::fetch:
            return fetch(c, h, body, now_ms);
        case ApiKey::join_group:
            return join_group(c, h, body, now_ms);
        case ApiKey::sync_group:
            return sync_group(c, h, body, now_ms);
        case ApiKey::metadata:
            metadata(c, h, body);
            return true;
        case ApiKey::list_offsets:
            list_offsets(c, h, body);
            return true;
        case ApiKey::offset_commit:
            offset_commit(c, h, body);
            return true;
        case ApiKey::offset_fetch:
            offset_fetch(c, h, body);
            return true;
        case ApiKey::create_topics:
            create_topics(c, h, body);
            return true;
        case ApiKey::delete_topics:
            delete_topics(c, h, body);
            return true;
        case ApiKey::find_coordinator: {
            (void)body.string();  // the group: this broker coordinates every group
            FindCoordinatorResponse r;
            r.host = options_.advertised_host;
            r.port = options_.advertised_port;
            respond_with(c, h, r);
            return true;
        }
        case ApiKey::heartbeat: {
            const HeartbeatRequest q = HeartbeatRequest::read(body, h.api_version);
            answer_error_only(c, h,
                              [&] { backend_.heartbeat(q.group, q.generation, q.member_id); });
            return true;
        }
        case ApiKey::leave_group: {
            const LeaveGroupRequest q = LeaveGroupRequest::read(body, h.api_version);
            answer_error_only(c, h, [&] { backend_.leave(q.group, q.member_id); });
            return true;
        }
        case ApiKey::api_versions:
            break;
    }
    return true;
}

void KafkaListener::metadata(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const MetadataRequest q = MetadataRequest::read(body, h.api_version);
    MetadataResponse r;
    r.host = options_.advertised_host;
    r.port = options_.advertised_port;
    r.cluster_id = options_.cluster_id;
    std::vector<std::pair<std::string, std::optional<std::int32_t>>> found;
    try {
        found = backend_.topics(q.topics, q.allow_auto_topic_creation);
    } catch (const kbus::Error&) {
        // A bad name among them: answer each name on its own.
        for (const std::string& name : q.topics.value_or(std::vector<std::string>{})) {
            try {
                const auto one =
                    backend_.topics(std::vector<std::string>{name}, q.allow_auto_topic_creation);
                found.insert(found.end(), one.begin(), one.end());
            } catch (const kbus::Error&) {
                MetadataResponse::Topic t;
                t.name = name;
                t.error = KafkaError::invalid_topic;
                r.topics.push_back(std::move(t));
            }
        }
    }
    for (const auto& [name, partitions] : found) {
        MetadataResponse::Topic t;
        t.name = name;
        if (!partitions) t.error = KafkaError::unknown_topic_or_partition;
        for (std::int32_t p = 0; p < partitions.value_or(0); ++p)
            t.partitions.push_back({KafkaError::none, p});
        r.topics.push_back(std::move(t));
    }
    respond_with(c, h, r);
}

// One partition of a Produce: its result, or nothing while its ring is full and the request may
// still wait (until its timeout) for the spill or a slow consumer to move.
std::optional<ProduceResponse::Partition> KafkaListener::produce_partition(
    const ProduceRequest& q, const std::string& topic, const ProduceRequest::Partition& p,
    bool may_wait) {
    ProduceResponse::Partition result;
    result.index = p.index;
    try {
        if (!q.transactional_id && (q.acks < -1 || q.acks > 1)) {
            result.error = KafkaError::invalid_required_acks;
        } else if (q.transactional_id) {
            result.error = KafkaError::invalid_request;  // no transactions here
        } else if (!p.records) {
            result.error = KafkaError::corrupt_message;
        } else if (const DecodeResult d =
                       decoder_.decode(*p.records, backend_.max_record_bytes(topic));
                   d.error != KafkaError::none) {
            result.error = d.error;
            log_("WARN", "Kafka produce to " + topic + "-" + std::to_string(p.index) +
                             " refused: " + d.message);
        } else {
            const ProduceOutcome o = backend_.produce(topic, p.index, decoder_);
            switch (o.status) {
                case ProduceStatus::appended:
                    result.base_offset = o.base_offset;
                    result.log_append_time_ms = o.log_append_time_ms;
                    result.log_start_offset = o.log_start_offset;
                    break;
                case ProduceStatus::too_large:
                    result.error = KafkaError::record_list_too_large;
                    break;
                case ProduceStatus::unknown_partition:
                    result.error = KafkaError::unknown_topic_or_partition;
                    break;
                case ProduceStatus::full:
                    if (may_wait) return std::nullopt;
                    result.error = KafkaError::request_timed_out;
                    break;
            }
        }
    } catch (const kbus::Error& e) {
        result.error = error_of(e);
    }
    return result;
}

bool KafkaListener::produce(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                            std::int64_t now_ms) {
    const ProduceRequest q = ProduceRequest::read(body, h.api_version);
    std::size_t count = 0;
    for (const auto& t : q.topics)
        count += t.partitions.size();
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + std::max(q.timeout_ms, 0);
        c.parked->produced.resize(count);
    }
    ParkedRequest& state = *c.parked;
    if (state.produced.size() != count) throw KafkaDecodeError("request changed while parked");
    bool waiting = false;
    std::size_t i = 0;
    ProduceResponse r;
    for (const auto& t : q.topics) {
        auto& results = r.topics.emplace_back(t.name, std::vector<ProduceResponse::Partition>{});
        for (const auto& p : t.partitions) {
            auto& done = state.produced[i++];
            if (!done) done = produce_partition(q, t.name, p, now_ms < state.deadline_ms);
            if (done)
                results.second.push_back(*done);
            else
                waiting = true;
        }
    }
    if (waiting) return false;
    if (q.acks == 0) return true;  // acks=0: the client expects no answer at all
    respond_with(c, h, r);
    return true;
}

bool KafkaListener::fetch(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                          std::int64_t now_ms) {
    const FetchRequest q = FetchRequest::read(body, h.api_version);
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + std::clamp(q.max_wait_ms, 0, 60'000);
    }
    struct Part {
        FetchPartitionHeader header;
        std::optional<FileExtent> extent;
    };
    std::vector<std::pair<const std::string*, std::vector<Part>>> topics;
    std::uint64_t total = 0;
    bool any_error = false;
    const std::uint64_t response_max = std::uint64_t(std::max(q.max_bytes, 1));
    for (const auto& t : q.topics) {
        auto& parts = topics.emplace_back(&t.name, std::vector<Part>{}).second;
        for (const auto& p : t.partitions) {
            Part part;
            part.header.index = p.index;
            const std::uint64_t room = total >= response_max ? 0 : response_max - total;
            try {
                if (p.max_bytes <= 0) {
                    part.header.error = KafkaError::invalid_fetch_size;
                } else if (room > 0 || total == 0) {
                    const std::uint32_t max_bytes = std::uint32_t(
                        std::min<std::uint64_t>({std::uint64_t(p.max_bytes), room, 1u << 30}));
                    PartitionRead read = backend_.read(t.name, p.index, p.fetch_offset,
                                                       std::max<std::uint32_t>(max_bytes, 1));
                    part.header.high_watermark = read.high_watermark;
                    part.header.log_start_offset = read.log_start_offset;
                    if (read.extent) {
                        total += read.extent->length;
                        part.extent = std::move(read.extent);
                    }
                }
            } catch (const kbus::Error& e) {
                part.header.error = error_of(e);
            }
            any_error = any_error || part.header.error != KafkaError::none;
            parts.push_back(std::move(part));
        }
    }
    // Long poll: wait for min_bytes (or for anything, when it asks for at least one) until the
    // request's max wait, unless something needs telling now.
    if (!any_error && total < std::uint64_t(std::max(q.min_bytes, 1)) &&
        now_ms < c.parked->deadline_ms)
        return false;
    ResponseBuilder out;
    WireWriter& w = out.bytes();
    w.i32(0);  // throttle_time_ms
    w.array_count(topics.size());
    for (auto& [name, parts] : topics) {
        out.bytes().string(*name);
        out.bytes().array_count(parts.size());
        for (Part& part : parts) {
            const std::uint64_t length = part.extent ? part.extent->length : 0;
            part.header.write(out.bytes(), h.api_version, std::int32_t(length));
            if (part.extent) out.file(std::move(*part.extent));
        }
    }
    respond(c, h, out);
    return true;
}

void KafkaListener::list_offsets(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const ListOffsetsRequest q = ListOffsetsRequest::read(body, h.api_version);
    ListOffsetsResponse r;
    for (const auto& [name, partitions] : q.topics) {
        auto& results = r.topics.emplace_back(name, std::vector<ListOffsetsResponse::Partition>{});
        for (const auto& p : partitions) {
            ListOffsetsResponse::Partition result;
            result.index = p.index;
            try {
                if (const auto o = backend_.offset_for(name, p.index, p.timestamp)) {
                    result.offset = *o;
                    if (p.timestamp >= 0) result.timestamp = p.timestamp;
                }
            } catch (const kbus::Error& e) {
                result.error = error_of(e);
            }
            results.second.push_back(result);
        }
    }
    respond_with(c, h, r);
}

bool KafkaListener::join_group(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                               std::int64_t now_ms) {
    const JoinGroupRequest q = JoinGroupRequest::read(body, h.api_version);
    if (!c.parked) {
        c.parked.emplace();
        c.parked->member_id = q.member_id;
        // A join waits for the group's other members; rebalance.timeout.ms bounds it (v1+),
        // else the session timeout, as in Kafka.
        const std::int32_t wait =
            q.rebalance_timeout_ms > 0 ? q.rebalance_timeout_ms : q.session_timeout_ms;
        c.parked->deadline_ms = now_ms + std::clamp(wait, 0, 300'000);
    }
    JoinGroupResponse r;
    try {
        kbus::group::JoinGroupRequest j;
        j.group = q.group;
        j.member_id = c.parked->member_id;
        j.client_id = h.client_id.value_or("kafka");
        j.session_timeout_ms = q.session_timeout_ms;
        j.protocol_type = q.protocol_type;
        for (const auto& [name, metadata] : q.protocols)
            j.protocols.push_back({name, metadata});
        const kbus::group::JoinGroupReply reply = backend_.join(j);
        c.parked->member_id = reply.member_id;
        if (reply.pending) {
            if (now_ms < c.parked->deadline_ms) return false;
            r.error = KafkaError::rebalance_in_progress;
            r.member_id = reply.member_id;
        } else {
            r.generation = reply.generation;
            r.protocol = reply.protocol;
            r.leader = reply.leader;
            r.member_id = reply.member_id;
            r.members = reply.members;
        }
    } catch (const kbus::Error& e) {
        r.error = e.code() == kbus::ErrorCode::invalid_argument
                      ? KafkaError::invalid_session_timeout
                      : error_of(e);
        r.member_id = q.member_id;
    }
    respond_with(c, h, r);
    return true;
}

bool KafkaListener::sync_group(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                               std::int64_t now_ms) {
    const SyncGroupRequest q = SyncGroupRequest::read(body, h.api_version);
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + 60'000;  // the leader's sync, or the group's deadline
    }
    SyncGroupResponse r;
    try {
        kbus::group::SyncGroupRequest s;
        s.group = q.group;
        s.generation = q.generation;
        s.member_id = q.member_id;
        s.assignments = q.assignments;
        const std::optional<std::string> assignment = backend_.sync(s);
        if (!assignment) {
            if (now_ms < c.parked->deadline_ms) return false;
            r.error = KafkaError::rebalance_in_progress;
        } else {
            r.assignment = *assignment;
        }
    } catch (const kbus::Error& e) {
        r.error = error_of(e);
    }
    respond_with(c, h, r);
    return true;
}

void KafkaListener::offset_commit(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const OffsetCommitRequest q = OffsetCommitRequest::read(body, h.api_version);
    std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>> offsets;
    for (const auto& [name, partitions] : q.topics)
        for (const auto& p : partitions)
            offsets.push_back({{name, p.index}, p.offset});
    KafkaError error = KafkaError::none;
    try {
        backend_.commit(q.group, q.generation, q.member_id, offsets);
    } catch (const kbus::Error& e) {
        error = error_of(e);
    }
    // All or nothing, as the coordinator commits: one error for every partition.
    PartitionErrorsResponse r;
    for (const auto& [name, partitions] : q.topics) {
        auto& errors =
            r.topics.emplace_back(name, std::vector<std::pair<std::int32_t, KafkaError>>{});
        for (const auto& p : partitions)
            errors.second.emplace_back(p.index, error);
    }
    respond_with(c, h, r);
}

void KafkaListener::offset_fetch(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const OffsetFetchRequest q = OffsetFetchRequest::read(body, h.api_version);
    OffsetFetchResponse r;
    for (const auto& [name, partitions] : q.topics) {
        auto& results = r.topics.emplace_back(name, std::vector<OffsetFetchResponse::Partition>{});
        for (const std::int32_t p : partitions) {
            OffsetFetchResponse::Partition result;
            result.index = p;
            try {
                result.offset = backend_.committed(q.group, {name, p}).value_or(-1);
            } catch (const kbus::Error& e) {
                result.error = error_of(e);
            }
            results.second.push_back(result);
        }
    }
    respond_with(c, h, r);
}

void KafkaListener::create_topics(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const CreateTopicsRequest q = CreateTopicsRequest::read(body, h.api_version);
    TopicErrorsResponse r;
    for (const auto& t : q.topics) {
        TopicErrorsResponse::Topic result;
        result.name = t.name;
        if (t.replication_factor != -1 && t.replication_factor != 1) {
            result.error = KafkaError::invalid_replication_factor;
            result.message = "one broker: replication.factor must be 1";
        } else if (t.has_assignments) {
            result.error = KafkaError::invalid_replica_assignment;
            result.message = "replica assignments are not supported";
        } else if (t.null_config_value) {
            result.error = KafkaError::invalid_config;
            result.message = "a config without a value";
        } else {
            try {
                backend_.create_topic(t.name, t.num_partitions, t.configs, q.validate_only);
            } catch (const kbus::Error& e) {
                result.message = e.what();
                switch (e.code()) {
                    case kbus::ErrorCode::topic_exists:
                        result.error = KafkaError::topic_already_exists;
                        break;
                    case kbus::ErrorCode::invalid_argument:
                        result.error = result.message.find("partitions") != std::string::npos
                                           ? KafkaError::invalid_partitions
                                       : result.message.find("name") != std::string::npos
                                           ? KafkaError::invalid_topic
                                           : KafkaError::invalid_config;
                        break;
                    default:
                        result.error = error_of(e);
                }
            }
        }
        r.topics.push_back(std::move(result));
    }
    ResponseBuilder out;
    r.write_create(out.bytes(), h.api_version);
    respond(c, h, out);
}

void KafkaListener::delete_topics(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    const DeleteTopicsRequest q = DeleteTopicsRequest::read(body, h.api_version);
    TopicErrorsResponse r;
    for (const std::string& name : q.names) {
        TopicErrorsResponse::Topic result;
        result.name = name;
        try {
            backend_.delete_topic(name);
        } catch (const kbus::Error& e) {
            result.error = error_of(e);
        }
        r.topics.push_back(std::move(result));
    }
    ResponseBuilder out;
    r.write_delete(out.bytes(), h.api_version);
    respond(c, h, out);
}

}  // namespace kbusd
