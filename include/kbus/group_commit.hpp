// Committing a group's offset through the partition ring (see GroupCommitSlot in
// ring_descriptor.hpp): the member's commit is one compare-and-swap, no system call; the daemon
// grants slots and tokens, fences with new tokens, and persists the slots' offsets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "kbus/detail/atomic_field.hpp"
#include "kbus/detail/dwcas.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::group {

/// A member's token for a generation; the low half is never 0, so (generation << 32) alone, the
/// fence, is nobody's token.
[[nodiscard]] inline std::uint64_t member_token(std::int32_t generation,
                                                std::string_view member_id) noexcept {
    return (std::uint64_t(std::uint32_t(generation)) << 32) |
           (std::uint32_t(std::hash<std::string_view>{}(member_id)) | 1u);
}
[[nodiscard]] inline std::uint64_t fence_token(std::int32_t generation) noexcept {
    return (std::uint64_t(std::uint32_t(generation)) << 32) | 0;  // never 0: generations start at 1
}

enum class SlotCommit { committed, fenced };

/// The member's commit. `expected_commit` is what it believes the slot holds (offset + 1): right,
/// it costs one locked instruction. The compare-and-swap is a full barrier: the daemon's next scan
/// sees the commit.
[[nodiscard]] inline SlotCommit commit_in_slot(ring::GroupCommitSlot& slot, std::uint64_t token,
                                               std::uint64_t& expected_commit,
                                               std::int64_t offset) noexcept {
    detail::WordPair current{token, expected_commit};
    const detail::WordPair desired{token, std::uint64_t(offset) + 1};
    while (!detail::dwcas(&slot.token_and_commit, current, desired))
        if (current.first != token) return SlotCommit::fenced;  // a rebalance replaced the token
    expected_commit = desired.second;
    return SlotCommit::committed;
}

/// The daemon's side: replace the token (grant or fence), or the committed offset (a commit that
/// came through the control socket), keeping the other word.
inline void set_slot_token(ring::GroupCommitSlot& slot, std::uint64_t token) noexcept {
    detail::WordPair current = detail::dwload(&slot.token_and_commit);
    while (!detail::dwcas(&slot.token_and_commit, current, {token, current.second})) {
    }
}
inline void set_slot_commit(ring::GroupCommitSlot& slot, std::int64_t offset) noexcept {
    detail::WordPair current = detail::dwload(&slot.token_and_commit);
    while (!detail::dwcas(&slot.token_and_commit, current,
                          {current.first, std::uint64_t(offset) + 1})) {
    }
}

/// Single-word reads of a slot (the pair itself only changes by compare-and-swap). Acquire: a
/// token read before the name pairs with the daemon's grant, an offset with the member's commit.
[[nodiscard]] inline std::uint64_t slot_token(const ring::GroupCommitSlot& slot) noexcept {
    return detail::atomic_load(slot.token_and_commit.first, std::memory_order_acquire);
}
[[nodiscard]] inline std::uint64_t slot_commit(const ring::GroupCommitSlot& slot) noexcept {
    return detail::atomic_load(slot.token_and_commit.second, std::memory_order_acquire);
}

[[nodiscard]] inline std::string_view slot_group(const ring::GroupCommitSlot& slot) noexcept {
    return {slot.name, std::min<std::size_t>(slot.name_length, ring::group_name_capacity)};
}

}  // namespace kbus::group
