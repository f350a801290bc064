// The Kafka listener's requests, one function per API (kafka_listener.hpp has the connections
// and the event loop): each reads its request at the header's version, asks the bus through the
// backend, and queues its response.
#include <algorithm>

#include "kafka_listener.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

KafkaError error_of(const kbus::Error& e) {
    return kafka_error_of(e.code());
}

}  // namespace

bool KafkaListener::serve(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                          std::int64_t now_ms) {
    if (h.api_key == std::int16_t(ApiKey::api_versions) ||
        !is_supported(h.api_key, h.api_version)) {
        refuse_or_answer_versions(c, h);
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
        default:
            serve_at_once(c, h, body);
            return true;
    }
}

// ApiVersions, and any API or version not served. ApiVersions of any version gets an answer
// (error 35 and the list, in v0's layout, when the version is beyond ours). Anything else is
// handled as a Kafka broker handles it: its body's layout is unknown, and no client can parse an
// answer it did not expect (a bare error code confused kafka-python and sarama), so the replies
// already due are sent and the connection is closed, with one rate-limited log line.
void KafkaListener::refuse_or_answer_versions(KafkaConnection& c, const RequestHeader& h) {
    if (h.api_key == std::int16_t(ApiKey::api_versions)) {
        ResponseBuilder out;
        ApiVersionsResponse r;
        if (!is_supported(h.api_key, h.api_version)) {
            r.error = KafkaError::unsupported_version;
            r.only_api_versions = true;
        }
        r.write(out.bytes(), r.only_api_versions ? 0 : h.api_version);
        respond(c, h, out);
        return;
    }
    const std::string api =
        "API " + std::to_string(h.api_key) + " v" + std::to_string(h.api_version);
    close_after_answers(c, api + " is not served (UNSUPPORTED_VERSION)");
}

// The requests answered as soon as they are read.
void KafkaListener::serve_at_once(KafkaConnection& c, const RequestHeader& h, WireReader& body) {
    switch (ApiKey(h.api_key)) {
        case ApiKey::metadata:
            return metadata(c, h, body);
        case ApiKey::list_offsets:
            return list_offsets(c, h, body);
        case ApiKey::offset_commit:
            return offset_commit(c, h, body);
        case ApiKey::offset_fetch:
            return offset_fetch(c, h, body);
        case ApiKey::create_topics:
            return create_topics(c, h, body);
        case ApiKey::delete_topics:
            return delete_topics(c, h, body);
        case ApiKey::find_coordinator: {
            (void)body.string();  // the group: this broker coordinates every group
            FindCoordinatorResponse r;
            r.host = options_.advertised_host;
            r.port = options_.advertised_port;
            return respond_with(c, h, r);
        }
        case ApiKey::heartbeat: {
            const HeartbeatRequest q = HeartbeatRequest::read(body, h.api_version);
            return answer_error_only(
                c, h, [&] { backend_.heartbeat(q.group, q.generation, q.member_id); });
        }
        case ApiKey::leave_group: {
            const LeaveGroupRequest q = LeaveGroupRequest::read(body, h.api_version);
            return answer_error_only(c, h, [&] { backend_.leave(q.group, q.member_id); });
        }
        default:
            return;
    }
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
            warn("produce refused " + topic, "Kafka produce to " + topic + "-" +
                                                 std::to_string(p.index) +
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

// One partition of a Fetch: where its batches lie (nothing yet, for a partition the spill has
// not reached), or its error. `room`: what the response may still take.
KafkaListener::FetchPart KafkaListener::fetch_partition(const std::string& topic,
                                                        const FetchRequest::Partition& p,
                                                        std::uint64_t room, bool first) {
    FetchPart part;
    part.header.index = p.index;
    try {
        if (p.max_bytes <= 0) {
            part.header.error = KafkaError::invalid_fetch_size;
        } else if (room > 0 || first) {
            const std::uint32_t max_bytes = std::uint32_t(
                std::min<std::uint64_t>({std::uint64_t(p.max_bytes), room, 1u << 30}));
            PartitionRead read = backend_.read(topic, p.index, p.fetch_offset,
                                               std::max<std::uint32_t>(max_bytes, 1));
            part.header.high_watermark = read.high_watermark;
            part.header.log_start_offset = read.log_start_offset;
            part.extent = std::move(read.extent);
        }
    } catch (const kbus::Error& e) {
        part.header.error = error_of(e);
    }
    return part;
}

bool KafkaListener::fetch(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                          std::int64_t now_ms) {
    const FetchRequest q = FetchRequest::read(body, h.api_version);
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + std::clamp(q.max_wait_ms, 0, 60'000);
    }
    std::vector<std::pair<const std::string*, std::vector<FetchPart>>> topics;
    std::uint64_t total = 0;
    bool any_error = false;
    const std::uint64_t response_max = std::uint64_t(std::max(q.max_bytes, 1));
    for (const auto& t : q.topics) {
        auto& parts = topics.emplace_back(&t.name, std::vector<FetchPart>{}).second;
        for (const auto& p : t.partitions) {
            const std::uint64_t room = total >= response_max ? 0 : response_max - total;
            FetchPart& part = parts.emplace_back(fetch_partition(t.name, p, room, total == 0));
            if (part.extent) total += part.extent->length;
            any_error = any_error || part.header.error != KafkaError::none;
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
        w.string(*name);
        w.array_count(parts.size());
        for (FetchPart& part : parts) {
            const std::uint64_t length = part.extent ? part.extent->length : 0;
            part.header.write(w, h.api_version, std::int32_t(length));
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
