#include "bus/transaction_coordinator.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "bus/transaction_markers.hpp"
#include "kbus/error.hpp"
#include "log/file.hpp"

namespace kbus::bus {

namespace {
// Past this, the state file is written afresh with what is open (most of it is ended history).
constexpr std::uint64_t state_file_rewrite_bytes = 16 << 20;
}  // namespace

TransactionCoordinator::TransactionCoordinator(Bus& bus, ProducerIdRegistry& ids,
                                               groups::GroupService* groups,
                                               const std::string& data_dir, logging::LogSink sink,
                                               std::function<void()> wake_spill)
    : bus_(bus),
      ids_(ids),
      groups_(groups),
      path_(data_dir + "/__kbus_transactions"),
      sink_(std::move(sink)),
      wake_spill_(std::move(wake_spill)) {}

std::map<std::int64_t, TransactionCoordinator::Open> TransactionCoordinator::read_state_file(
    std::map<std::int64_t, bool>& decided) {
    std::map<std::int64_t, Open> open;
    std::string text;
    if (!log::read_whole_file(path_, text)) return open;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        char kind = 0;
        std::int64_t id = -1;
        std::int32_t epoch = -1;
        Member m;
        int commit = 0;
        std::int64_t offset = -1;
        std::string group, topic;
        if (!(f >> kind >> id)) continue;  // a torn last line
        if (kind == 'A' && f >> epoch >> m.topic_id >> m.partition >> m.slot &&
            (m.slot < ring::producer_slot_count || m.slot == no_slot) && epoch >= 0 &&
            epoch <= INT16_MAX) {
            if (!(f >> m.first_offset)) m.first_offset = -1;  // an older kbusd's line
            Open& t = open[id];
            t.epoch = std::int16_t(epoch);
            t.members.push_back(m);
        } else if (kind == 'O' && f >> group >> topic >> m.partition >> offset) {
            std::vector<GroupOffsets>& offsets = open[id].offsets;
            if (offsets.empty() || offsets.back().group != group)
                offsets.push_back({group, -1, {}, {}});
            offsets.back().offsets.push_back({{topic, m.partition}, offset});
        } else if (kind == 'D' && f >> commit) {
            decided[id] = commit != 0;
        } else if (kind == 'E') {
            open.erase(id);
            decided.erase(id);
        }
    }
    return open;
}

void TransactionCoordinator::recover() {
    const std::lock_guard lock(mutex_);
    std::map<std::int64_t, bool> decided;
    std::map<std::int64_t, Open> left = read_state_file(decided);
    // Decided now, all of them, before the file is written afresh: it keeps what each still
    // needs until its markers are in (a ring a reboot left empty may take a while).
    // Undecided in the file: decided now in the word, with the compare-and-swap the producer
    // would use, so that a producer alive through the restart cannot commit what is aborted
    // here. Unless the producer decided first: its decision stands.
    std::map<std::int64_t, bool> markers_in;  // the producer wrote them all (rings survive)
    for (const auto& [id, t] : left)
        if (decided.count(id) == 0 && !decide(id, t.epoch, control::TransactionState::aborting))
            if (const auto d = decision_of(id, t.epoch)) {
                decided[id] = d->first;
                markers_in[id] = d->second;
            }
    for (const auto& [id, t] : left) {
        const auto d = decided.find(id);
        unfinished_[id] = {t, d != decided.end() && d->second ? log::ControlType::commit
                                                              : log::ControlType::abort};
        if (d == decided.end()) {  // its producer may live on: fenced before the markers
            ids_.bump_epoch(id);
            timed_out_[id] = "its transaction was open when kbusd stopped, and was aborted";
        }
        hold_stable_offsets(id, t);
    }
    start_state_file();
    for (const auto& [id, t] : left) {
        const auto d = decided.find(id);
        const bool commit = d != decided.end() && d->second;
        std::uint32_t markers = 0;
        try {
            markers = finish(id, t, commit ? log::ControlType::commit : log::ControlType::abort,
                             markers_in[id]);
        } catch (const Error& e) {  // unfinished_: tried again at the next tick
            sink_("ERROR", "transaction of producer " + std::to_string(id) +
                               " not ended after the restart yet: " + e.what());
            continue;
        }
        sink_("INFO", std::string("transaction of producer ") + std::to_string(id) + " " +
                          (commit ? "committed" : "aborted") + " after the restart (" +
                          (markers_in[id] ? std::string("its producer wrote the markers")
                                          : std::to_string(markers) + " partition(s)") +
                          ")" + (d == decided.end() ? ": it was open when kbusd stopped" : ""));
    }
}

