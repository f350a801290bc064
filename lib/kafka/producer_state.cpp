#include "kafka/producer_state.hpp"

#include <limits>

namespace kbus::kafka {
namespace {

std::int32_t last_sequence(const ProducerStamp& stamp) {
    return log::sequence_after(stamp.first_sequence, stamp.record_count - 1);
}

}  // namespace

ProducerStateTable::ProducerId ProducerStateTable::init(std::optional<ProducerId> current) {
    if (current) {
        const auto it = issued_.find(current->id);
        if (it != issued_.end() && it->second == current->epoch &&
            current->epoch < std::numeric_limits<std::int16_t>::max()) {
            ++it->second;
            return {it->first, it->second};
        }
    }
    const std::int64_t id = new_id_();
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
    if (it == partitions_.end()) return {.unknown_here = true};
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
    if (stamp.first_sequence != log::sequence_after(e.newest().last, 1))
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
