// The fault harness's check of a group's commits: what kbusd reports as committed (read back
// after every daemon restart and at the end) never goes back, and ends at or past every commit
// a member was told had succeeded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "harness/checker.hpp"

namespace kbus::harness {

inline void check_commits(const std::vector<HistoryLine>& history,
                          const std::map<std::int32_t, std::vector<std::int64_t>>& readbacks,
                          Figures& figures) {
    std::map<std::int32_t, std::int64_t> highest_acked;
    for (const HistoryLine& l : history) {
        if (l.kind != 'G' || l.fields.size() < 2) continue;
        ++figures.counts["group commits acknowledged"];
        const auto partition = std::int32_t(std::stol(l.fields[0]));
        highest_acked[partition] =
            std::max<std::int64_t>(highest_acked[partition], std::stoll(l.fields[1]));
    }
    for (const auto& [partition, values] : readbacks) {
        figures.counts["group commits read back"] += values.size();
        for (std::size_t i = 1; i < values.size(); ++i)
            if (values[i] < values[i - 1])
                figures.fail("group commits gone back", "partition " + std::to_string(partition) +
                                                            ": " + std::to_string(values[i - 1]) +
                                                            " then " + std::to_string(values[i]));
    }
    for (const auto& [partition, acked] : highest_acked) {
        const auto found = readbacks.find(partition);
        const std::int64_t last =
            found == readbacks.end() || found->second.empty() ? -1 : found->second.back();
        if (last < acked)
            figures.fail("acknowledged group commits lost",
                         "partition " + std::to_string(partition) + ": " + std::to_string(acked) +
                             " acknowledged, " + std::to_string(last) + " at the end");
    }
}

}  // namespace kbus::harness