void TransactionCoordinator::start_state_file() {
    if (fd_ >= 0) ::close(fd_);
    std::string lines;
    for (const auto& [id, t] : open_)
        lines += state_lines(id, t);
    for (const auto& [id, u] : unfinished_)
        lines += state_lines(id, u.transaction) + "D " + std::to_string(id) +
                 (u.type == log::ControlType::commit ? " 1\n" : " 0\n");
    log::write_file_durably(path_, lines);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) throw Error(ErrorCode::io_error, "cannot open " + path_);
    file_bytes_ = lines.size();
}

// What a restart needs of a transaction: its partitions without their marker yet, and its offsets.
std::string TransactionCoordinator::state_lines(std::int64_t producer_id, const Open& t) {
    std::string lines;
    const std::string id = std::to_string(producer_id);
    for (const Member& m : t.members)
        if (!m.marked)
            lines += "A " + id + " " + std::to_string(t.epoch) + " " + std::to_string(m.topic_id) +
                     " " + std::to_string(m.partition) + " " + std::to_string(m.slot) + " " +
                     std::to_string(m.first_offset) + "\n";
    for (const GroupOffsets& g : t.offsets)
        for (const auto& [tp, offset] : g.offsets)
            lines += "O " + id + " " + g.group + " " + tp.topic + " " +
                     std::to_string(tp.partition) + " " + std::to_string(offset) + "\n";
    return lines;
}

void TransactionCoordinator::note(const std::string& line) {
    if (::write(fd_, line.data(), line.size()) != ssize_t(line.size()))
        throw Error(ErrorCode::io_error, "cannot write " + path_ + " (disk full?)");
    file_bytes_ += line.size();
}

void TransactionCoordinator::check_epoch(std::int64_t producer_id, std::int32_t epoch) const {
    const std::optional<std::int16_t> newest = ids_.transactional_epoch(producer_id);
    if (!newest)
        throw Error(ErrorCode::invalid_txn_state,
                    "producer " + std::to_string(producer_id) +
                        " has no transactional id: it cannot run transactions");
    if (*newest != epoch) {
        const auto why = timed_out_.find(producer_id);
        throw Error(
            ErrorCode::producer_fenced,
            "producer " + std::to_string(producer_id) + " at epoch " + std::to_string(epoch) +
                " is fenced: " +
                (why != timed_out_.end() ? why->second : std::string("a newer instance started")));
    }
}

TransactionCoordinator::Open& TransactionCoordinator::open_for(std::int64_t producer_id,
                                                               std::int32_t epoch,
                                                               std::uint32_t connection,
                                                               std::int64_t timeout_ms,
                                                               std::int64_t now_ms) {
    check_epoch(producer_id, epoch);
    settle_if_decided(producer_id);  // the producer's last one, which it ended on its own
    if (unfinished_.count(producer_id) != 0)
        throw Error(ErrorCode::concurrent_transactions,
                    "producer " + std::to_string(producer_id) +
                        "'s previous transaction is still ending (its markers wait for room in "
                        "a full ring): retry");
    if (timeout_ms <= 0) throw Error(ErrorCode::invalid_argument, "bad transaction timeout");
    const auto [it, opened] = open_.try_emplace(producer_id);
    if (opened) {
        ids_.touch(producer_id, now_ms);  // in use: not the id forgotten for a new one
        it->second.epoch = std::int16_t(epoch);
        it->second.connection = connection;
        it->second.deadline_ms = now_ms + timeout_ms;
        // Release: the producer's compare-and-swap at its commit acquires it (after our reply).
        if (auto* word = ids_.transaction_word(producer_id))
            word->store(control::transaction_word(epoch, control::TransactionState::open),
                        std::memory_order_release);
    }
    return it->second;
}

