// Consumer groups as kbusd serves them, to its own clients and to Kafka clients alike: the
// coordinator (Kafka's classic protocol), the durable offset store, and the commit slots in the
// rings, under one lock. Every group request of the control socket and of the Kafka listener is
// one call here.
//
// Thread-safe. The lock is this service's own (never the bus's registry lock, which the calls
// here take briefly and after it); slot commits are persisted before any answer that depends on
// committed offsets, so what members committed in shared memory counts from that moment.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "groups/commit_slots.hpp"
#include "groups/group_coordinator.hpp"
#include "groups/offset_store.hpp"
#include "kbus/bus_stats.hpp"
#include "kbus/group_messages.hpp"
#include "logging/log_sink.hpp"

namespace kbus::groups {

class GroupService {
  public:
    // Kafka members are not tied to a connection (librdkafka talks to the coordinator on a
    // connection of its own and may reconnect): their session timeout expires them.
    static constexpr std::uint32_t no_connection = 0;

    GroupService(const std::string& data_dir, bus::Bus& bus, logging::LogSink sink);

    [[nodiscard]] group::JoinGroupReply join(const group::JoinGroupRequest& request,
                                             std::uint32_t connection);
    // The assignment (pending while the leader has not synced), with commit grants for the
    // member's own partitions when `with_grants` (kbus clients; Kafka clients commit by request).
    [[nodiscard]] group::SyncGroupReply sync(const group::SyncGroupRequest& request,
                                             bool with_grants);
    void heartbeat(const group::HeartbeatRequest& request);
    void leave(const group::LeaveGroupRequest& request);
    void commit(const group::CommitOffsetsRequest& request, const CommitMetadata& metadata = {});
    // A transaction's offsets (Kafka's TxnOffsetCommit): checked as a commit is when sent and
    // again before the transaction commits; stored once its COMMIT is decided, unchecked then
    // (a restarted kbusd finishing a decided transaction has no members to check against).
    void check_commit(const group::CommitOffsetsRequest& request);
    void commit_decided(const std::string& group, const group::OffsetList& offsets);
    [[nodiscard]] std::string metadata(const std::string& group, const group::TopicPartition& tp);
    [[nodiscard]] group::PartitionOffsets committed(const std::string& group,
                                                    const std::string& topic);
    [[nodiscard]] std::vector<group::GroupListing> list();
    [[nodiscard]] group::GroupDescription describe(const std::string& group);
    void remove(const std::string& group);
    [[nodiscard]] std::vector<group::TopicPartition> delete_offsets(
        const std::string& group, const std::vector<group::TopicPartition>& partitions);
    [[nodiscard]] group::PartitionOffsets reset(const group::ResetOffsetsRequest& request);
    // Every group's committed offset and lag per partition, for the stats.
    [[nodiscard]] std::vector<stats::GroupPartitionLag> lags();

    void connection_closed(std::uint32_t connection);
    void topic_deleted(const std::string& topic);
    // Session expiry, overdue rebalances, and slot commits persisted. Returns when to tick next:
    // soon while a group rebalances, else within a tenth of a second (sessions last seconds).
    [[nodiscard]] std::chrono::milliseconds tick();
    // Slot commits persisted now (a clean shutdown's last look).
    void persist();

  private:
    [[nodiscard]] std::int64_t target_of(const bus::Partition& p,
                                         const group::ResetOffsetsRequest& request) const;

    bus::Bus& bus_;
    logging::LogSink sink_;
    std::mutex mutex_;
    OffsetStore offsets_;
    CommitSlots slots_;
    GroupCoordinator coordinator_;
    BoundsOf bounds_;
};

}  // namespace kbus::groups
