// The daemon's side of group commit slots (ring_descriptor.hpp's GroupCommitSlot, committed by
// members with group_commit.hpp): a member commits the partitions it owns by one 16-byte
// compare-and-swap in the partition's ring, with no system call. Here the daemon
//   - grants: gives a group a slot on a partition (holding its committed offset) and hands the
//     owning member its token with the assignment;
//   - fences: replaces every token of a group when a new generation begins, so that a member
//     that missed the rebalance fails its compare;
//   - mirrors: copies commits that came through the socket into the slot, which must always
//     hold the group's latest commit;
//   - frees: a deleted group's slots;
//   - persists: writes what members committed in the slots to the offset store.
// After a daemon crash the rings (and so the slots) are still in shared memory, and the next
// daemon persists what they hold. Not thread-safe: the group service calls it under its lock.
//
// Only partitions whose rings hold a taken slot are looked at (persist runs at every control
// tick): a bus of 10,000 partitions, few of them read by groups, pays for what groups use.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "groups/offset_store.hpp"
#include "kbus/group_messages.hpp"
#include "kbus/ring_descriptor.hpp"
#include "logging/log_sink.hpp"

namespace kbus::groups {

// What was last persisted from each slot of a ring (offset + 1; 0: nothing).
using PersistedCommits = std::array<std::uint64_t, ring::group_commit_slot_count>;

// A partition whose ring hosts commit slots.
struct SlotHost {
    group::TopicPartition tp;
    ring::RingHeader* header = nullptr;
    PersistedCommits* persisted = nullptr;
    std::shared_ptr<const void> owner;  // keeps the ring and `persisted` alive while held
};

// Where the slots are: every partition of the bus (the bus implements it).
class SlotHosts {
  public:
    virtual ~SlotHosts() = default;
    virtual void for_each(const std::function<void(SlotHost&)>& visit) = 0;
    [[nodiscard]] virtual std::optional<SlotHost> find(const group::TopicPartition& tp) = 0;
};

class CommitSlots {
  public:
    CommitSlots(SlotHosts& hosts, OffsetStore& offsets, logging::LogSink sink)
        : hosts_(hosts), offsets_(offsets), sink_(std::move(sink)) {}

    // The member's grants for the partitions it owns in `generation` (a partition whose ring
    // has no free slot gets none: its commits go through the socket).
    [[nodiscard]] std::vector<group::CommitGrant> grant(
        const std::string& group, std::int32_t generation, const std::string& member,
        const std::vector<group::TopicPartition>& owned);
    // A new generation began: no older member may commit any more.
    void fence(const std::string& group, std::int32_t generation);
    void free(const std::string& group);
    void mirror(const std::string& group, const group::OffsetList& offsets);
    // Writes what members committed in the slots since the last look. Returns how many.
    std::size_t persist();

  private:
    struct Found {
        SlotHost host;
        std::uint32_t index;
    };
    // Every slot group `g` holds, with its partition.
    [[nodiscard]] std::vector<Found> slots_of(const std::string& g);
    // The slot of group `g` on a partition, allocated (holding the group's committed offset) if
    // it has none; nullopt if every slot is taken.
    [[nodiscard]] std::optional<std::uint32_t> slot_for(const std::string& g, SlotHost& host);
    struct Pending {
        SlotHost host;
        std::uint32_t index;
        std::string group;
        std::uint64_t commit;  // offset + 1
    };
    [[nodiscard]] std::optional<Pending> changed(SlotHost& host, std::uint32_t index);
    // Each partition with a taken slot. The first call scans every ring (a restarted daemon
    // adopts the slots the rings kept); partitions gone or with no slot taken drop out.
    void for_each_taken(const std::function<void(SlotHost&)>& visit);

    SlotHosts& hosts_;
    std::set<group::TopicPartition> taken_;  ///< partitions whose rings hold a taken slot
    bool scanned_ = false;                   ///< every ring looked at once
    OffsetStore& offsets_;
    logging::LogSink sink_;
};

}  // namespace kbus::groups