void TransactionCoordinator::add_partition(const protocol::AddPartitionToTxnRequest& r,
                                           std::uint32_t connection, std::int64_t now_ms) {
    if (r.slot >= ring::producer_slot_count && r.slot != no_slot)
        throw Error(ErrorCode::invalid_argument, "bad producer slot");
    const std::shared_ptr<Partition> p = bus_.partition(r.topic_id, r.partition);  // or throws
    const std::lock_guard lock(mutex_);
    Open& t = open_for(r.producer_id, r.epoch, connection, r.timeout_ms, now_ms);
    for (const Member& m : t.members)
        if (m.topic_id == r.topic_id && m.partition == r.partition) return;
    // Noted before the reply, so before the producer's first record there: a restart finds it.
    const Member m{r.topic_id, r.partition, r.slot, false, std::int64_t(p->high_watermark())};
    Open noted{t.epoch, 0, 0, {m}, {}};
    note(state_lines(r.producer_id, noted));
    t.members.push_back(m);
}

void TransactionCoordinator::add_offsets(const group::TxnOffsetCommitRequest& r,
                                         std::uint32_t connection, std::int64_t now_ms) {
    if (groups_ == nullptr)
        throw Error(ErrorCode::unsupported, "this daemon commits no offsets in transactions");
    for (const std::string* name : {&r.group, &r.member_id})
        if (name->find_first_of(" \t\n") != std::string::npos)
            throw Error(ErrorCode::invalid_argument, "a group or member name with white space");
    // Checked as a commit is, now: a member fenced by a rebalance finds out before its commit.
    groups_->check_commit({r.group, r.generation, r.member_id, r.offsets});
    const std::lock_guard lock(mutex_);
    Open& t = open_for(r.producer_id, r.epoch, connection, r.timeout_ms, now_ms);
    const GroupOffsets g{r.group, r.generation, r.member_id, r.offsets};
    note(state_lines(r.producer_id, Open{t.epoch, 0, 0, {}, {g}}));
    t.offsets.push_back(g);
}

void TransactionCoordinator::open(std::int64_t producer_id, std::int32_t epoch,
                                  std::uint32_t connection, std::int64_t timeout_ms,
                                  std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    (void)open_for(producer_id, epoch, connection, timeout_ms, now_ms);
}

void TransactionCoordinator::append_outside_transaction(std::int64_t producer_id,
                                                        std::uint64_t topic_id,
                                                        std::int32_t partition,
                                                        const std::function<void()>& append) {
    const std::lock_guard lock(mutex_);
    if (in_open_transaction(producer_id, topic_id, partition))
        throw Error(ErrorCode::invalid_txn_state,
                    "producer " + std::to_string(producer_id) +
                        " sent non-transactional records to a partition of its open transaction");
    append();
}

bool TransactionCoordinator::in_open_transaction(std::int64_t producer_id, std::uint64_t topic_id,
                                                 std::int32_t partition) const {
    const auto it = open_.find(producer_id);
    return it != open_.end() &&
           std::any_of(it->second.members.begin(), it->second.members.end(), [&](const Member& m) {
               return m.topic_id == topic_id && m.partition == partition;
           });
}

