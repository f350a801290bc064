// The Kafka listener's consumer-group requests: the coordinator (this broker, for every group),
// the join/sync/heartbeat/leave protocol, and committed offsets. The groups are the bus's own:
// a Kafka consumer and a shared-memory consumer in one group share its members and commits.
#include <algorithm>
#include <map>

#include "kafka_errors.hpp"
#include "kafka_listener.hpp"
#include "kbus/consumer_protocol.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

// This broker coordinates every group and every transactional id (KeyType 1).
void KafkaListener::find_coordinator(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const auto fill = [&](Value& v) {
        v["NodeId"].set(0);
        v["Host"].set_text(options_.advertised_host);
        v["Port"].set(options_.advertised_port);
    };
    if (q.version() < 4) {
        fill(r);
    } else {
        for (const Value& key : q.body["CoordinatorKeys"].items()) {
            Value& coordinator = r["Coordinators"].add();
            coordinator["Key"].set_text(std::string(key.text()));
            fill(coordinator);
        }
    }
    respond_with(c, q, r);
}

bool KafkaListener::join_group(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms) {
    const Value& b = q.body;
    if (!c.parked) {
        c.parked.emplace();
        c.parked->member_id = std::string(b["MemberId"].text());
        // A join waits for the group's other members; rebalance.timeout.ms bounds it (v1+),
        // else the session timeout, as in Kafka.
        const std::int32_t rebalance = b["RebalanceTimeoutMs"].i32();
        const std::int32_t wait = rebalance > 0 ? rebalance : b["SessionTimeoutMs"].i32();
        c.parked->deadline_ms = now_ms + std::clamp(wait, 0, 300'000);
    }
    Value r = response_of(q);
    r["ProtocolType"].set_text(std::string(b["ProtocolType"].text()));
    try {
        kbus::group::JoinGroupRequest j;
        j.group = b["GroupId"].text();
        j.member_id = c.parked->member_id;
        j.client_id = q.header.client_id.value_or("kafka");
        j.session_timeout_ms = b["SessionTimeoutMs"].i32();
        j.protocol_type = b["ProtocolType"].text();
        for (const Value& p : b["Protocols"].items())
            j.protocols.push_back(
                {std::string(p["Name"].text()), std::string(p["Metadata"].text())});
        const kbus::group::JoinGroupReply reply = backend_.join(j);
        c.parked->member_id = reply.member_id;
        r["MemberId"].set_text(reply.member_id);
        if (reply.pending) {
            if (now_ms < c.parked->deadline_ms) return false;
            set_error(r, KafkaError::rebalance_in_progress);
        } else {
            r["GenerationId"].set(reply.generation);
            r["ProtocolName"].set_text(reply.protocol);
            r["Leader"].set_text(reply.leader);
            for (const auto& [id, metadata] : reply.members) {
                Value& m = r["Members"].add();
                m["MemberId"].set_text(id);
                m["Metadata"].set_text(metadata);
            }
        }
    } catch (const kbus::Error& e) {
        set_error(r, e.code() == kbus::ErrorCode::invalid_argument
                         ? KafkaError::invalid_session_timeout
                         : error_of(e));
        r["MemberId"].set_text(std::string(b["MemberId"].text()));
    }
    respond_with(c, q, r);
    return true;
}

bool KafkaListener::sync_group(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms) {
    const Value& b = q.body;
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + 60'000;  // the leader's sync, or the group's deadline
    }
    Value r = response_of(q);
    // v5+: the group's protocol, as the member knows it (the coordinator agrees or refused it).
    r["ProtocolType"] = b["ProtocolType"];
    r["ProtocolName"] = b["ProtocolName"];
    try {
        kbus::group::SyncGroupRequest s;
        s.group = b["GroupId"].text();
        s.generation = b["GenerationId"].i32();
        s.member_id = b["MemberId"].text();
        for (const Value& a : b["Assignments"].items())
            s.assignments.emplace_back(std::string(a["MemberId"].text()),
                                       std::string(a["Assignment"].text()));
        const std::optional<std::string> assignment = backend_.sync(s);
        if (!assignment) {
            if (now_ms < c.parked->deadline_ms) return false;
            set_error(r, KafkaError::rebalance_in_progress);
        } else {
            r["Assignment"].set_text(*assignment);
        }
    } catch (const kbus::Error& e) {
        set_error(r, error_of(e));
    }
    respond_with(c, q, r);
    return true;
}

void KafkaListener::heartbeat(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    try {
        backend_.heartbeat(std::string(q.body["GroupId"].text()), q.body["GenerationId"].i32(),
                           std::string(q.body["MemberId"].text()));
    } catch (const kbus::Error& e) {
        set_error(r, error_of(e));
    }
    respond_with(c, q, r);
}

