// kbusd's producer ids (Kafka's InitProducerId), one space for local idempotent producers and
// Kafka clients alike, so that the stamps in a partition's log never mix two producers.
//
// Without a transactional id a producer gets a new id at epoch 0. With one, it gets that id's
// producer id at the next epoch, which fences the instance before it: the id's ProducerFence in
// the control segment (control_descriptor.hpp) moves to the new epoch, and the old instance's next
// send is refused. Transactional ids, their producer ids, epochs and fence slots are kept in
// `<data dir>/__kbus_producer_ids` (replaced durably at each change), so a restarted kbusd goes
// on fencing. Ids start past every id handed out before (the file's highest, and the wall clock
// in ms times 1000 at start), so a restarted kbusd never hands out an id a client still holds.
//
// Thread-safe: the control thread and the Kafka listener both grant ids.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kbus/control_descriptor.hpp"
#include "kbus/detail/clock.hpp"
#include "logging/log_sink.hpp"

namespace kbus::bus {

class ProducerIdRegistry {
  public:
    struct Grant {
        std::int64_t producer_id = -1;
        std::int16_t epoch = -1;
        std::int32_t fence_slot = -1;  // -1: no transactional id
    };

    // `control`: the control segment whose fence table this registry keeps (null in unit tests).
    ProducerIdRegistry(std::string data_dir, control::ControlSegment* control,
                       logging::LogSink sink);

    // A new producer id at epoch 0.
    [[nodiscard]] Grant grant_new();
    // Whether `producer_id` may have been handed out by an earlier kbusd (ids only grow).
    [[nodiscard]] bool granted_before_start(std::int64_t producer_id) const noexcept {
        return producer_id < first_id_this_run_;
    }
    // A transactional id's producer id at its next epoch (a new producer id once the epoch is
    // exhausted, as Kafka does). A new id takes a free fence slot; with all of them taken, the
    // slot of the id used least recently, if it has no transaction open and was last used at
    // least reuse_after_ms ago (that id is forgotten: any instance of it is fenced, and its next
    // grant starts it afresh, as Kafka's transactional.id.expiration.ms expires ids). Throws
    // Error(resource_exhausted) when there is none such, Error(invalid_argument) for an id over
    // 32767 bytes. `now_ms`: the wall clock.
    [[nodiscard]] Grant grant_for(const std::string& transactional_id,
                                  std::int64_t now_ms = detail::wall_clock_ms());
    // The producer's transactional id was used now (a transaction opened at its first send, or
    // ended): it is not forgotten for a new id while others have been idle longer.
    void touch(std::int64_t producer_id, std::int64_t now_ms);
    static constexpr std::int64_t reuse_after_ms = 60'000;

    [[nodiscard]] std::size_t transactional_ids() const;
    // The newest epoch of a transactional id's producer id (nullopt: the id is no transactional
    // producer's, so it cannot run transactions).
    [[nodiscard]] std::optional<std::int16_t> transactional_epoch(std::int64_t producer_id) const;
    // A transactional producer's epoch moves on without a new instance asking (its transaction
    // timed out, Kafka's fencing of the zombie): the fence table shows the new epoch.
    void bump_epoch(std::int64_t producer_id);
    // The transaction word of a transactional producer's fence (control::TransactionState);
    // null for an id with no transactional id, or without a control segment (unit tests).
    [[nodiscard]] std::atomic<std::uint32_t>* transaction_word(std::int64_t producer_id) const;

  private:
    struct Entry {
        std::int64_t producer_id = -1;
        std::int16_t epoch = -1;
        std::int32_t fence_slot = -1;
        std::int64_t last_used_ms = 0;  // wall clock; not kept in the file (a start counts)
    };
    void load();
    void save() const;
    void publish_fence(const Entry& e) const;
    [[nodiscard]] std::int32_t free_slot() const;
    // The slot of the least recently used id that may give it up (see grant_for); -1: none.
    [[nodiscard]] std::int32_t reclaim_slot(std::int64_t now_ms);

    std::string path_;
    control::ControlSegment* control_;
    logging::LogSink sink_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;  // by transactional id
    std::int64_t next_id_ = 0;
    std::int64_t first_id_this_run_ = 0;  // set at construction, then only read
};

}  // namespace kbus::bus