void TransactionCoordinator::append_in_transaction(std::int64_t producer_id, std::int32_t epoch,
                                                   std::uint64_t topic_id, std::int32_t partition,
                                                   const std::function<void()>& append) {
    const std::lock_guard lock(mutex_);
    check_epoch(producer_id, epoch);
    if (!in_open_transaction(producer_id, topic_id, partition))
        throw Error(ErrorCode::invalid_txn_state,
                    "producer " + std::to_string(producer_id) +
                        " sent transactional records to a partition it did not add to an open "
                        "transaction");
    append();
}

std::optional<std::string> TransactionCoordinator::offsets_refused(const Open& t) const {
    for (const GroupOffsets& g : t.offsets)
        try {
            groups_->check_commit({g.group, g.generation, g.member, g.offsets});
        } catch (const Error& e) {
            return std::string(e.what());
        }
    return std::nullopt;
}

std::uint32_t TransactionCoordinator::end(std::int64_t producer_id, std::int32_t epoch,
                                          bool commit) {
    const std::lock_guard lock(mutex_);
    check_epoch(producer_id, epoch);
    const auto it = open_.find(producer_id);
    if (it == open_.end()) {
        const auto last = last_ended_.find(producer_id);
        if (last != last_ended_.end() && last->second.epoch == epoch &&
            last->second.commit == commit && unfinished_.count(producer_id) == 0)
            return 0;  // a retry of the end that was answered
        throw Error(ErrorCode::invalid_txn_state,
                    "producer " + std::to_string(producer_id) + " has no transaction open");
    }
    const Open t = it->second;
    open_.erase(it);
    // Offsets a rebalance fenced since they were sent: the transaction aborts, whole.
    const std::optional<std::string> refused = commit ? offsets_refused(t) : std::nullopt;
    last_ended_[producer_id] = {t.epoch, commit && !refused};
    (void)decide(producer_id, t.epoch,
                 commit && !refused ? control::TransactionState::committing
                                    : control::TransactionState::aborting);
    const std::uint32_t markers = finish(
        producer_id, t, commit && !refused ? log::ControlType::commit : log::ControlType::abort);
    if (refused)
        throw Error(ErrorCode::illegal_generation,
                    "the transaction was aborted, not committed: its group offsets no longer "
                    "hold (" +
                        *refused + ")");
    return markers;
}

std::uint32_t TransactionCoordinator::finish(std::int64_t producer_id, Open t,
                                             log::ControlType type, bool markers_written) {
    const bool commit = type == log::ControlType::commit;
    if (markers_written) {  // by the producer: noted as if written here
        note("D " + std::to_string(producer_id) + " " + (commit ? "1" : "0") + "\n");
        for (Member& m : t.members)
            m.marked = true;
    } else if (std::none_of(t.members.begin(), t.members.end(),
                            [](const Member& m) { return m.marked; })) {
        note("D " + std::to_string(producer_id) + " " + (commit ? "1" : "0") + "\n");
        // Decided: its offsets are the group's now, before any marker says so to a reader.
        if (commit && groups_ != nullptr)
            for (const GroupOffsets& g : t.offsets)
                groups_->commit_decided(g.group, g.offsets);
    }
    std::uint32_t written = 0;
    for (Member& m : t.members) {
        if (m.marked) continue;
        std::shared_ptr<Partition> p;
        try {
            p = bus_.partition(m.topic_id, m.partition);
        } catch (const Error&) {
            m.marked = true;  // the topic was deleted: no marker needed there
            continue;
        }
        try {
            bus_.reserve_ring(*p);  // a ring a reboot left unreserved takes no claim
            if (write_transaction_marker(*p, {producer_id, t.epoch, m.slot, type}, wake_spill_,
                                         marker_wait_ms_) >= 0)
                ++written;
        } catch (const Error&) {
            unfinished_[producer_id] = {t, type};
            throw;
        }
        m.marked = true;
    }
    unfinished_.erase(producer_id);
    note("E " + std::to_string(producer_id) + "\n");
    ids_.touch(producer_id, detail::wall_clock_ms());       // an end is a use, as Kafka counts it
    if (auto* word = ids_.transaction_word(producer_id)) {  // over: the next one may open
        std::uint32_t was = word->load(std::memory_order_acquire);
        if (control::transaction_epoch(was) == t.epoch)
            (void)word->compare_exchange_strong(
                was, control::transaction_word(t.epoch, control::TransactionState::idle),
                std::memory_order_acq_rel);
    }
    if (open_.empty() && unfinished_.empty() && ::ftruncate(fd_, 0) == 0)  // history says nothing
        file_bytes_ = 0;
    else if (file_bytes_ > state_file_rewrite_bytes)
        start_state_file();
    return written;
}

