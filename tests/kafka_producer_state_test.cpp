// The Kafka listener's idempotent-producer rules (producer_state.hpp), against Kafka's
// ProducerStateManager: duplicates within the last five batches answered with their first
// offset, gaps and old epochs refused, new epochs starting at 0, sequences wrapping at INT32_MAX.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>

#include "kafka/producer_state.hpp"

using kbus::kafka::KafkaError;
using kbus::kafka::ProducerStamp;
using kbus::kafka::ProducerStateTable;
using Verdict = ProducerStateTable::Verdict;

namespace {

// Appends the batch if the table says so; returns the verdict.
ProducerStateTable::Check offer(ProducerStateTable& t, std::int64_t id, std::int16_t epoch,
                                std::int32_t first, std::int32_t count, std::int64_t offset) {
    const ProducerStamp stamp{id, epoch, first, count};
    const auto c = t.check("t-0", stamp);
    if (c.verdict == Verdict::append) t.appended("t-0", stamp, offset, 0);
    return c;
}

// Ids as kbusd's registry hands them out: new, increasing.
std::function<std::int64_t()> ids_from(std::int64_t first) {
    return [next = first]() mutable { return next++; };
}

}  // namespace

TEST_CASE("idempotent batches: in order appended, retried answered, gaps refused", "[kafka]") {
    ProducerStateTable t(ids_from(1000));
    const auto id = t.init(std::nullopt).id;
    CHECK(offer(t, id, 0, 0, 2, 0).verdict == Verdict::append);
    for (int b = 1; b <= 6; ++b)
        CHECK(offer(t, id, 0, 2 * b, 2, 2 * b).verdict == Verdict::append);
    // The last five batches are known; a retry of one is answered with its offset.
    const auto retried = offer(t, id, 0, 8, 2, -1);
    CHECK(retried.verdict == Verdict::duplicate);
    CHECK(retried.base_offset == 8);
    // Older than five batches: out of order, as in Kafka.
    CHECK(offer(t, id, 0, 2, 2, -1).error == KafkaError::out_of_order_sequence_number);
    // A gap, and the same first sequence with another length.
    CHECK(offer(t, id, 0, 16, 1, -1).error == KafkaError::out_of_order_sequence_number);
    CHECK(offer(t, id, 0, 12, 3, -1).error == KafkaError::out_of_order_sequence_number);
    CHECK(offer(t, id, 0, 14, 1, 14).verdict == Verdict::append);
    // Other partitions and other producers are their own sequences.
    CHECK(t.check("t-1", {id, 0, 0, 1}).verdict == Verdict::append);
    // A producer with no state here (new, or from before a restart) starts where it is.
    CHECK(t.check("t-0", {id + 1, 0, 3, 1}).verdict == Verdict::append);
    // Batches of no producer pass untouched.
    CHECK(t.check("t-0", {-1, -1, -1, 5}).verdict == Verdict::append);
}

TEST_CASE("producer epochs: a bump restarts at 0, an old epoch is fenced", "[kafka]") {
    ProducerStateTable t(ids_from(1000));
    const auto first = t.init(std::nullopt);
    CHECK(offer(t, first.id, 0, 0, 1, 0).verdict == Verdict::append);
    const auto bumped = t.init(first);
    CHECK(bumped.id == first.id);
    CHECK(bumped.epoch == 1);
    CHECK(t.init(first).id != first.id);  // epoch 0 is no longer current: a new id
    CHECK(offer(t, first.id, 1, 3, 1, -1).error == KafkaError::out_of_order_sequence_number);
    CHECK(offer(t, first.id, 1, 0, 1, 1).verdict == Verdict::append);
    CHECK(offer(t, first.id, 0, 1, 1, -1).error == KafkaError::invalid_producer_epoch);
    CHECK(offer(t, first.id, 1, 1, 1, 2).verdict == Verdict::append);
}

TEST_CASE("sequence numbers wrap from INT32_MAX to 0", "[kafka]") {
    ProducerStateTable t(ids_from(1000));
    const auto id = t.init(std::nullopt).id;
    constexpr std::int32_t top = std::numeric_limits<std::int32_t>::max();
    CHECK(offer(t, id, 0, 0, 1, 0).verdict == Verdict::append);
    // A producer that has sent up to just below the top (as its state says after a gap-free run).
    CHECK(offer(t, id, 0, 1, top - 1, 1).verdict == Verdict::append);  // 1 .. top-1
    CHECK(offer(t, id, 0, top, 2, top).verdict == Verdict::append);    // top, then 0
    CHECK(offer(t, id, 0, 1, 1, std::int64_t(top) + 2).verdict == Verdict::append);
}
