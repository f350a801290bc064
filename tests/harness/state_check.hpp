// The fault harness's check of its state workers (harness/state_workers.hpp) after the run:
// - the transactional topic, read at read_committed, holds every transaction whole or not at
//   all, every one whose commit returned, and none whose abort returned or whose commit was
//   refused; the read reaches the end (no transaction left open past its timeout);
// - the compacted topic, read from the beginning after the cleaner's passes under kbusd's
//   SIGKILLs, still holds each key's newest acknowledged value (or something newer), and any
//   record it keeps at an acknowledged offset is the one acknowledged there.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness/checker.hpp"
#include "harness/state_workers.hpp"

namespace kbus::harness {

// Reads `topic` from the beginning to each partition's high watermark; `on_record` gets every
// record. Returns false if the read stopped short for 20 s.
template <class OnRecord>
bool read_topic(kbus::Client& c, const std::string& topic, kbus::IsolationLevel isolation,
                OnRecord on_record) {
    using namespace std::chrono_literals;
    kbus::ConsumerOptions options{.wait = kbus::WaitMode::blocking, .max_poll_records = 1000};
    options.isolation_level = isolation;
    kbus::Consumer con(c, options);
    std::map<std::int32_t, std::int64_t> end;
    for (const auto& p : c.describe_topic(topic).partitions) {
        end[p.partition] = p.high_watermark;
        con.assign(topic, p.partition, kbus::OffsetSpec::beginning());
    }
    auto at_end = [&] {
        for (const auto& [partition, hwm] : end)
            if (con.position(topic, partition) < hwm) return false;
        return true;
    };
    for (int idle = 0; !at_end(); ++idle) {
        if (idle > 400) return false;
        for (const auto& m : con.poll(50ms)) {
            idle = 0;
            on_record(m);
        }
    }
    return true;
}

class StateChecker {
  public:
    StateChecker(const std::vector<HistoryLine>& history, Figures& figures)
        : history_(history), figures_(&figures) {}

    void check(kbus::Client& c) {
        check_transactions(c);
        check_compacted(c);
    }

  private:
    struct Transaction {
        std::set<int> indexes;  // the "i" of each "i/n" read
        int records = 0;        // the n
        bool twice = false;
    };

    void check_transactions(kbus::Client& c) {
        std::map<std::string, Transaction> found;
        const bool whole = read_topic(c, transactional_topic, kbus::IsolationLevel::read_committed,
                                      [&](const kbus::Message& m) {
                                          const std::string v(m.value().str());
                                          Transaction& t = found[std::string(m.key().str())];
                                          t.records = std::stoi(v.substr(v.find('/') + 1));
                                          t.twice |= !t.indexes.insert(std::stoi(v)).second;
                                      });
        if (!whole) figures_->fail("read_committed read stalled", transactional_topic);
        for (const auto& [key, t] : found) {
            ++figures_->counts["transactions in the log"];
            if (t.twice || int(t.indexes.size()) != t.records)
                figures_->fail("transactions not whole", key + ": " +
                                                             std::to_string(t.indexes.size()) +
                                                             " of " + std::to_string(t.records));
        }
        for (const HistoryLine& l : history_) {
            if (l.kind == 'C' && l.fields.size() >= 2) {
                ++figures_->counts["transactions committed"];
                const auto it = found.find(l.fields[0]);
                if (it == found.end() || it->second.records != std::stoi(l.fields[1]))
                    figures_->fail("committed transactions lost", l.fields[0]);
            } else if (l.kind == 'R' && !l.fields.empty()) {
                ++figures_->counts["transactions aborted or refused"];
                if (found.count(l.fields[0]))
                    figures_->fail("aborted transactions read", l.fields[0]);
            }
        }
    }

    struct Kept {
        std::int64_t offset = -1;
        std::string hash;  // "null" for a tombstone
    };

    void check_compacted(kbus::Client& c) {
        std::map<std::int64_t, std::pair<std::string, std::string>> log;  // offset -> key, hash
        std::map<std::string, Kept> newest;
        const bool whole = read_topic(
            c, compacted_topic, kbus::IsolationLevel::read_uncommitted,
            [&](const kbus::Message& m) {
                const std::string key(m.key().str());
                const std::string hash = m.value().is_null()
                                             ? "null"
                                             : std::to_string(content_hash(key, m.value().str()));
                log[m.offset()] = {key, hash};
                newest[key] = {m.offset(), hash};
            });
        if (!whole) figures_->fail("compacted topic read stalled", compacted_topic);
        figures_->counts["compacted topic: records kept"] = log.size();
        std::map<std::string, Kept> acked;
        for (const HistoryLine& l : history_) {
            if (l.kind != 'K' || l.fields.size() < 3) continue;
            ++figures_->counts["compacted topic: writes acknowledged"];
            const std::int64_t offset = std::stoll(l.fields[1]);
            if (const auto it = log.find(offset);
                it != log.end() && it->second != std::make_pair(l.fields[0], l.fields[2]))
                figures_->fail("compacted topic: other record at an acknowledged offset",
                               l.fields[0] + " at " + l.fields[1]);
            Kept& a = acked[l.fields[0]];
            if (offset > a.offset) a = {offset, l.fields[2]};
        }
        for (const auto& [key, a] : acked)
            check_newest(key, a, newest);
    }

    // A key's newest acknowledged value is kept, or something written after it; a tombstone may
    // be gone once delete.retention.ms has passed.
    void check_newest(const std::string& key, const Kept& acked,
                      const std::map<std::string, Kept>& newest) {
        const auto it = newest.find(key);
        const std::string where = key + " acknowledged at " + std::to_string(acked.offset);
        if (it == newest.end()) {
            if (acked.hash != "null") figures_->fail("compacted topic: keys lost", where);
        } else if (it->second.offset < acked.offset) {
            figures_->fail("compacted topic: newest values lost",
                           where + ", newest kept at " + std::to_string(it->second.offset));
        }
    }

    const std::vector<HistoryLine>& history_;
    Figures* figures_;
};

}  // namespace kbus::harness
