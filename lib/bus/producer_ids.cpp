#include "bus/producer_ids.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <vector>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "log/file.hpp"

namespace kbus::bus {
namespace {

// A transactional id may hold any bytes: the file keeps it in hex, one entry a line.
std::string to_hex(const std::string& s) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : s) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out.empty() ? "-" : out;
}

bool from_hex(const std::string& hex, std::string& out) {
    out.clear();
    if (hex == "-") return true;
    if (hex.size() % 2 != 0) return false;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const auto nibble = [](char c) {
            return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        };
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(char(hi * 16 + lo));
    }
    return true;
}

}  // namespace

ProducerIdRegistry::ProducerIdRegistry(std::string data_dir, control::ControlSegment* control,
                                       logging::LogSink sink)
    : path_(std::move(data_dir) + "/__kbus_producer_ids"),
      control_(control),
      sink_(std::move(sink)) {
    next_id_ = detail::wall_clock_ms() * 1000;
    load();
    first_id_this_run_ = next_id_;
    if (control_ != nullptr)
        for (std::uint32_t i = 0; i < control::producer_fence_slots; ++i)
            publish_fence({-1, -1, std::int32_t(i)});  // slots of ids no longer known: nobody's
    for (const auto& kv : entries_)
        publish_fence(kv.second);
}

ProducerIdRegistry::Grant ProducerIdRegistry::grant_new() {
    const std::lock_guard lock(mutex_);
    return {next_id_++, 0, -1};
}

ProducerIdRegistry::Grant ProducerIdRegistry::grant_for(const std::string& transactional_id,
                                                        std::int64_t now_ms) {
    if (transactional_id.size() > 32767)
        throw Error(ErrorCode::invalid_argument, "a transactional id over 32767 bytes");
    const std::lock_guard lock(mutex_);
    auto it = entries_.find(transactional_id);
    if (it == entries_.end()) {
        std::int32_t slot = free_slot();
        if (slot < 0) slot = reclaim_slot(now_ms);
        if (slot < 0)
            throw Error(ErrorCode::resource_exhausted,
                        "every one of the bus's " + std::to_string(control::producer_fence_slots) +
                            " transactional ids is taken, each used in the last " +
                            std::to_string(reuse_after_ms / 1000) + " s or in a transaction");
        it = entries_.emplace(transactional_id, Entry{next_id_++, 0, slot}).first;
    } else if (it->second.epoch == std::numeric_limits<std::int16_t>::max() - 1) {
        it->second = {next_id_++, 0, it->second.fence_slot};  // the epoch is exhausted
    } else {
        ++it->second.epoch;
    }
    it->second.last_used_ms = now_ms;
    // Saved before the grant is answered: a restarted kbusd must not hand out this epoch again.
    save();
    publish_fence(it->second);
    return {it->second.producer_id, it->second.epoch, it->second.fence_slot};
}

void ProducerIdRegistry::touch(std::int64_t producer_id, std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    for (auto& [id, e] : entries_)
        if (e.producer_id == producer_id) e.last_used_ms = now_ms;
}

std::int32_t ProducerIdRegistry::reclaim_slot(std::int64_t now_ms) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const Entry& e = it->second;
        const bool idle =
            control_ == nullptr ||
            // Acquire: a transaction's opening store (the coordinator's) is seen whole.
            control::transaction_state(control_->fences[e.fence_slot].transaction.load(
                std::memory_order_acquire)) == control::TransactionState::idle;
        if (idle && now_ms - e.last_used_ms >= reuse_after_ms &&
            (oldest == entries_.end() || e.last_used_ms < oldest->second.last_used_ms))
            oldest = it;
    }
    if (oldest == entries_.end()) return -1;
    const std::int32_t slot = oldest->second.fence_slot;
    std::string name = oldest->first.substr(0, 200);  // any bytes: printable ones in the log
    for (char& c : name)
        if (c < 0x20 || c > 0x7e) c = '?';
    sink_("INFO", "transactional id '" + name + "' forgotten after " +
                      std::to_string((now_ms - oldest->second.last_used_ms) / 1000) +
                      " s unused: its fence slot goes to a new id (all " +
                      std::to_string(control::producer_fence_slots) + " were taken)");
    entries_.erase(oldest);
    return slot;
}

