// The fault harness's check of the whole history (harness/history_file.hpp) against the final
// log (harness/final_log.hpp): acknowledged means kept, exactly once, in order, at the offset it
// was acknowledged at; nothing a live consumer saw changed; no torn record was delivered; group
// commits never went back. Losses inside batches the harness itself corrupted are counted apart.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness/final_log.hpp"
#include "harness/history_file.hpp"
#include "harness/segment_flips.hpp"

namespace kbus::harness {

struct Figures {
    std::map<std::string, std::uint64_t> counts;  // by name, printed in name order
    std::vector<std::string> failures;            // the first few examples of each failure

    void fail(const std::string& counter, const std::string& example) {
        if (++counts[counter] <= 5) failures.push_back(counter + ": " + example);
    }
};

using Place = std::pair<std::int32_t, std::int64_t>;

struct Acked {
    Place at;
    std::uint64_t hash;
};

class Checker {
  public:
    Checker(const std::vector<HistoryLine>& history, const FinalLog& final,
            const std::vector<FlippedBatch>& flipped)
        : history_(history), final_(final), flipped_(flipped) {
        for (const auto& [place, record] : final_.records)
            where_[record.key].push_back(place);
    }

    Figures check() {
        check_acknowledged();
        check_final_log();
        check_reads();
        check_dead_claims();
        check_corruption_reports();
        for (const HistoryLine& l : history_)
            figures_.counts["errors workers rode through"] += l.kind == 'E' ? 1 : 0;
        return std::move(figures_);
    }

  private:
    [[nodiscard]] bool flipped_at(const Place& p) const {
        return std::any_of(flipped_.begin(), flipped_.end(), [&](const FlippedBatch& b) {
            return b.partition == p.first && b.first_offset <= p.second &&
                   p.second <= b.last_offset;
        });
    }
    static std::string text(const Place& p) {
        return std::to_string(p.first) + "/" + std::to_string(p.second);
    }
    static Place place_of(const HistoryLine& l) {
        return {std::int32_t(std::stol(l.fields[0])), std::stoll(l.fields[1])};
    }

    // Every acknowledged send: once, where it was acknowledged, with its contents; no offset
    // acknowledged to two sends.
    void check_acknowledged() {
        std::map<Place, std::string> acked_at;
        for (const HistoryLine& l : history_) {
            if (l.kind != 'A' || l.fields.size() < 4) continue;
            const Place at = place_of(l);
            const std::string& key = l.fields[2];
            ++figures_.counts[key[0] == 'k' ? "acknowledged (Kafka protocol)"
                                            : "acknowledged (shared memory)"];
            if (const auto [it, fresh] = acked_at.emplace(at, key); !fresh && it->second != key)
                figures_.fail("offsets reused",
                              text(at) + " acknowledged to " + it->second + " and " + key);
            check_one(key, at, std::stoull(l.fields[3]));
        }
    }
    void check_one(const std::string& key, const Place& at, std::uint64_t hash) {
        const auto found = where_.find(key);
        if (found == where_.end()) {
            if (flipped_at(at))
                ++figures_.counts["lost to injected corruption"];
            else
                figures_.fail("lost", key + " acknowledged at " + text(at));
            return;
        }
        if (found->second.size() > 1)
            figures_.fail("duplicated",
                          key + " at " + text(found->second[0]) + " and " + text(found->second[1]));
        if (found->second[0] != at)
            figures_.fail("misplaced", key + " acknowledged at " + text(at) + ", found at " +
                                           text(found->second[0]));
        else if (final_.records.at(at).hash != hash)
            figures_.fail("changed", key + " at " + text(at) + " holds other contents");
    }

    // The final log itself: every record intact, every writer's records in send order.
    void check_final_log() {
        std::map<std::pair<std::int32_t, std::string>, std::uint64_t> last_seq;
        for (const auto& [place, record] : final_.records) {
            ++figures_.counts["final log records"];
            if (!record.intact) figures_.fail("torn in the final log", text(place));
            std::string writer;
            std::uint64_t seq = 0;
            if (!split_key(record.key, writer, seq)) {
                figures_.fail("foreign records", text(place) + " key '" + record.key + "'");
                continue;
            }
            const auto [it, fresh] = last_seq.emplace(std::make_pair(place.first, writer), seq);
            if (!fresh && seq <= it->second)
                figures_.fail("out of order", record.key + " at " + text(place) + " after seq " +
                                                  std::to_string(it->second));
            it->second = seq;
        }
    }

    // What consumers and members saw: intact, and what the log holds at that offset.
    void check_reads() {
        for (const HistoryLine& l : history_) {
            if (l.kind == 'T' && l.fields.size() >= 3)
                figures_.fail("torn records delivered",
                              l.fields[2] + " at " + text(place_of(l)) + " to " + l.source);
            if (l.kind != 'S' || l.fields.size() < 3) continue;
            ++figures_.counts["records seen by live readers"];
            const Place at = place_of(l);
            const auto found = final_.records.find(at);
            if (found == final_.records.end()) {
                if (!flipped_at(at))
                    figures_.fail("seen, then gone from the log", text(at) + " by " + l.source);
            } else if (found->second.hash != std::stoull(l.fields[2])) {
                figures_.fail("seen with other contents than the log's",
                              text(at) + " by " + l.source + " (log: " + found->second.key + ")");
            }
        }
    }

    // A producer killed in its claim leaves a gap, never a record.
    void check_dead_claims() {
        for (const HistoryLine& l : history_) {
            if (l.kind != 'D' || l.fields.size() < 3) continue;
            ++figures_.counts["claims killed (gaps expected)"];
            if (where_.count(l.fields[2]))
                figures_.fail("dead claims published", l.fields[2] + " at " + text(place_of(l)));
        }
    }

    // Every loss to corruption a reader was told of, the offsets from its next one to where
    // reading resumes, takes in a batch the harness flipped, and no record the final read found
    // sound outside such batches: the range may run past an aborted gap beside the flipped batch,
    // never over records a reader could have read.
    void check_corruption_reports() {
        auto explained = [&](std::int32_t partition, std::int64_t from, std::int64_t to) {
            const bool takes_flipped =
                std::any_of(flipped_.begin(), flipped_.end(), [&](const FlippedBatch& b) {
                    return b.partition == partition && b.first_offset < to && b.last_offset >= from;
                });
            for (auto it = final_.records.lower_bound({partition, from});
                 it != final_.records.end() && it->first < Place{partition, to}; ++it)
                if (!flipped_at(it->first)) return false;
            return takes_flipped;
        };
        for (const CorruptRange& r : final_.corrupt)
            if (!explained(r.partition, r.from, r.to))
                figures_.fail("unexplained losses (final read)", std::to_string(r.partition) + "/" +
                                                                     std::to_string(r.from) + ".." +
                                                                     std::to_string(r.to - 1));
        for (const HistoryLine& l : history_)
            if (l.kind == 'X' && l.fields.size() >= 3 &&
                !explained(std::int32_t(std::stol(l.fields[0])), std::stoll(l.fields[1]),
                           std::stoll(l.fields[2])))
                figures_.fail(
                    "unexplained losses (live readers)",
                    l.fields[0] + "/" + l.fields[1] + ".." + l.fields[2] + " by " + l.source);
    }

    const std::vector<HistoryLine>& history_;
    const FinalLog& final_;
    const std::vector<FlippedBatch>& flipped_;
    std::map<std::string, std::vector<Place>> where_;  // key -> where the final log holds it
    Figures figures_;
};

}  // namespace kbus::harness
