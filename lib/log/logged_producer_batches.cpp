#include "log/logged_producer_batches.hpp"

namespace kbus::log {

void LoggedProducerBatches::add(const BatchView& b) {
    if (b.producer_id() < 0 || b.base_sequence() < 0 || b.is_control()) return;
    std::vector<Span>& spans = spans_[b.producer_id()];
    if (spans.size() == spans_per_producer) spans.erase(spans.begin());
    spans.push_back({b.producer_epoch(), b.base_sequence(), b.last_offset() - b.base_offset() + 1,
                     b.base_offset()});
}

std::optional<std::int64_t> LoggedProducerBatches::Span::offset_of(std::int32_t sequence) const {
    // How far past the span's first sequence, in the sequence space that wraps at INT32_MAX.
    const std::int64_t space = std::int64_t(INT32_MAX) + 1;
    const std::int64_t past = ((std::int64_t(sequence) - first_sequence) % space + space) % space;
    if (past >= count) return std::nullopt;
    return base_offset + past;
}

std::optional<std::int64_t> LoggedProducerBatches::offset_of(std::int64_t id, std::int16_t epoch,
                                                             std::int32_t first,
                                                             std::int32_t last) const {
    const auto it = spans_.find(id);
    if (it == spans_.end()) return std::nullopt;
    std::optional<std::int64_t> first_at, last_at;
    for (const Span& s : it->second) {
        if (s.epoch != epoch) continue;
        if (const auto at = s.offset_of(first)) first_at = at;
        if (const auto at = s.offset_of(last)) last_at = at;
    }
    // The whole batch is there (a later one of the producer's cannot hold its last record alone).
    if (!first_at || !last_at || *last_at < *first_at) return std::nullopt;
    return first_at;
}

}  // namespace kbus::log