std::size_t ProducerIdRegistry::transactional_ids() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

std::optional<std::int16_t> ProducerIdRegistry::transactional_epoch(
    std::int64_t producer_id) const {
    const std::lock_guard lock(mutex_);
    for (const auto& [id, e] : entries_)
        if (e.producer_id == producer_id) return e.epoch;
    return std::nullopt;
}

void ProducerIdRegistry::bump_epoch(std::int64_t producer_id) {
    std::string id;
    {
        const std::lock_guard lock(mutex_);
        for (const auto& [name, e] : entries_)
            if (e.producer_id == producer_id) id = name;
        if (id.empty()) return;
    }
    (void)grant_for(id);  // the grant nobody asked for: the epoch is taken
}

std::atomic<std::uint32_t>* ProducerIdRegistry::transaction_word(std::int64_t producer_id) const {
    const std::lock_guard lock(mutex_);
    if (control_ == nullptr) return nullptr;
    for (const auto& [id, e] : entries_)
        if (e.producer_id == producer_id && e.fence_slot >= 0)
            return &control_->fences[e.fence_slot].transaction;
    return nullptr;
}

std::int32_t ProducerIdRegistry::free_slot() const {
    std::vector<bool> taken(control::producer_fence_slots);
    for (const auto& kv : entries_)
        taken[std::size_t(kv.second.fence_slot)] = true;
    const auto free = std::find(taken.begin(), taken.end(), false);
    return free == taken.end() ? -1 : std::int32_t(free - taken.begin());
}

void ProducerIdRegistry::publish_fence(const Entry& e) const {
    if (control_ == nullptr || e.fence_slot < 0) return;
    control::ProducerFence& f = control_->fences[e.fence_slot];
    // Relaxed, both: a producer compares only the epoch with its own; the id is for messages.
    f.producer_id.store(e.producer_id, std::memory_order_relaxed);
    f.epoch.store(e.epoch, std::memory_order_relaxed);
}

// Lines: "<transactional id in hex> <producer id> <epoch> <fence slot>". A line that does not
// parse, or a slot out of range or taken twice, is logged and dropped (its id starts afresh).
void ProducerIdRegistry::load() {
    std::string text;
    if (!log::read_whole_file(path_, text)) return;
    std::istringstream in(text);
    std::string line;
    std::vector<bool> taken(control::producer_fence_slots);
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string hex, id;
        Entry e;
        std::int32_t epoch = -1;
        // Epochs stop one short of the largest (grant_for moves to a new id there), and ids far
        // below the largest, so that the next id never overflows; no two ids share a producer id.
        if (!(fields >> hex >> e.producer_id >> epoch >> e.fence_slot) || !from_hex(hex, id) ||
            e.producer_id < 0 || e.producer_id > (std::int64_t(1) << 62) || epoch < 0 ||
            epoch >= std::numeric_limits<std::int16_t>::max() || e.fence_slot < 0 ||
            std::uint32_t(e.fence_slot) >= control::producer_fence_slots ||
            taken[std::size_t(e.fence_slot)] || entries_.count(id) != 0 ||
            std::any_of(entries_.begin(), entries_.end(),
                        [&](const auto& kv) { return kv.second.producer_id == e.producer_id; })) {
            sink_("WARN", path_ + ": a malformed line dropped: '" + line + "'");
            continue;
        }
        e.epoch = std::int16_t(epoch);
        e.last_used_ms = detail::wall_clock_ms();  // a start counts as a use
        taken[std::size_t(e.fence_slot)] = true;
        entries_[id] = e;
        next_id_ = std::max(next_id_, e.producer_id + 1);
    }
}

void ProducerIdRegistry::save() const {
    std::ostringstream out;
    for (const auto& [id, e] : entries_)
        out << to_hex(id) << ' ' << e.producer_id << ' ' << e.epoch << ' ' << e.fence_slot << '\n';
    log::write_file_durably(path_, out.str());
}

}  // namespace kbus::bus
