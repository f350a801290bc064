#include "kafka/kafka_messages.hpp"

namespace kbus::kafka {
namespace {

// The smallest encodings of array elements, for WireReader::array_count's plausibility check.
constexpr std::size_t min_string = 2, min_i32 = 4;

void write_error(WireWriter& w, KafkaError e) {
    w.i16(std::int16_t(e));
}

// Kafka nests every per-partition list in its topics: [string name, [partition]]. Topics are
// pairs or two-field structs (name, partitions) alike.
template <typename Topics, typename ReadPartition>
void read_by_topic(WireReader& r, Topics& topics, std::size_t min_partition_bytes,
                   ReadPartition read_partition) {
    topics.resize(std::size_t(r.array_count(min_string + min_i32)));
    for (auto& [name, partitions] : topics) {
        name = r.string();
        partitions.resize(std::size_t(r.array_count(min_partition_bytes)));
        for (auto& p : partitions)
            read_partition(p);
    }
}

template <typename Topics, typename WritePartition>
void write_by_topic(WireWriter& w, const Topics& topics, WritePartition write_partition) {
    w.array_count(topics.size());
    for (const auto& [name, partitions] : topics) {
        w.string(name);
        w.array_count(partitions.size());
        for (const auto& p : partitions)
            write_partition(p);
    }
}

}  // namespace

KafkaError kafka_error_of(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::ok:
            return KafkaError::none;
        case ErrorCode::unknown_topic:
        case ErrorCode::topic_deleted:
        case ErrorCode::partition_out_of_range:
            return KafkaError::unknown_topic_or_partition;
        case ErrorCode::topic_exists:
            return KafkaError::topic_already_exists;
        case ErrorCode::message_too_large:
            return KafkaError::message_too_large;
        case ErrorCode::offset_out_of_range:
            return KafkaError::offset_out_of_range;
        case ErrorCode::protocol_error:
        case ErrorCode::corrupt_record:
            return KafkaError::corrupt_message;
        case ErrorCode::claim_aborted:
            return KafkaError::request_timed_out;
        case ErrorCode::timed_out:
            return KafkaError::request_timed_out;
        case ErrorCode::io_error:
            return KafkaError::kafka_storage_error;
        case ErrorCode::resource_exhausted:
            return KafkaError::policy_violation;
        case ErrorCode::unsupported:
            return KafkaError::unsupported_version;
        case ErrorCode::invalid_group:
            return KafkaError::invalid_group_id;
        case ErrorCode::unknown_member:
            return KafkaError::unknown_member_id;
        case ErrorCode::illegal_generation:
        case ErrorCode::partition_not_assigned:
            return KafkaError::illegal_generation;
        case ErrorCode::rebalance_in_progress:
            return KafkaError::rebalance_in_progress;
        case ErrorCode::group_not_empty:
            return KafkaError::non_empty_group;
        case ErrorCode::inconsistent_protocol:
            return KafkaError::inconsistent_group_protocol;
        case ErrorCode::invalid_argument:
            return KafkaError::invalid_request;
        default:
            return KafkaError::unknown_server_error;
    }
}

void ApiVersionsResponse::write(WireWriter& w, std::int16_t version) const {
    write_error(w, error);
    if (only_api_versions) {
        // Kafka's answer to an ApiVersions version it does not speak: a v0 body with the one
        // range the client needs to retry (librdkafka then retries with v0..2).
        const VersionRange r = *version_range(std::int16_t(ApiKey::api_versions));
        w.array_count(1);
        w.i16(std::int16_t(r.key));
        w.i16(r.min);
        w.i16(r.max);
        return;
    }
    w.array_count(supported_versions.size());
    for (const VersionRange& r : supported_versions) {
        w.i16(std::int16_t(r.key));
        w.i16(r.min);
        w.i16(r.max);
    }
    if (version >= 1) w.i32(0);  // throttle_time_ms
}

MetadataRequest MetadataRequest::read(WireReader& r, std::int16_t version) {
    MetadataRequest m;
    const std::int32_t n = r.array_count(min_string, true);
    if (n >= 0) {
        m.topics.emplace();
        for (std::int32_t i = 0; i < n; ++i)
            m.topics->push_back(r.string());
    }
    if (version >= 4) m.allow_auto_topic_creation = r.boolean();
    return m;
}

