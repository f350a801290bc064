// kbusd's transaction coordinator (Kafka's): which partitions each transactional producer's open
// transaction has written to, and the markers that end it. A producer adds a partition at its
// first send there (AddPartitionToTxnRequest); its commit or abort (EndTxnRequest) writes a COMMIT
// or ABORT marker to each of them, in their rings, before the reply. A transaction is aborted by
// the coordinator when it outlives its timeout (the producer's epoch is then bumped, fencing it,
// as Kafka does), when its producer's connection closes, and when a newer instance of its
// transactional id starts.
//
// Durability: `<data dir>/__kbus_transactions` notes each partition added, each decision taken
// (before its markers are written) and each transaction completed, as the page cache keeps the
// log (Kafka's transaction log is not synced per write either). A restarted kbusd finishes what
// the file shows decided and aborts what it shows open, before it serves clients, so that no
// transaction stays open with nobody to end it.
//
// Thread-safe (the control thread, and the tick).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus.hpp"
#include "bus/producer_ids.hpp"
#include "bus/transaction_markers.hpp"
#include "groups/group_service.hpp"
#include "kbus/control_descriptor.hpp"
#include "kbus/control_messages.hpp"
#include "kbus/group_messages.hpp"
#include "kbus/log/control_record.hpp"
#include "logging/log_sink.hpp"

namespace kbus::bus {

class TransactionCoordinator {
  public:
    // `groups`: where a transaction's offsets go (null: send_offsets_to_transaction refused).
    TransactionCoordinator(Bus& bus, ProducerIdRegistry& ids, groups::GroupService* groups,
                           const std::string& data_dir, logging::LogSink sink,
                           std::function<void()> wake_spill);

    // A Kafka client's transaction (the listener's): no ring slot names its producer (its records
    // and markers carry its stamp), and no control connection ends it (Kafka clients reconnect;
    // only the timeout or a newer instance aborts what one leaves open).
    static constexpr std::uint32_t no_slot = no_marker_slot;
    static constexpr std::uint32_t no_connection = UINT32_MAX;

    // At start, before clients are served: decided transactions get their markers, open ones
    // are aborted. The state file starts afresh.
    void recover();
    // Throws Error(invalid_txn_state) for a producer with no transactional id,
    // Error(producer_fenced) for an epoch that is not its newest.
    void add_partition(const protocol::AddPartitionToTxnRequest& r, std::uint32_t connection,
                       std::int64_t now_ms);
    // A group's offsets to commit with the transaction (checked now, and again at the commit).
    void add_offsets(const group::TxnOffsetCommitRequest& r, std::uint32_t connection,
                     std::int64_t now_ms);
    // Kafka's AddOffsetsToTxn: the transaction opens, if it has not, for the offsets to come.
    void open(std::int64_t producer_id, std::int32_t epoch, std::uint32_t connection,
              std::int64_t timeout_ms, std::int64_t now_ms);
    // Runs `append` (a Kafka client's transactional records into the partition's ring) while the
    // producer's transaction is open with the partition in it, so that no marker can come between
    // the check and the records. Throws as check_epoch does, and Error(invalid_txn_state) for a
    // partition not added to an open transaction.
    // Runs `append` (a Kafka client's idempotent, non-transactional records) unless the producer
    // has a transaction open with the partition in it: Error(invalid_txn_state) then, as Kafka
    // refuses a non-transactional write in an ongoing transaction (the records would escape its
    // abort, their batch not being transactional).
    void append_outside_transaction(std::int64_t producer_id, std::uint64_t topic_id,
                                    std::int32_t partition, const std::function<void()>& append);
    void append_in_transaction(std::int64_t producer_id, std::int32_t epoch, std::uint64_t topic_id,
                               std::int32_t partition, const std::function<void()>& append);
    // The markers written. Throws Error(invalid_txn_state) when nothing is open,
    // Error(producer_fenced) as above (a transaction the coordinator aborted on timeout says so).
    // The same end asked again (a Kafka client retrying a reply it lost) is answered with 0.
    [[nodiscard]] std::uint32_t end(std::int64_t producer_id, std::int32_t epoch, bool commit);
    // A client is gone: its open transactions are aborted.
    void connection_closed(std::uint32_t connection);
    // What the producer left open is aborted (`why`: a newer instance of its transactional id
    // started, or it gave its slots back).
    void abort_open(std::int64_t producer_id, const char* why);
    // Notes the transactions their producers ended on their own (control::TransactionState):
    // those whose markers are all written, and those past their timeout (their markers written
    // here). now_ms = INT64_MAX: every decided one.
    void settle_decided(std::int64_t now_ms);
    // Settles those, aborts the transactions past their timeout; returns when to look again.
    [[nodiscard]] std::chrono::milliseconds expire(std::int64_t now_ms);
    [[nodiscard]] std::size_t open_transactions() const;