// v0-2 leave one member; v3+ a batch of them (KIP-345), each with its own error.
void KafkaListener::leave_group(KafkaConnection& c, const KafkaRequest& q) {
    const std::string group(q.body["GroupId"].text());
    Value r = response_of(q);
    const auto leave = [&](const std::string& member) {
        try {
            backend_.leave(group, member);
            return KafkaError::none;
        } catch (const kbus::Error& e) {
            return error_of(e);
        }
    };
    if (q.version() < 3) {
        set_error(r, leave(std::string(q.body["MemberId"].text())));
    } else {
        for (const Value& m : q.body["Members"].items()) {
            Value& out = r["Members"].add();
            out["MemberId"] = m["MemberId"];
            out["GroupInstanceId"] = m["GroupInstanceId"];
            set_error(out, leave(std::string(m["MemberId"].text())));
        }
    }
    respond_with(c, q, r);
}

// Kafka's offset.metadata.max.bytes: longer commit metadata is refused.
constexpr std::size_t max_commit_metadata_bytes = 4096;

void KafkaListener::offset_commit(KafkaConnection& c, const KafkaRequest& q) {
    const Value& b = q.body;
    std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>> offsets;
    std::map<kbus::group::TopicPartition, std::string> metadata;
    bool too_large = false;
    for (const Value& t : b["Topics"].items())
        for (const Value& p : t["Partitions"].items()) {
            const kbus::group::TopicPartition tp{std::string(t["Name"].text()),
                                                 p["PartitionIndex"].i32()};
            offsets.push_back({tp, p["CommittedOffset"].integer()});
            const std::string_view m = p["CommittedMetadata"].text();
            too_large |= m.size() > max_commit_metadata_bytes;
            if (!m.empty()) metadata[tp] = std::string(m);
        }
    KafkaError error = too_large ? KafkaError::offset_metadata_too_large : KafkaError::none;
    try {
        if (!too_large)
            backend_.commit(std::string(b["GroupId"].text()), b["GenerationIdOrMemberEpoch"].i32(),
                            std::string(b["MemberId"].text()), offsets, metadata);
    } catch (const kbus::Error& e) {
        error = error_of(e);
    }
    // All or nothing, as the coordinator commits: one error for every partition.
    Value r = response_of(q);
    for (const Value& t : b["Topics"].items()) {
        Value& out = r["Topics"].add();
        out["Name"] = t["Name"];
        for (const Value& p : t["Partitions"].items()) {
            Value& result = out["Partitions"].add();
            result["PartitionIndex"] = p["PartitionIndex"];
            set_error(result, error);
        }
    }
    respond_with(c, q, r);
}

// One group's committed offsets into `out` (its topics, as v0-7 and v8+'s groups hold them).
// Null topics (v2+) ask for every partition the group has committed.
void KafkaListener::committed_offsets(const std::string& group, const Value& topics, Value& out) {
    if (topics.is_null()) {
        std::map<std::string, Value*> by_topic;
        try {
            for (const auto& p : backend_.describe_group(group).partitions) {
                if (p.committed < 0) continue;
                Value*& topic = by_topic[p.tp.topic];
                if (topic == nullptr) {
                    topic = &out["Topics"].add();
                    (*topic)["Name"].set_text(p.tp.topic);
                }
                Value& part = (*topic)["Partitions"].add();
                part["PartitionIndex"].set(p.tp.partition);
                part["CommittedOffset"].set(p.committed);
                part["Metadata"].set_text(backend_.commit_metadata(group, p.tp));
            }
        } catch (const kbus::Error& e) {
            set_error(out, error_of(e));
        }
        return;
    }
    for (const Value& t : topics.items()) {
        const std::string name(t["Name"].text());
        Value& topic = out["Topics"].add();
        topic["Name"].set_text(name);
        for (const Value& index : t["PartitionIndexes"].items()) {
            Value& p = topic["Partitions"].add();
            p["PartitionIndex"].set(index.integer());
            p["CommittedOffset"].set(-1);
            p["Metadata"].set_text("");
            try {
                const kbus::group::TopicPartition tp{name, index.i32()};
                const auto committed = backend_.committed(group, tp);
                p["CommittedOffset"].set(committed.value_or(-1));
                if (committed) p["Metadata"].set_text(backend_.commit_metadata(group, tp));
            } catch (const kbus::Error& e) {
                set_error(p, error_of(e));
            }
        }
    }
}