void MetadataResponse::write(WireWriter& w, std::int16_t version) const {
    if (version >= 3) w.i32(0);  // throttle_time_ms
    w.array_count(1);            // brokers: this one
    w.i32(node_id);
    w.string(host);
    w.i32(port);
    w.null_string();  // rack
    if (version >= 2) w.string(cluster_id);
    w.i32(node_id);  // controller_id
    w.array_count(topics.size());
    for (const Topic& t : topics) {
        write_error(w, t.error);
        w.string(t.name);
        w.boolean(false);  // is_internal
        w.array_count(t.partitions.size());
        for (const Partition& p : t.partitions) {
            write_error(w, p.error);
            w.i32(p.index);
            w.i32(node_id);  // leader
            w.array_count(1);
            w.i32(node_id);  // replicas
            w.array_count(1);
            w.i32(node_id);  // isr
        }
    }
}

ProduceRequest ProduceRequest::read(WireReader& r, std::int16_t /*version: 3..7 alike*/) {
    ProduceRequest p;
    if (auto id = r.nullable_string()) p.transactional_id = std::string(*id);
    p.acks = r.i16();
    p.timeout_ms = r.i32();
    read_by_topic(r, p.topics, 2 * min_i32, [&](Partition& part) {
        part.index = r.i32();
        part.records = r.nullable_bytes();
    });
    return p;
}

void ProduceResponse::write(WireWriter& w, std::int16_t version) const {
    write_by_topic(w, topics, [&](const Partition& p) {
        w.i32(p.index);
        write_error(w, p.error);
        w.i64(p.base_offset);
        w.i64(p.log_append_time_ms);
        if (version >= 5) w.i64(p.log_start_offset);
    });
    w.i32(0);  // throttle_time_ms
}

FetchRequest FetchRequest::read(WireReader& r, std::int16_t version) {
    FetchRequest f;
    (void)r.i32();  // replica_id: -1 for consumers; there are no followers here
    f.max_wait_ms = r.i32();
    f.min_bytes = r.i32();
    f.max_bytes = r.i32();
    f.isolation_level = r.i8();
    read_by_topic(r, f.topics, 16, [&](Partition& p) {
        p.index = r.i32();
        p.fetch_offset = r.i64();
        if (version >= 5) (void)r.i64();  // log_start_offset: a follower's
        p.max_bytes = r.i32();
    });
    return f;
}

void FetchPartitionHeader::write(WireWriter& w, std::int16_t version,
                                 std::int32_t records_bytes) const {
    w.i32(index);
    write_error(w, error);
    w.i64(high_watermark);
    w.i64(high_watermark);  // last_stable_offset: no transactions, so the high watermark
    if (version >= 5) w.i64(log_start_offset);
    w.array_count(0);  // aborted_transactions
    w.i32(records_bytes);
}

ListOffsetsRequest ListOffsetsRequest::read(WireReader& r, std::int16_t version) {
    ListOffsetsRequest l;
    (void)r.i32();                   // replica_id
    if (version >= 2) (void)r.i8();  // isolation_level: no transactions, both levels agree
    read_by_topic(r, l.topics, 12, [&](Partition& p) {
        p.index = r.i32();
        p.timestamp = r.i64();
    });
    return l;
}

void ListOffsetsResponse::write(WireWriter& w, std::int16_t version) const {
    if (version >= 2) w.i32(0);  // throttle_time_ms
    write_by_topic(w, topics, [&](const Partition& p) {
        w.i32(p.index);
        write_error(w, p.error);
        w.i64(p.timestamp);
        w.i64(p.offset);
    });
}

void FindCoordinatorResponse::write(WireWriter& w, std::int16_t /*version 0*/) const {
    write_error(w, error);
    w.i32(node_id);
    w.string(host);
    w.i32(port);
}

JoinGroupRequest JoinGroupRequest::read(WireReader& r, std::int16_t version) {
    JoinGroupRequest j;
    j.group = r.string();
    j.session_timeout_ms = r.i32();
    if (version >= 1) j.rebalance_timeout_ms = r.i32();
    j.member_id = r.string();
    j.protocol_type = r.string();
    j.protocols.resize(std::size_t(r.array_count(min_string + min_i32)));
    for (auto& [name, metadata] : j.protocols) {
        name = r.string();
        metadata = r.bytes();
    }
    return j;
}

void JoinGroupResponse::write(WireWriter& w, std::int16_t /*version 0..1 alike*/) const {
    write_error(w, error);
    w.i32(generation);
    w.string(protocol);
    w.string(leader);
    w.string(member_id);
    w.array_count(members.size());
    for (const auto& [id, metadata] : members) {
        w.string(id);
        w.bytes(metadata);
    }
}

