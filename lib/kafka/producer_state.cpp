#include "kafka/producer_state.hpp"

#include <limits>

namespace kbus::kafka {
namespace {

// Sequence numbers wrap from INT32_MAX to 0, as Kafka's do.
std::int32_t next_sequence(std::int32_t s) {
    return s == std::numeric_limits<std::int32_t>::max() ? 0 : s + 1;
}

std::int32_t last_sequence(const ProducerStamp& stamp) {
    const std::int64_t last = std::int64_t(stamp.first_sequence) + stamp.record_count - 1;
    return std::int32_t(last % (std::int64_t(std::numeric_limits<std::int32_t>::max()) + 1));
}

}  // namespace

ProducerStateTable::ProducerId ProducerStateTable::init(std::optional<ProducerId> current,
                                                        std::int64_t now_ms) {
    if (current) {
        const auto it = issued_.find(current->id);
        if (it != issued_.end() && it->second == current->epoch &&
            current->epoch < std::numeric_limits<std::int16_t>::max()) {
            ++it->second;
            return {it->first, it->second};
        }
    }
    // Ids from the wall clock at the first grant: a restarted kbusd does not hand out an id a
    // client still holds (that client's batches then get UNKNOWN_PRODUCER_ID, not a false
    // duplicate).
    if (next_id_ < 0) next_id_ = now_ms * 1000;
    const std::int64_t id = id_source_ ? id_source_() : next_id_++;
    issued_[id] = 0;
    if (issued_.size() > max_issued) issued_.erase(issued_.begin());  // the oldest grant
    return {id, 0};
}

ProducerStateTable::Check ProducerStateTable::check(const std::string& partition_key,
                                                    const ProducerStamp& stamp) const {
    if (stamp.id < 0) return {};  // not an idempotent producer's batch
    if (stamp.epoch < 0 || stamp.first_sequence < 0)
        return {Verdict::refuse, KafkaError::invalid_record};
    const auto it = partitions_.find({partition_key, stamp.id});
    // A producer this partition has no state for (new here, expired, or from before a restart)
    // may start at any sequence, as Kafka 2.5+ takes it (KIP-360).
    if (it == partitions_.end()) return {};
    const Entry& e = it->second;
    if (stamp.epoch < e.epoch) return {Verdict::refuse, KafkaError::invalid_producer_epoch};
    if (stamp.epoch > e.epoch) {
        if (stamp.first_sequence == 0) return {};
        return {Verdict::refuse, KafkaError::out_of_order_sequence_number};
    }
    const std::int32_t last = last_sequence(stamp);
    for (std::size_t i = 0; i < std::min<std::size_t>(e.count, e.recent.size()); ++i)
        if (e.recent[i].first == stamp.first_sequence && e.recent[i].last == last)
            return {Verdict::duplicate, KafkaError::none, e.recent[i].base_offset};
    if (stamp.first_sequence != next_sequence(e.newest().last))
        return {Verdict::refuse, KafkaError::out_of_order_sequence_number};
    return {};
}

void ProducerStateTable::appended(const std::string& partition_key, const ProducerStamp& stamp,
                                  std::int64_t base_offset, std::int64_t now_ms) {
    if (stamp.id < 0) return;
    Entry& e = partitions_[{partition_key, stamp.id}];
    if (stamp.epoch != e.epoch) e = Entry{stamp.epoch};
    e.recent[e.count % e.recent.size()] = {stamp.first_sequence, last_sequence(stamp), base_offset};
    ++e.count;
    e.last_used_ms = now_ms;
    expire(now_ms);
}

void ProducerStateTable::expire(std::int64_t now_ms) {
    if (now_ms < next_expiry_ms_) return;
    next_expiry_ms_ = now_ms + 60'000;  // a sweep a minute at most
    std::erase_if(partitions_,
                  [&](const auto& kv) { return now_ms - kv.second.last_used_ms > expiration_ms; });
}

}  // namespace kbus::kafka