// A transaction left open in a log: its records there begin at or after the partition's end
// when it was added, which may lie before the stretch of the log's tail the spill reads at a
// start (10,000 offsets). The spill takes that offset as the transaction's first, so that
// read_committed readers stop there until its marker and an ABORT's index entry reaches back
// to it.
void TransactionCoordinator::hold_stable_offsets(std::int64_t producer_id, const Open& t) {
    for (const Member& m : t.members)
        try {
            const std::shared_ptr<Partition> p = bus_.partition(m.topic_id, m.partition);
            const std::int64_t start = p->log().log_start_offset();
            if (m.first_offset >= 0)
                p->recovered_open_transaction(producer_id, std::max(m.first_offset, start));
            else  // an older kbusd's file: held at the log's start until the marker
                p->log().set_first_open_transaction(start);
        } catch (const Error&) {  // the topic is gone
        }
}

void TransactionCoordinator::retry_unfinished() {
    // A tick's retry waits little: the control thread serves every client meanwhile.
    marker_wait_ms_ = 10;
    const std::map<std::int64_t, Unfinished> left = unfinished_;
    for (const auto& [id, u] : left)
        try {
            (void)finish(id, u.transaction, u.type);
        } catch (const Error& e) {
            sink_("WARN", "markers of producer " + std::to_string(id) +
                              "'s transaction still not written: " + e.what());
        }
    marker_wait_ms_ = 1000;
}

void TransactionCoordinator::abort_locked(std::int64_t producer_id, const char* why) {
    const auto it = open_.find(producer_id);
    if (it == open_.end()) return;
    const Open t = it->second;
    if (!decide(producer_id, t.epoch, control::TransactionState::aborting)) {
        (void)settle_if_decided(producer_id);  // its producer decided first: that stands
        return;
    }
    open_.erase(it);
    try {
        const std::uint32_t n = finish(producer_id, t, log::ControlType::abort);
        sink_("INFO", "transaction of producer " + std::to_string(producer_id) + " aborted (" +
                          why + "; " + std::to_string(n) + " partition(s))");
    } catch (const Error& e) {  // unfinished_: tried again at the next tick
        sink_("ERROR", "transaction of producer " + std::to_string(producer_id) +
                           " could not be aborted (" + why + "): " + e.what());
    }
}

void TransactionCoordinator::connection_closed(std::uint32_t connection) {
    const std::lock_guard lock(mutex_);
    std::vector<std::int64_t> ids;
    for (const auto& [id, t] : open_)
        if (t.connection == connection) ids.push_back(id);
    for (const std::int64_t id : ids)
        abort_locked(id, "its producer's connection closed");
}

void TransactionCoordinator::abort_open(std::int64_t producer_id, const char* why) {
    const std::lock_guard lock(mutex_);
    abort_locked(producer_id, why);
}

void TransactionCoordinator::settle_decided(std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    std::vector<std::int64_t> ids;
    // A producer still writing its markers is left to it (kbusd's would only double them) until
    // its timeout; one that died is settled as its connection closes.
    for (const auto& [id, t] : open_)
        if (const auto d = decision_of(id, t.epoch); d && (d->second || t.deadline_ms <= now_ms))
            ids.push_back(id);
    for (const std::int64_t id : ids)
        (void)settle_if_decided(id);
}