void KafkaListener::offset_fetch(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    if (q.version() < 8) {
        committed_offsets(std::string(q.body["GroupId"].text()), q.body["Topics"], r);
    } else {
        for (const Value& g : q.body["Groups"].items()) {
            Value& out = r["Groups"].add();
            out["GroupId"] = g["GroupId"];
            committed_offsets(std::string(g["GroupId"].text()), g["Topics"], out);
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::list_groups(KafkaConnection& c, const KafkaRequest& q) {
    const Value& states = q.body["StatesFilter"];
    Value r = response_of(q);
    try {
        for (const kbus::group::GroupListing& g : backend_.list_groups()) {
            const bool wanted = states.items().empty() ||
                                std::any_of(states.items().begin(), states.items().end(),
                                            [&](const Value& s) { return s.text() == g.state; });
            if (!wanted) continue;
            Value& out = r["Groups"].add();
            out["GroupId"].set_text(g.group);
            out["ProtocolType"].set_text("consumer");
            out["GroupState"].set_text(g.state);
            out["GroupType"].set_text("classic");
        }
    } catch (const kbus::Error& e) {
        set_error(r, error_of(e));
    }
    respond_with(c, q, r);
}

// Members with their assignments in Kafka's ConsumerProtocol encoding, as the Java admin client
// and kafka-consumer-groups.sh decode them.
void KafkaListener::describe_groups(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& name : q.body["Groups"].items()) {
        Value& out = r["Groups"].add();
        out["GroupId"].set_text(std::string(name.text()));
        try {
            const kbus::group::GroupDescription d =
                backend_.describe_group(std::string(name.text()));
            out["GroupState"].set_text(d.state);
            // Kafka keeps the type the first join set while the group lives (also once Empty);
            // every kbus group is a consumer group.
            out["ProtocolType"].set_text("consumer");
            out["ProtocolData"].set_text(d.protocol);
            for (const auto& m : d.members) {
                Value& member = out["Members"].add();
                member["MemberId"].set_text(m.member_id);
                member["ClientId"].set_text(m.client_id);
                member["ClientHost"].set_text("/127.0.0.1");
                member["MemberAssignment"].set_text(kbus::group::encode_assignment(m.assignment));
            }
        } catch (const kbus::Error& e) {
            // A group nobody knows is "Dead" with no error, as Kafka describes it.
            if (e.code() == kbus::ErrorCode::invalid_group && !name.text().empty())
                out["GroupState"].set_text("Dead");
            else
                set_error(out, error_of(e));
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::delete_groups(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& name : q.body["GroupsNames"].items()) {
        Value& out = r["Results"].add();
        out["GroupId"].set_text(std::string(name.text()));
        try {
            backend_.delete_group(std::string(name.text()));
        } catch (const kbus::Error& e) {
            set_error(out, e.code() == kbus::ErrorCode::invalid_group
                               ? KafkaError::group_id_not_found
                               : error_of(e));
        }
    }
    respond_with(c, q, r);
}

// OffsetDelete: a group's committed offsets of some partitions are forgotten; those of topics
// its members read now are refused (GROUP_SUBSCRIBED_TO_TOPIC), unknown partitions get
// UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.
void KafkaListener::offset_delete(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const std::string group(q.body["GroupId"].text());
    std::vector<kbus::group::TopicPartition> asked, unknown;
    for (const Value& t : q.body["Topics"].items()) {
        const std::string name(t["Name"].text());
        std::int32_t count = -1;
        try {
            const auto found = backend_.topics(std::vector<std::string>{name}, false);
            count = found.empty() ? -1 : found.front().second.value_or(-1);
        } catch (const kbus::Error&) {  // a name no topic can have
        }
        for (const Value& p : t["Partitions"].items()) {
            const kbus::group::TopicPartition tp{name, p["PartitionIndex"].i32()};
            (tp.partition >= 0 && tp.partition < count ? asked : unknown).push_back(tp);
        }
    }
    std::vector<kbus::group::TopicPartition> refused;
    try {
        refused = backend_.delete_offsets(group, asked);
    } catch (const kbus::Error& e) {
        set_error(r, e.code() == kbus::ErrorCode::invalid_group ? KafkaError::group_id_not_found
                                                                : error_of(e));
    }
    if (r["ErrorCode"].integer() == 0) {
        const auto has = [](const auto& list, const kbus::group::TopicPartition& tp) {
            return std::find(list.begin(), list.end(), tp) != list.end();
        };
        for (const Value& t : q.body["Topics"].items()) {
            Value& out = r["Topics"].add();
            out["Name"].set_text(std::string(t["Name"].text()));
            for (const Value& p : t["Partitions"].items()) {
                const kbus::group::TopicPartition tp{std::string(t["Name"].text()),
                                                     p["PartitionIndex"].i32()};
                Value& result = out["Partitions"].add();
                result["PartitionIndex"].set(tp.partition);
                set_error(result, has(unknown, tp)   ? KafkaError::unknown_topic_or_partition
                                  : has(refused, tp) ? KafkaError::group_subscribed_to_topic
                                                     : KafkaError::none);
            }
        }
    }
    respond_with(c, q, r);
}

}  // namespace kbusd
