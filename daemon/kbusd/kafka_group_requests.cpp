// The Kafka listener's consumer-group requests: the coordinator (this broker, for every group),
// the join/sync/heartbeat/leave protocol, and committed offsets. The groups are the bus's own:
// a Kafka consumer and a shared-memory consumer in one group share its members and commits.
#include <algorithm>

#include "kafka_listener.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

KafkaError error_of(const kbus::Error& e) {
    return kafka_error_of(e.code());
}

void set_error(Value& v, KafkaError e) {
    v["ErrorCode"].set(std::int16_t(e));
}

// KeyType 1 asks for a transaction coordinator, which kbus does not have (yet): the client
// gets a clear error at once rather than retrying a coordinator that never comes.
constexpr std::int8_t transaction_key_type = 1;
constexpr const char* no_transactions = "transactions are not supported by this kbus broker";

}  // namespace

void KafkaListener::find_coordinator(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const bool for_transactions = q.body["KeyType"].integer() == transaction_key_type;
    const auto fill = [&](Value& v) {
        v["NodeId"].set(0);
        v["Host"].set_text(options_.advertised_host);
        v["Port"].set(options_.advertised_port);
        if (for_transactions) {
            v["NodeId"].set(-1);
            v["Host"].set_text("");
            v["Port"].set(-1);
            set_error(v, KafkaError::invalid_request);
            v["ErrorMessage"].set_text(no_transactions);
        }
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

void KafkaListener::offset_commit(KafkaConnection& c, const KafkaRequest& q) {
    const Value& b = q.body;
    std::vector<std::pair<kbus::group::TopicPartition, std::int64_t>> offsets;
    for (const Value& t : b["Topics"].items())
        for (const Value& p : t["Partitions"].items())
            offsets.push_back({{std::string(t["Name"].text()), p["PartitionIndex"].i32()},
                               p["CommittedOffset"].integer()});
    KafkaError error = KafkaError::none;
    try {
        backend_.commit(std::string(b["GroupId"].text()), b["GenerationIdOrMemberEpoch"].i32(),
                        std::string(b["MemberId"].text()), offsets);
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
void KafkaListener::committed_offsets(const std::string& group, const Value& topics, Value& out) {
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
                p["CommittedOffset"].set(
                    backend_.committed(group, {name, index.i32()}).value_or(-1));
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

}  // namespace kbusd
