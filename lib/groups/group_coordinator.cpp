#include "groups/group_coordinator.hpp"

#include <algorithm>
#include <random>
#include <set>

#include "kbus/error.hpp"
#include "kbus/names.hpp"

namespace kbus::groups {

namespace {

// Kafka's group.min/max.session.timeout.ms, scaled to a local bus.
constexpr std::int32_t min_session_timeout_ms = 100;
constexpr std::int32_t max_session_timeout_ms = 30 * 60 * 1000;

void check_group_name(const std::string& name) {
    if (const std::string why = kbus::check_group_name(name); !why.empty())
        throw Error(ErrorCode::invalid_group, why);
}

std::string describe_partitions(const std::vector<group::TopicPartition>& parts) {
    std::string s;
    for (const auto& tp : parts)
        s += (s.empty() ? "" : ",") + tp.topic + "-" + std::to_string(tp.partition);
    return s.empty() ? "nothing" : s;
}

}  // namespace

const char* to_string(GroupState s) noexcept {
    switch (s) {
        case GroupState::empty:
            return "Empty";
        case GroupState::preparing_rebalance:
            return "PreparingRebalance";
        case GroupState::completing_rebalance:
            return "CompletingRebalance";
        case GroupState::stable:
            return "Stable";
    }
    return "Unknown";
}

GroupCoordinator::GroupCoordinator(OffsetStore& offsets, logging::LogSink sink)
    : offsets_(offsets), sink_(std::move(sink)), member_salt_(std::random_device{}()) {}

std::string GroupCoordinator::new_member_id(const std::string& client_id) {
    // Like Kafka's "<client.id>-<uuid>": unique for the daemon's life, unguessable enough that
    // one client cannot name another's membership by accident.
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t v = member_salt_ ^ (++member_seq_ * 0x9e3779b97f4a7c15ULL);
    std::string tail;
    for (int i = 0; i < 16; ++i, v >>= 4)
        tail += hex[v & 15];
    return (client_id.empty() ? "consumer" : client_id) + "-" + std::to_string(member_seq_) + "-" +
           tail;
}

GroupCoordinator::Group* GroupCoordinator::find(const std::string& name) {
    const auto it = groups_.find(name);
    return it == groups_.end() ? nullptr : &it->second;
}

const GroupCoordinator::Group* GroupCoordinator::find(const std::string& name) const {
    const auto it = groups_.find(name);
    return it == groups_.end() ? nullptr : &it->second;
}

GroupCoordinator::Group& GroupCoordinator::group_for_join(const std::string& name) {
    check_group_name(name);
    Group& g = groups_[name];
    g.name = name;
    return g;
}

GroupCoordinator::Member& GroupCoordinator::member_of(Group& g, const std::string& member_id) {
    const auto it = g.members.find(member_id);
    if (it == g.members.end())
        throw Error(ErrorCode::unknown_member, "member '" + member_id + "' is not in group '" +
                                                   g.name + "' (removed or expired): rejoin");
    return it->second;
}

std::int32_t GroupCoordinator::longest_session(const Group& g) const {
    std::int32_t longest = min_session_timeout_ms;
    for (const auto& [id, m] : g.members)
        longest = std::max(longest, m.session_timeout_ms);
    return longest;
}

void GroupCoordinator::begin_rebalance(Group& g, std::int64_t now_ms, const std::string& reason) {
    if (g.members.empty()) {
        if (g.state != GroupState::empty) {
            ++g.generation;
            if (on_new_generation_) on_new_generation_(g.name, g.generation);
        }
        g.state = GroupState::empty;
        g.leader.clear();
        g.protocol.clear();
        sink_("INFO", "group '" + g.name + "' is empty (" + reason + ")");
        return;
    }
    if (g.state != GroupState::preparing_rebalance)
        sink_("INFO", "group '" + g.name + "' rebalancing: " + reason);
    g.state = GroupState::preparing_rebalance;
    g.deadline_ms = now_ms + longest_session(g);
    for (auto& [id, m] : g.members) {
        m.rejoined = false;
        m.join_answered = false;
    }
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id, std::int64_t now_ms,
                                     const std::string& reason) {
    if (g.members.erase(member_id) == 0) return;
    if (g.leader == member_id) g.leader.clear();
    begin_rebalance(g, now_ms, "member " + member_id + " " + reason);
}

std::string GroupCoordinator::select_protocol(const Group& g) const {
    // The first assignor of the first member's list that every member supports.
    const Member& first = g.members.begin()->second;
    for (const auto& candidate : first.protocols) {
        const bool everyone = std::all_of(g.members.begin(), g.members.end(), [&](const auto& e) {
            return std::any_of(e.second.protocols.begin(), e.second.protocols.end(),
                               [&](const auto& p) { return p.name == candidate.name; });
        });
        if (everyone) return candidate.name;
    }
    return {};
}

void GroupCoordinator::maybe_complete_join(Group& g, std::int64_t now_ms) {
    if (g.state != GroupState::preparing_rebalance) return;
    const bool all_in = std::all_of(g.members.begin(), g.members.end(),
                                    [](const auto& e) { return e.second.rejoined; });
    if (!all_in && now_ms < g.deadline_ms) return;
    for (auto it = g.members.begin(); it != g.members.end();) {
        if (it->second.rejoined) {
            ++it;
            continue;
        }
        sink_("INFO", "group '" + g.name + "': member " + it->first +
                          " did not rejoin within its session timeout, removed");
        if (g.leader == it->first) g.leader.clear();
        it = g.members.erase(it);
    }
    if (g.members.empty()) {
        begin_rebalance(g, now_ms, "no member rejoined");
        return;
    }
    ++g.generation;
    if (on_new_generation_) on_new_generation_(g.name, g.generation);
    g.protocol = select_protocol(g);
    if (g.leader.empty() || g.members.count(g.leader) == 0) g.leader = g.members.begin()->first;
    g.state = GroupState::completing_rebalance;
    g.deadline_ms = now_ms + longest_session(g);
    for (auto& [id, m] : g.members) {
        m.join_answered = false;
        m.assignment.clear();
        m.owned.clear();
    }
}

group::JoinGroupReply GroupCoordinator::join_reply(Group& g, Member& m) const {
    group::JoinGroupReply r;
    r.member_id = m.id;
    if (g.state == GroupState::preparing_rebalance) return r;  // pending
    r.pending = false;
    r.generation = g.generation;
    r.protocol = g.protocol;
    r.leader = g.leader;
    if (m.id == g.leader)
        for (const auto& [id, other] : g.members)
            for (const auto& p : other.protocols)
                if (p.name == g.protocol) r.members.emplace_back(id, p.metadata);
    m.join_answered = true;
    return r;
}

// What refuses a join before it touches any group: no assignor or protocol type, a session
// timeout out of range.
void GroupCoordinator::check_join_request(const group::JoinGroupRequest& request) {
    if (request.protocols.empty())
        throw Error(ErrorCode::inconsistent_protocol, "a join must name at least one assignor");
    if (request.protocol_type.empty())
        throw Error(ErrorCode::inconsistent_protocol, "a join must name a protocol type");
    if (request.session_timeout_ms < min_session_timeout_ms ||
        request.session_timeout_ms > max_session_timeout_ms)
        throw Error(ErrorCode::invalid_argument,
                    "session.timeout.ms must be between " + std::to_string(min_session_timeout_ms) +
                        " and " + std::to_string(max_session_timeout_ms));
}

// A join the group's members refuse: another protocol type, or no assignor everyone shares.
void GroupCoordinator::check_join_protocols(const Group& g,
                                            const group::JoinGroupRequest& request) const {
    if (g.members.empty()) return;
    if (request.protocol_type != g.protocol_type)
        throw Error(ErrorCode::inconsistent_protocol,
                    "group '" + g.name + "' uses protocol type '" + g.protocol_type + "'");
    Group probe = g;  // would an assignor be left that everyone, this member too, supports?
    Member& pm = probe.members[request.member_id.empty() ? "\x01new" : request.member_id];
    pm.protocols = request.protocols;
    if (select_protocol(probe).empty())
        throw Error(ErrorCode::inconsistent_protocol,
                    "no assignor is supported by every member of group '" + g.name + "'");
}

// The joining member, new (an id is handed out) or known; true in `protocols_changed` when it
// joins with other assignors or subscriptions than before.
GroupCoordinator::Member& GroupCoordinator::joining_member(Group& g,
                                                           const group::JoinGroupRequest& request,
                                                           bool& protocols_changed) {
    Member* m = nullptr;
    if (request.member_id.empty()) {
        Member fresh;
        fresh.id = new_member_id(request.client_id);
        m = &g.members.emplace(fresh.id, std::move(fresh)).first->second;
        m->client_id = request.client_id;
    } else {
        m = &member_of(g, request.member_id);
    }
    protocols_changed = m->protocols.size() != request.protocols.size() ||
                        !std::equal(m->protocols.begin(), m->protocols.end(),
                                    request.protocols.begin(), [](const auto& a, const auto& b) {
                                        return a.name == b.name && a.metadata == b.metadata;
                                    });
    return *m;
}

group::JoinGroupReply GroupCoordinator::join(const group::JoinGroupRequest& request,
                                             std::uint32_t connection, std::int64_t now_ms) {
    check_join_request(request);
    Group& g = group_for_join(request.group);
    check_join_protocols(g, request);
    g.protocol_type = request.protocol_type;
    bool protocols_changed = false;
    Member& m = joining_member(g, request, protocols_changed);
    m.connection = connection;
    m.session_timeout_ms = request.session_timeout_ms;
    m.protocols = request.protocols;
    m.last_seen_ms = now_ms;
    switch (g.state) {
        case GroupState::empty:
            begin_rebalance(g, now_ms, "member " + m.id + " joined");
            break;
        case GroupState::preparing_rebalance:
            break;
        case GroupState::completing_rebalance:
        case GroupState::stable:
            // The outcome of the last round, not yet fetched: hand it out.
            if (!m.join_answered && !protocols_changed && m.rejoined) return join_reply(g, m);
            begin_rebalance(g, now_ms,
                            request.member_id.empty() ? "member " + m.id + " joined"
                                                      : "member " + m.id + " rejoined");
            break;
    }
    m.rejoined = true;
    maybe_complete_join(g, now_ms);
    return join_reply(g, m);
}

void GroupCoordinator::apply_assignment(Group& g, const group::SyncGroupRequest& request) {
    std::map<std::string, std::vector<group::TopicPartition>> decoded;
    std::set<group::TopicPartition> seen;
    for (const auto& [id, bytes] : request.assignments) {
        if (g.members.count(id) == 0) continue;  // left meanwhile: the next rebalance fixes it
        auto parts = group::decode_assignment(bytes);
        for (const auto& tp : parts)
            if (!seen.insert(tp).second)
                throw Error(ErrorCode::invalid_argument,
                            "the leader's assignment gives " + tp.topic + "-" +
                                std::to_string(tp.partition) + " to two members");
        decoded[id] = std::move(parts);
    }
    for (auto& [id, m] : g.members) {
        const std::string& member = id;  // (clang 14 cannot capture a structured binding)
        const auto it = std::find_if(request.assignments.begin(), request.assignments.end(),
                                     [&](const auto& a) { return a.first == member; });
        m.assignment = it == request.assignments.end() ? group::encode_assignment({}) : it->second;
        m.owned = decoded[id];
        sink_("INFO", "group '" + g.name + "' generation " + std::to_string(g.generation) + ": " +
                          id + " gets " + describe_partitions(m.owned));
    }
    g.state = GroupState::stable;
}

std::optional<std::string> GroupCoordinator::sync(const group::SyncGroupRequest& request,
                                                  std::int64_t now_ms) {
    check_group_name(request.group);
    Group* g = find(request.group);
    if (g == nullptr)
        throw Error(ErrorCode::unknown_member, "group '" + request.group + "' has no members");
    Member& m = member_of(*g, request.member_id);
    m.last_seen_ms = now_ms;
    if (request.generation != g->generation)
        throw Error(ErrorCode::illegal_generation,
                    "generation " + std::to_string(request.generation) + " is not group '" +
                        g->name + "''s current generation " + std::to_string(g->generation));
    if (g->state == GroupState::preparing_rebalance)
        throw Error(ErrorCode::rebalance_in_progress, "group '" + g->name + "' is rebalancing");
    if (g->state == GroupState::completing_rebalance) {
        if (m.id != g->leader) return std::nullopt;  // waiting for the leader's assignment
        apply_assignment(*g, request);
    }
    return m.assignment;
}

void GroupCoordinator::heartbeat(const std::string& group, std::int32_t generation,
                                 const std::string& member, std::int64_t now_ms) {
    check_group_name(group);
    Group* g = find(group);
    if (g == nullptr)
        throw Error(ErrorCode::unknown_member, "group '" + group + "' has no members");
    Member& m = member_of(*g, member);
    m.last_seen_ms = now_ms;
    if (generation != g->generation)
        throw Error(ErrorCode::illegal_generation, "generation " + std::to_string(generation) +
                                                       " is stale (group '" + group + "' is at " +
                                                       std::to_string(g->generation) + "): rejoin");
    if (g->state == GroupState::preparing_rebalance)
        throw Error(ErrorCode::rebalance_in_progress, "group '" + group + "' is rebalancing");
}

void GroupCoordinator::leave(const std::string& group, const std::string& member,
                             std::int64_t now_ms) {
    check_group_name(group);
    Group* g = find(group);
    if (g == nullptr)
        throw Error(ErrorCode::unknown_member, "group '" + group + "' has no members");
    (void)member_of(*g, member);
    remove_member(*g, member, now_ms, "left");
}

void GroupCoordinator::connection_closed(std::uint32_t connection, std::int64_t now_ms) {
    for (auto& [name, g] : groups_) {
        std::vector<std::string> gone;
        for (const auto& [id, m] : g.members)
            if (m.connection == connection) gone.push_back(id);
        for (const auto& id : gone)
            remove_member(g, id, now_ms, "died (its connection closed)");
    }
}

void GroupCoordinator::tick(std::int64_t now_ms) {
    for (auto& [name, g] : groups_) {
        if (g.state == GroupState::preparing_rebalance) {
            maybe_complete_join(g, now_ms);
            continue;
        }
        if (g.state == GroupState::completing_rebalance && now_ms >= g.deadline_ms) {
            const std::string leader = g.leader;
            remove_member(g, leader, now_ms, "(the leader) did not send the assignment in time");
            continue;
        }
        std::vector<std::string> expired;
        for (const auto& [id, m] : g.members)
            if (now_ms - m.last_seen_ms > m.session_timeout_ms) expired.push_back(id);
        for (const auto& id : expired)
            remove_member(g, id, now_ms, "expired (no heartbeat within session.timeout.ms)");
    }
}

bool GroupCoordinator::rebalancing() const {
    for (const auto& [name, g] : groups_)
        if (g.state == GroupState::preparing_rebalance ||
            g.state == GroupState::completing_rebalance)
            return true;
    return false;
}

void GroupCoordinator::check_commit(
    const std::string& group, std::int32_t generation, const std::string& member,
    const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets,
    const BoundsOf& bounds, std::int64_t now_ms) {
    check_group_name(group);
    Group* g = find(group);
    const Member* m = nullptr;
    if (generation < 0) {
        if (g != nullptr && !g->members.empty())
            throw Error(ErrorCode::group_not_empty,
                        "group '" + group + "' has members: only they may commit its offsets");
    } else {
        if (g == nullptr)
            throw Error(ErrorCode::unknown_member, "group '" + group + "' has no members");
        Member& mm = member_of(*g, member);
        mm.last_seen_ms = now_ms;
        if (generation != g->generation)
            throw Error(ErrorCode::illegal_generation,
                        "commit refused: generation " + std::to_string(generation) +
                            " was fenced by a rebalance (group '" + group + "' is at " +
                            std::to_string(g->generation) + ")");
        if (g->state == GroupState::completing_rebalance)
            throw Error(ErrorCode::rebalance_in_progress, "group '" + group + "' is rebalancing");
        m = &mm;
    }
    // Check everything first: a refused commit changes nothing.
    for (const auto& [tp, offset] : offsets) {
        const std::optional<PartitionBounds> b = bounds(tp);
        if (!b)
            throw Error(ErrorCode::unknown_topic,
                        "no partition " + tp.topic + "-" + std::to_string(tp.partition));
        if (offset < 0 || offset > b->high_watermark)
            throw Error(ErrorCode::offset_out_of_range,
                        "commit of offset " + std::to_string(offset) + " for " + tp.topic + "-" +
                            std::to_string(tp.partition) + " is beyond its high watermark " +
                            std::to_string(b->high_watermark));
        if (m != nullptr && std::find(m->owned.begin(), m->owned.end(), tp) == m->owned.end())
            throw Error(ErrorCode::partition_not_assigned,
                        "commit refused: " + tp.topic + "-" + std::to_string(tp.partition) +
                            " is not assigned to member " + member);
    }
}

void GroupCoordinator::store_commit(
    const std::string& group,
    const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets) {
    check_group_name(group);
    for (const auto& [tp, offset] : offsets)
        offsets_.commit(group, tp, offset, std::string());
}

void GroupCoordinator::commit(
    const std::string& group, std::int32_t generation, const std::string& member,
    const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets,
    const BoundsOf& bounds, std::int64_t now_ms, const CommitMetadata& metadata) {
    check_commit(group, generation, member, offsets, bounds, now_ms);
    for (const auto& [tp, offset] : offsets) {
        const auto m = metadata.find(tp);
        offsets_.commit(group, tp, offset, m == metadata.end() ? std::string() : m->second);
    }
}

std::vector<std::pair<std::int32_t, std::int64_t>> GroupCoordinator::committed(
    const std::string& group, const std::string& topic) const {
    check_group_name(group);
    std::vector<std::pair<std::int32_t, std::int64_t>> out;
    if (const OffsetMap* m = offsets_.offsets_of(group))
        for (const auto& [tp, offset] : *m)
            if (tp.topic == topic) out.emplace_back(tp.partition, offset);
    return out;
}

std::vector<group::TopicPartition> GroupCoordinator::owned(const std::string& group,
                                                           const std::string& member) const {
    const Group* g = find(group);
    if (g == nullptr) return {};
    const auto it = g->members.find(member);
    return it == g->members.end() ? std::vector<group::TopicPartition>{} : it->second.owned;
}

bool GroupCoordinator::exists(const std::string& group) const {
    const Group* g = find(group);
    // A group that ever completed a join stays known while empty, as Kafka's Empty state.
    return (g != nullptr && (!g->members.empty() || g->generation > 0)) ||
           offsets_.offsets_of(group) != nullptr;
}

bool GroupCoordinator::has_members(const std::string& group) const {
    const Group* g = find(group);
    return g != nullptr && !g->members.empty();
}

std::vector<GroupListing> GroupCoordinator::list() const {
    std::map<std::string, GroupListing> all;
    for (const auto& name : offsets_.groups())
        all[name] = {name, GroupState::empty, 0};
    for (const auto& [name, g] : groups_)
        if (exists(name)) all[name] = {name, g.state, std::uint32_t(g.members.size())};
    std::vector<GroupListing> out;
    for (auto& [name, l] : all)
        out.push_back(l);
    return out;
}

group::GroupDescription GroupCoordinator::describe(const std::string& group,
                                                   const BoundsOf& bounds) const {
    check_group_name(group);
    if (!exists(group)) throw Error(ErrorCode::invalid_group, "unknown group '" + group + "'");
    group::GroupDescription d;
    d.group = group;
    d.state = to_string(GroupState::empty);
    std::map<group::TopicPartition, group::GroupDescription::PartitionLag> parts;
    if (const Group* g = find(group); g != nullptr && !g->members.empty()) {
        d.state = to_string(g->state);
        d.generation = g->generation;
        d.protocol = g->protocol;
        d.leader = g->leader;
        for (const auto& [id, m] : g->members) {
            d.members.push_back({id, m.client_id, m.owned});
            for (const auto& tp : m.owned) {
                parts[tp].tp = tp;
                parts[tp].owner = id;
            }
        }
    }
    if (const OffsetMap* m = offsets_.offsets_of(group))
        for (const auto& [tp, offset] : *m) {
            parts[tp].tp = tp;
            parts[tp].committed = offset;
        }
    for (auto& [tp, p] : parts) {
        if (const auto b = bounds(tp)) p.log_end = b->high_watermark;
        d.partitions.push_back(p);
    }
    return d;
}

void GroupCoordinator::remove(const std::string& group) {
    check_group_name(group);
    if (!exists(group)) throw Error(ErrorCode::invalid_group, "unknown group '" + group + "'");
    if (has_members(group))
        throw Error(ErrorCode::group_not_empty,
                    "group '" + group + "' has active members; stop them first");
    groups_.erase(group);
    offsets_.erase_group(group);
    sink_("INFO", "deleted group '" + group + "'");
}

std::vector<group::TopicPartition> GroupCoordinator::delete_offsets(
    const std::string& group, const std::vector<group::TopicPartition>& partitions) {
    check_group_name(group);
    if (!exists(group)) throw Error(ErrorCode::invalid_group, "unknown group '" + group + "'");
    // The topics the group's members read now (their assignments stand for their subscriptions).
    std::set<std::string> in_use;
    if (const Group* g = find(group))
        for (const auto& [id, m] : g->members)
            for (const group::TopicPartition& tp : m.owned)
                in_use.insert(tp.topic);
    std::vector<group::TopicPartition> refused;
    for (const group::TopicPartition& tp : partitions) {
        if (in_use.count(tp.topic) != 0)
            refused.push_back(tp);
        else
            offsets_.erase_offset(group, tp);
    }
    return refused;
}

void GroupCoordinator::reset(
    const std::string& group,
    const std::vector<std::pair<group::TopicPartition, std::int64_t>>& offsets) {
    check_group_name(group);
    if (!exists(group)) throw Error(ErrorCode::invalid_group, "unknown group '" + group + "'");
    if (has_members(group))
        throw Error(ErrorCode::group_not_empty,
                    "group '" + group + "' has active members; stop them before a reset");
    for (const auto& [tp, offset] : offsets)
        offsets_.commit(group, tp, offset);
}

}  // namespace kbus::groups
