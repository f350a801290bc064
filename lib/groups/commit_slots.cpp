#include "groups/commit_slots.hpp"

#include <cstring>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/group_commit.hpp"
#include "kbus/names.hpp"
#include "kbus/ring_ref.hpp"

namespace kbus::groups {
namespace {

// A taken slot whose token no member holds yet (granted right after).
constexpr std::int32_t unassigned_generation = 0x7fffffff;

// The index of group `g`'s slot in a ring (a group has at most one per partition).
std::optional<std::uint32_t> index_of(const ring::RingHeader& h, const std::string& g) {
    for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i)
        if (group::slot_token(h.group_commits[i]) != 0 &&
            group::slot_group(h.group_commits[i]) == g)
            return i;
    return std::nullopt;
}

bool any_slot_taken(const ring::RingHeader& h) {
    for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i)
        if (group::slot_token(h.group_commits[i]) != 0) return true;
    return false;
}

}  // namespace

void CommitSlots::for_each_taken(const std::function<void(SlotHost&)>& visit) {
    if (!scanned_) {
        hosts_.for_each([&](SlotHost& host) {
            if (any_slot_taken(*host.header)) taken_.insert(host.tp);
        });
        scanned_ = true;
    }
    for (auto it = taken_.begin(); it != taken_.end();) {
        std::optional<SlotHost> host = hosts_.find(*it);
        if (!host || !any_slot_taken(*host->header)) {  // deleted, or its groups freed
            it = taken_.erase(it);
            continue;
        }
        visit(*host);
        ++it;
    }
}

std::vector<CommitSlots::Found> CommitSlots::slots_of(const std::string& g) {
    std::vector<Found> found;
    for_each_taken([&](SlotHost& host) {
        if (const auto i = index_of(*host.header, g)) found.push_back({host, *i});
    });
    return found;
}

std::optional<std::uint32_t> CommitSlots::slot_for(const std::string& g, SlotHost& host) {
    ring::RingHeader& h = *host.header;
    if (const auto i = index_of(h, g)) return i;
    for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i) {
        ring::GroupCommitSlot& s = h.group_commits[i];
        if (group::slot_token(s) != 0) continue;
        s.name_length = std::uint32_t(g.size());
        std::memcpy(s.name, g.data(), g.size());
        const auto committed = offsets_.committed(g, host.tp);
        const std::uint64_t v = committed ? std::uint64_t(*committed) + 1 : 0;
        // Relaxed: a free slot has no token, so no member writes it; the token's
        // compare-and-swap below publishes it (and the name) with release.
        detail::atomic_store(s.token_and_commit.second, v, std::memory_order_relaxed);
        (*host.persisted)[i] = v;
        group::set_slot_token(s, group::fence_token(unassigned_generation));
        return i;
    }
    return std::nullopt;
}

std::vector<group::CommitGrant> CommitSlots::grant(
    const std::string& g, std::int32_t generation, const std::string& member,
    const std::vector<group::TopicPartition>& owned) {
    std::vector<group::CommitGrant> grants;
    for (const group::TopicPartition& tp : owned) {
        std::optional<SlotHost> host = hosts_.find(tp);
        if (!host) continue;
        const std::optional<std::uint32_t> index = slot_for(g, *host);
        if (!index) continue;
        taken_.insert(tp);
        const std::uint64_t token = group::member_token(generation, member);
        group::set_slot_token(host->header->group_commits[*index], token);
        grants.push_back({tp.topic, tp.partition, *index, token});
    }
    return grants;
}

void CommitSlots::fence(const std::string& g, std::int32_t generation) {
    for (Found& f : slots_of(g))
        group::set_slot_token(f.host.header->group_commits[f.index],
                              group::fence_token(generation));
}

void CommitSlots::free(const std::string& g) {
    for (Found& f : slots_of(g)) {
        ring::GroupCommitSlot& s = f.host.header->group_commits[f.index];
        group::set_slot_token(s, 0);
        s.name_length = 0;
        (*f.host.persisted)[f.index] = 0;
    }
}

void CommitSlots::mirror(const std::string& g, const group::OffsetList& offsets) {
    for (Found& f : slots_of(g))
        for (const auto& [tp, offset] : offsets)
            if (tp == f.host.tp) {
                group::set_slot_commit(f.host.header->group_commits[f.index], offset);
                (*f.host.persisted)[f.index] = std::uint64_t(offset) + 1;
            }
}

std::optional<CommitSlots::Pending> CommitSlots::changed(SlotHost& host, std::uint32_t index) {
    const ring::GroupCommitSlot& s = host.header->group_commits[index];
    const std::uint64_t v = group::slot_commit(s);
    if (group::slot_token(s) == 0 || v == 0 || v == (*host.persisted)[index]) return std::nullopt;
    std::string g(group::slot_group(s));
    // A slot is written by clients: its name and offset are checked before they are trusted.
    if (!check_group_name(g).empty() || v - 1 > ring::load_next_offset(*host.header)) {
        (*host.persisted)[index] = v;  // logged once, not on every look
        sink_("WARN", "ignored a commit slot of " + host.tp.topic + "-" +
                          std::to_string(host.tp.partition) + " holding offset " +
                          std::to_string(std::int64_t(v - 1)) + " for group '" + g + "'");
        return std::nullopt;
    }
    return Pending{host, index, std::move(g), v};
}

std::size_t CommitSlots::persist() {
    // The slots are read while the hosts are visited (memory only); the offset store is written
    // after, so that no file write happens inside the bus's registry lock.
    std::vector<Pending> pending;
    for_each_taken([&](SlotHost& host) {
        for (std::uint32_t i = 0; i < ring::group_commit_slot_count; ++i)
            if (std::optional<Pending> p = changed(host, i)) pending.push_back(std::move(*p));
    });
    std::size_t written = 0;
    for (Pending& p : pending) {
        try {
            offsets_.commit(p.group, p.host.tp, std::int64_t(p.commit - 1));
            (*p.host.persisted)[p.index] = p.commit;
            ++written;
        } catch (const Error& e) {  // left unpersisted: tried again at the next look
            sink_("ERROR", std::string("cannot persist a commit: ") + e.what());
        }
    }
    return written;
}

}  // namespace kbus::groups