SyncGroupRequest SyncGroupRequest::read(WireReader& r, std::int16_t /*version 0*/) {
    SyncGroupRequest s;
    s.group = r.string();
    s.generation = r.i32();
    s.member_id = r.string();
    s.assignments.resize(std::size_t(r.array_count(min_string + min_i32)));
    for (auto& [id, assignment] : s.assignments) {
        id = r.string();
        assignment = r.bytes();
    }
    return s;
}

void SyncGroupResponse::write(WireWriter& w, std::int16_t /*version 0*/) const {
    write_error(w, error);
    w.bytes(assignment);
}

HeartbeatRequest HeartbeatRequest::read(WireReader& r, std::int16_t /*version 0*/) {
    HeartbeatRequest h;
    h.group = r.string();
    h.generation = r.i32();
    h.member_id = r.string();
    return h;
}

LeaveGroupRequest LeaveGroupRequest::read(WireReader& r, std::int16_t /*version 0*/) {
    LeaveGroupRequest l;
    l.group = r.string();
    l.member_id = r.string();
    return l;
}

void ErrorOnlyResponse::write(WireWriter& w, std::int16_t /*version 0*/) const {
    write_error(w, error);
}

OffsetCommitRequest OffsetCommitRequest::read(WireReader& r, std::int16_t /*version 2*/) {
    OffsetCommitRequest c;
    c.group = r.string();
    c.generation = r.i32();
    c.member_id = r.string();
    (void)r.i64();  // retention_time_ms: offsets live until the group or topic is deleted
    read_by_topic(r, c.topics, 14, [&](Partition& p) {
        p.index = r.i32();
        p.offset = r.i64();
        (void)r.nullable_string();  // committed metadata: not kept
    });
    return c;
}

void PartitionErrorsResponse::write(WireWriter& w, std::int16_t /*version*/) const {
    write_by_topic(w, topics, [&](const auto& partition) {
        const auto& [index, error] = partition;
        w.i32(index);
        write_error(w, error);
    });
}

OffsetFetchRequest OffsetFetchRequest::read(WireReader& r, std::int16_t /*version 1*/) {
    OffsetFetchRequest f;
    f.group = r.string();
    read_by_topic(r, f.topics, min_i32, [&](std::int32_t& p) { p = r.i32(); });
    return f;
}

void OffsetFetchResponse::write(WireWriter& w, std::int16_t /*version 1*/) const {
    write_by_topic(w, topics, [&](const Partition& p) {
        w.i32(p.index);
        w.i64(p.offset);
        w.string("");  // metadata
        write_error(w, p.error);
    });
}

CreateTopicsRequest CreateTopicsRequest::read(WireReader& r, std::int16_t version) {
    CreateTopicsRequest c;
    c.topics.resize(std::size_t(r.array_count(min_string + 14)));
    for (Topic& t : c.topics) {
        t.name = r.string();
        t.num_partitions = r.i32();
        t.replication_factor = r.i16();
        const std::int32_t assignments = r.array_count(8);
        t.has_assignments = assignments > 0;
        for (std::int32_t i = 0; i < assignments; ++i) {
            (void)r.i32();
            const std::int32_t brokers = r.array_count(min_i32);
            for (std::int32_t b = 0; b < brokers; ++b)
                (void)r.i32();
        }
        const std::int32_t configs = r.array_count(2 * min_string);
        for (std::int32_t i = 0; i < configs; ++i) {
            std::string name = r.string();
            const auto value = r.nullable_string();
            if (!value) {
                t.null_config_value = true;
                continue;
            }
            t.configs.emplace_back(std::move(name), std::string(*value));
        }
    }
    c.timeout_ms = r.i32();
    if (version >= 1) c.validate_only = r.boolean();
    return c;
}

void TopicErrorsResponse::write_create(WireWriter& w, std::int16_t version) const {
    if (version >= 2) w.i32(0);  // throttle_time_ms
    w.array_count(topics.size());
    for (const Topic& t : topics) {
        w.string(t.name);
        write_error(w, t.error);
        if (version >= 1) {
            if (t.error == KafkaError::none)
                w.null_string();
            else
                w.string(t.message);
        }
    }
}

void TopicErrorsResponse::write_delete(WireWriter& w, std::int16_t version) const {
    if (version >= 1) w.i32(0);  // throttle_time_ms
    w.array_count(topics.size());
    for (const Topic& t : topics) {
        w.string(t.name);
        write_error(w, t.error);
    }
}

DeleteTopicsRequest DeleteTopicsRequest::read(WireReader& r, std::int16_t /*version*/) {
    DeleteTopicsRequest d;
    d.names.resize(std::size_t(r.array_count(min_string)));
    for (std::string& n : d.names)
        n = r.string();
    d.timeout_ms = r.i32();
    return d;
}

}  // namespace kbus::kafka
