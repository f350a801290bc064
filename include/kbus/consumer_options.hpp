// What a Consumer is configured with (Kafka's consumer settings, by their Kafka names), where it
// starts reading (OffsetSpec), and the listener it tells about rebalances.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kbus/protocol.hpp"
#include "kbus/topic_partition.hpp"

namespace kbus {

enum class WaitMode {
    busy_poll,  ///< spin on the commit words: lowest latency, burns a core while waiting
    blocking,   ///< spin briefly, then sleep on a futex until a producer commits
    /// Look, and give the core away (sched_yield) between looks that find nothing: for more busy
    /// consumers than cores, where a spinning one holds a core that the producer or another
    /// consumer needs, and sleeping costs a wake-up a commit (Aeron's YieldingIdleStrategy). On a
    /// core of its own it answers like busy_poll, a system call later.
    yielding,
};

class Consumer;

/// Told when a group rebalance moves partitions (Kafka's ConsumerRebalanceListener). Revoked is
/// called while the consumer still owns the partitions, so it may commit; lost means it was
/// fenced (it missed a rebalance) and may no longer commit them.
class RebalanceListener {
  public:
    virtual ~RebalanceListener() = default;
    virtual void on_partitions_assigned(Consumer&, const std::vector<group::TopicPartition>&) {}
    virtual void on_partitions_revoked(Consumer&, const std::vector<group::TopicPartition>&) {}
    virtual void on_partitions_lost(Consumer& c, const std::vector<group::TopicPartition>& p) {
        on_partitions_revoked(c, p);
    }
};

enum class OffsetReset { earliest, latest };                     ///< auto.offset.reset
enum class IsolationLevel { read_uncommitted, read_committed };  ///< isolation.level

struct ConsumerOptions {
    WaitMode wait = WaitMode::blocking;
    std::size_t max_poll_records = 500;  ///< Kafka's max.poll.records
    std::chrono::microseconds spin_before_sleep{50};
    /// fetch.min.bytes: a poll that finds records waits until they hold at least this many bytes
    /// (a record counts its key, value and headers, plus 48 for its header in the ring), until
    /// fetch_max_wait has passed since it began, until max_poll_records, or until its timeout.
    /// 1, Kafka's default: a poll returns as soon as anything is there (lowest latency). Larger
    /// trades latency for throughput: a consumer caught up with a fast stream otherwise looks at
    /// the very cache line its producer writes next, once a record, and each look costs the
    /// producer a transfer of that line between cores. A poll never waits for more than a
    /// quarter of the smallest assigned ring holds (what it holds holds producers back); it
    /// returns what it has when a partition read from disk can give no more before the next
    /// poll, and, in a group, before a heartbeat or an auto-commit is due (the group's protocol
    /// never runs while a poll holds records it has not returned; a fill there lasts at most
    /// heartbeat_interval). A negative fetch_max_wait counts as 0.
    std::size_t fetch_min_bytes = 1;
    std::chrono::milliseconds fetch_max_wait{500};  ///< fetch.max.wait.ms
    /// check.crcs: the CRC-32C of every batch read from disk is checked (records lost to damage
    /// are then reported as corrupt_record). Off, only a batch's framing is.
    bool check_crcs = true;
    /// isolation.level: read_uncommitted (Kafka's default) returns every record;
    /// read_committed returns a transaction's records only once it committed (never an aborted
    /// one's) and stops at the last stable offset, the first record of a transaction still open.
    IsolationLevel isolation_level = IsolationLevel::read_uncommitted;

    /// Consumer groups, with Kafka's names: set group_id, then subscribe() joins the group.
    std::string group_id{};                                 ///< group.id
    std::string client_id = "kbus";                         // client.id
    std::chrono::milliseconds session_timeout{1000};        ///< session.timeout.ms
    std::chrono::milliseconds heartbeat_interval{100};      ///< heartbeat.interval.ms
    std::vector<std::string> assignment_strategy{"range"};  // partition.assignment.strategy
    bool enable_auto_commit = true;                         ///< enable.auto.commit
    std::chrono::milliseconds auto_commit_interval{5000};   ///< auto.commit.interval.ms
    OffsetReset auto_offset_reset = OffsetReset::earliest;  ///< auto.offset.reset
    RebalanceListener* rebalance_listener = nullptr;
};

class OffsetSpec {
  public:
    static OffsetSpec beginning() { return OffsetSpec(protocol::OffsetSpecKind::beginning, 0); }
    static OffsetSpec end() { return OffsetSpec(protocol::OffsetSpecKind::end, 0); }
    static OffsetSpec at(std::int64_t offset) {
        return OffsetSpec(protocol::OffsetSpecKind::offset, offset);
    }
    /// The first offset whose timestamp is >= ms since the epoch (the end if there is none).
    static OffsetSpec at_timestamp(std::int64_t ms) {
        return OffsetSpec(protocol::OffsetSpecKind::timestamp, ms);
    }
    [[nodiscard]] protocol::OffsetSpecKind kind() const noexcept { return kind_; }
    [[nodiscard]] std::int64_t offset() const noexcept { return offset_; }

  private:
    OffsetSpec(protocol::OffsetSpecKind k, std::int64_t o) : kind_(k), offset_(o) {}
    protocol::OffsetSpecKind kind_;
    std::int64_t offset_;
};

}  // namespace kbus
