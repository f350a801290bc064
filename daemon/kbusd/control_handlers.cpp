#include "control_handlers.hpp"

#include <algorithm>

#include "bus/producer_slots.hpp"

#include "kbus/error.hpp"

namespace kbusd {

using kbus::Error;
using kbus::ErrorCode;
using kbus::codec::Empty;
namespace protocol = kbus::protocol;
namespace group = kbus::group;

ControlHandlers::ControlHandlers(kbus::bus::Bus& bus, kbus::groups::GroupService& groups,
                                 DaemonIdentity identity,
                                 std::function<kbus::stats::BusStats()> stats)
    : bus_(bus), groups_(groups), identity_(std::move(identity)), stats_(std::move(stats)) {
    // Hello is read in two steps: its leading version first, because a client speaking another
    // version may lay the rest out differently, and it must hear "wrong version", not "malformed".
    table_[static_cast<std::uint16_t>(protocol::RequestType::hello)] = [this](
                                                                           std::string_view payload,
                                                                           std::uint32_t) {
        check_hello_version(payload);
        return kbus::codec::encoded(hello(kbus::codec::decoded<protocol::HelloRequest>(payload)));
    };
    register_topic_requests();
    register_reader_requests();
    register_producer_requests();
    register_transaction_requests();
    register_group_requests();
    on<protocol::StatsRequest>(
        [this](const protocol::StatsRequest&, std::uint32_t) { return stats_(); });
}

std::string ControlHandlers::answer(protocol::RequestType type, std::string_view payload,
                                    std::uint32_t connection) {
    const auto it = table_.find(static_cast<std::uint16_t>(type));
    if (it == table_.end())
        throw Error(ErrorCode::unsupported, "unknown request type " + std::to_string(int(type)));
    return it->second(payload, connection);
}

void ControlHandlers::check_hello_version(std::string_view payload) {
    kbus::protocol::Reader reader(payload);
    const std::uint32_t version = reader.u32();  // throws protocol_error when cut short
    if (version != protocol::protocol_version)
        throw Error(ErrorCode::unsupported, "control protocol version " + std::to_string(version) +
                                                " is not spoken here (kbusd speaks " +
                                                std::to_string(protocol::protocol_version) + ")");
}

protocol::HelloReply ControlHandlers::hello(const protocol::HelloRequest& r) const {
    if (!r.bus.empty() && r.bus != identity_.bus)
        throw Error(ErrorCode::invalid_argument,
                    "this socket serves bus '" + identity_.bus + "', not '" + r.bus +
                        "' (check --bus / KBUS_BUS against --run-dir / KBUS_RUN_DIR)");
    return {identity_.epoch(), identity_.shm_dir};
}

void ControlHandlers::register_topic_requests() {
    on<protocol::CreateTopicRequest>([this](const protocol::CreateTopicRequest& r, std::uint32_t) {
        (void)bus_.create(r);
        return Empty{};
    });
    on<protocol::DeleteTopicRequest>([this](const protocol::DeleteTopicRequest& r, std::uint32_t) {
        bus_.remove(r.name);
        return Empty{};
    });
    on<protocol::AlterTopicRequest>([this](const protocol::AlterTopicRequest& r, std::uint32_t) {
        bus_.alter(r.name, r.config);
        return Empty{};
    });
    on<protocol::CreatePartitionsRequest>(
        [this](const protocol::CreatePartitionsRequest& r, std::uint32_t) {
            return bus_.add_partitions(r.name, r.partitions, false);
        });
    on<protocol::DeleteRecordsRequest>(
        [this](const protocol::DeleteRecordsRequest& r, std::uint32_t) {
            return protocol::DeleteRecordsReply{
                bus_.delete_records(r.topic, r.partition, r.offset, [this] { wake_spill_(); })};
        });
    on<protocol::ListTopicsRequest>([this](const protocol::ListTopicsRequest&, std::uint32_t) {
        return protocol::TopicNames{bus_.names()};
    });
    on<protocol::TopicMetadataRequest>(
        [this](const protocol::TopicMetadataRequest& r, std::uint32_t) {
            return bus_.metadata(r.name, true);
        });
    on<protocol::DescribeTopicRequest>([this](const protocol::DescribeTopicRequest& r,
                                              std::uint32_t) { return bus_.describe(r.name); });
}

void ControlHandlers::register_reader_requests() {
    on<protocol::ReserveRingRequest>([this](const protocol::ReserveRingRequest& r, std::uint32_t) {
        bus_.reserve_ring(*bus_.partition(r.topic_id, r.partition));
        return Empty{};
    });
    on<protocol::AttachReaderRequest>(
        [this](const protocol::AttachReaderRequest& r, std::uint32_t c) { return attach(r, c); });
    on<protocol::ReleaseReaderRequest>(
        [this](const protocol::ReleaseReaderRequest& r, std::uint32_t c) {
            if (r.slot >= kbus::ring::reader_slot_count)
                throw Error(ErrorCode::invalid_argument, "bad reader slot");
            bus_.partition(r.topic_id, r.partition)->gate().release(r.slot, c);
            return Empty{};
        });
    on<protocol::FetchRequest>([this](const protocol::FetchRequest& r, std::uint32_t) {
        const auto p = bus_.partition(r.topic_id, r.partition);
        return p->fetch(r.offset, r.max_bytes, r.as_extent,
                        p->ring().header().info.max_record_bytes, r.read_committed);
    });
    on<protocol::ReportCorruptBatchRequest>(
        [this](const protocol::ReportCorruptBatchRequest& r, std::uint32_t) {
            return bus_.partition(r.topic_id, r.partition)->report_corrupt(r.offset);
        });
}

// Tethers a consumer to the ring at the offset it asks for, or, when that offset is only on disk
// any more, tells it to read the log (fetch) until it catches up with the ring.
protocol::ReaderAttachment ControlHandlers::attach(const protocol::AttachReaderRequest& r,
                                                   std::uint32_t connection) {
    const auto p = bus_.partition(r.topic_id, r.partition);
    const protocol::ReaderAttachment a =
        p->gate().attach(p->start_offset(r.kind, r.offset), r.slot, connection);
    attached_by_[connection].insert(p);
    return a;
}

void ControlHandlers::register_group_requests() {
    on<group::JoinGroupRequest>(
        [this](const group::JoinGroupRequest& r, std::uint32_t c) { return groups_.join(r, c); });
    on<group::SyncGroupRequest>(
        [this](const group::SyncGroupRequest& r, std::uint32_t) { return groups_.sync(r, true); });
    on<group::HeartbeatRequest>([this](const group::HeartbeatRequest& r, std::uint32_t) {
        groups_.heartbeat(r);
        return Empty{};
    });
    on<group::LeaveGroupRequest>([this](const group::LeaveGroupRequest& r, std::uint32_t) {
        groups_.leave(r);
        return Empty{};
    });
    on<group::CommitOffsetsRequest>([this](const group::CommitOffsetsRequest& r, std::uint32_t) {
        groups_.commit(r);
        return Empty{};
    });
    on<group::FetchOffsetsRequest>([this](const group::FetchOffsetsRequest& r, std::uint32_t) {
        return group::PartitionOffsetsReply{groups_.committed(r.group, r.topic)};
    });
    on<group::ListGroupsRequest>([this](const group::ListGroupsRequest&, std::uint32_t) {
        return group::GroupListingReply{groups_.list()};
    });
    on<group::DescribeGroupRequest>([this](const group::DescribeGroupRequest& r, std::uint32_t) {
        return groups_.describe(r.group);
    });
    on<group::DeleteGroupRequest>([this](const group::DeleteGroupRequest& r, std::uint32_t) {
        groups_.remove(r.group);
        return Empty{};
    });
    on<group::ResetOffsetsRequest>([this](const group::ResetOffsetsRequest& r, std::uint32_t) {
        return group::PartitionOffsetsReply{groups_.reset(r)};
    });
}

void ControlHandlers::connection_closed(std::uint32_t connection) {
    // Its transactions first: their markers name its slots, which must not retire before.
    if (transactions_ != nullptr) transactions_->connection_closed(connection);
    if (const auto it = attached_by_.find(connection); it != attached_by_.end()) {
        for (const auto& weak : it->second)
            if (const auto p = weak.lock()) p->gate().release_all_of(connection);
        attached_by_.erase(it);
    }
    if (const auto it = slots_by_.find(connection); it != slots_by_.end()) {
        for (const TakenSlot& t : it->second)
            if (const auto p = t.partition.lock())
                kbus::bus::retire_producer_slot(p->ring().header(), t.slot);
        slots_by_.erase(it);
    }
    groups_.connection_closed(connection);
}

}  // namespace kbusd