  private:
    struct Member {
        std::uint64_t topic_id = 0;
        std::int32_t partition = 0;
        std::uint32_t slot = 0;
        bool marked = false;  // its marker is written
        // The partition's high watermark when it was added: the transaction's records there are
        // at or after it (-1: unknown, a state file of an older kbusd).
        std::int64_t first_offset = -1;
    };
    struct GroupOffsets {
        std::string group;
        std::int32_t generation = -1;
        std::string member;
        group::OffsetList offsets;
    };
    struct Open {
        std::int16_t epoch = -1;
        std::uint32_t connection = 0;
        std::int64_t deadline_ms = 0;
        std::vector<Member> members;
        std::vector<GroupOffsets> offsets;  // committed with it
    };
    // Under the lock: the decision noted, a marker in each member, the end noted. A marker that
    // cannot be written (a ring full past the wait) leaves the rest for the next tick: the
    // producer's next transaction waits for them (Kafka's CONCURRENT_TRANSACTIONS), so that no
    // late marker lands after its records.
    // `markers_written`: by the producer itself (the decision and end are noted, nothing written).
    std::uint32_t finish(std::int64_t producer_id, Open t, log::ControlType type,
                         bool markers_written = false);
    // The producer's decision in its transaction word (control::TransactionState) for the
    // transaction at `epoch`: {commit, markers written}, nullopt while undecided (or no word).
    [[nodiscard]] std::optional<std::pair<bool, bool>> decision_of(std::int64_t producer_id,
                                                                   std::int32_t epoch) const;
    // Takes the decision in the word, if the producer has not: false if it had.
    [[nodiscard]] bool decide(std::int64_t producer_id, std::int32_t epoch,
                              control::TransactionState decision);
    // A transaction its producer decided (and maybe ended) on its own: noted, its markers written
    // if the producer did not write them all, and closed. False if undecided.
    bool settle_if_decided(std::int64_t producer_id);
    // Throws producer_fenced unless `epoch` is the producer's newest, invalid_txn_state if it has
    // no transactional id.
    void check_epoch(std::int64_t producer_id, std::int32_t epoch) const;
    // The transaction's first word (a partition or offsets): checks the producer, opens it.
    Open& open_for(std::int64_t producer_id, std::int32_t epoch, std::uint32_t connection,
                   std::int64_t timeout_ms, std::int64_t now_ms);
    // Before a commit's decision: whether its offsets still hold (a rebalance since they were
    // sent makes it an abort); the reason if not.
    [[nodiscard]] std::optional<std::string> offsets_refused(const Open& t) const;
    [[nodiscard]] static std::string state_lines(std::int64_t producer_id, const Open& t);
    void retry_unfinished();
    void hold_stable_offsets(std::int64_t producer_id, const Open& t);
    // Under the lock.
    [[nodiscard]] bool in_open_transaction(std::int64_t producer_id, std::uint64_t topic_id,
                                           std::int32_t partition) const;
    void abort_locked(std::int64_t producer_id, const char* why);
    void note(const std::string& line);
    void start_state_file();
    [[nodiscard]] std::map<std::int64_t, Open> read_state_file(
        std::map<std::int64_t, bool>& decided);

    Bus& bus_;
    ProducerIdRegistry& ids_;
    groups::GroupService* groups_;
    std::string path_;
    logging::LogSink sink_;
    std::function<void()> wake_spill_;
    mutable std::mutex mutex_;
    std::map<std::int64_t, Open> open_;  // by producer id
    struct Unfinished {
        Open transaction;
        log::ControlType type;
    };
    std::map<std::int64_t, Unfinished> unfinished_;  // decided, markers still to write
    std::map<std::int64_t, std::string> timed_out_;  // producer id -> why its epoch moved on
    struct Ended {
        std::int16_t epoch = -1;
        bool commit = false;
    };
    std::map<std::int64_t, Ended> last_ended_;  // producer id -> how its last transaction ended
    int fd_ = -1;
    // How long a marker waits for room in a full ring: a client's commit a second, a retry at a
    // tick 10 ms (the control thread serves every client meanwhile).
    std::int64_t marker_wait_ms_ = 1000;
    std::uint64_t file_bytes_ = 0;
};

}  // namespace kbus::bus