std::chrono::milliseconds TransactionCoordinator::expire(std::int64_t now_ms) {
    std::vector<std::int64_t> due;
    std::int64_t next = now_ms + 1000;
    settle_decided(now_ms);
    {
        const std::lock_guard lock(mutex_);
        for (const auto& [id, t] : open_)
            if (t.deadline_ms <= now_ms && !decision_of(id, t.epoch))
                due.push_back(id);
            else
                next = std::min(next, std::max(t.deadline_ms, now_ms + 1));
    }
    {
        const std::lock_guard lock(mutex_);
        retry_unfinished();
    }
    for (const std::int64_t id : due) {
        const std::lock_guard lock(mutex_);
        const auto it = open_.find(id);
        // Decided here first (a producer committing now loses), then fenced: the zombie's
        // sends land before the ABORT marker, or are refused.
        if (it == open_.end() || !decide(id, it->second.epoch, control::TransactionState::aborting))
            continue;  // its producer decided meanwhile: settled at the next look
        ids_.bump_epoch(id);
        timed_out_[id] = "its transaction outlived its timeout and was aborted";
        abort_locked(id, "past its transaction timeout");
    }
    return std::chrono::milliseconds(std::max<std::int64_t>(next - now_ms, 1));
}

std::optional<std::pair<bool, bool>> TransactionCoordinator::decision_of(std::int64_t producer_id,
                                                                         std::int32_t epoch) const {
    const auto* word = ids_.transaction_word(producer_id);
    if (word == nullptr) return std::nullopt;
    // Acquire: pairs with the producer's release store of markers_written (its markers first).
    const std::uint32_t w = word->load(std::memory_order_acquire);
    const control::TransactionState s = control::transaction_state(w);
    if (control::transaction_epoch(w) != epoch ||
        (s != control::TransactionState::committing && s != control::TransactionState::aborting))
        return std::nullopt;
    return std::pair{s == control::TransactionState::committing,
                     (w & control::transaction_markers_written) != 0};
}

bool TransactionCoordinator::decide(std::int64_t producer_id, std::int32_t epoch,
                                    control::TransactionState decision) {
    auto* word = ids_.transaction_word(producer_id);
    if (word == nullptr) return true;  // no word to share: ours alone
    std::uint32_t open = control::transaction_word(epoch, control::TransactionState::open);
    // Acq_rel: against the producer's own compare-and-swap; one of the two wins.
    if (word->compare_exchange_strong(open, control::transaction_word(epoch, decision),
                                      std::memory_order_acq_rel))
        return true;
    // Not open: already this decision (taken here before, or the producer's own, whose markers
    // are then written again, harmlessly), or no word for this transaction: ours alone. Any
    // other value is the producer's decision, which stands.
    return open == control::transaction_word(epoch, decision) ||
           control::transaction_state(open) == control::TransactionState::idle ||
           control::transaction_epoch(open) != epoch;
}

bool TransactionCoordinator::settle_if_decided(std::int64_t producer_id) {
    const auto it = open_.find(producer_id);
    if (it == open_.end()) return false;
    const auto d = decision_of(producer_id, it->second.epoch);
    if (!d) return false;
    const Open t = it->second;
    open_.erase(it);
    last_ended_[producer_id] = {t.epoch, d->first};
    const log::ControlType type = d->first ? log::ControlType::commit : log::ControlType::abort;
    try {
        (void)finish(producer_id, t, type, d->second);
    } catch (const Error& e) {  // unfinished_: tried again at the next tick
        sink_("ERROR", "transaction of producer " + std::to_string(producer_id) +
                           " not ended yet: " + e.what());
    }
    return true;
}

std::size_t TransactionCoordinator::open_transactions() const {
    const std::lock_guard lock(mutex_);
    return open_.size();
}

}  // namespace kbus::bus
