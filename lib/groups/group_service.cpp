#include "groups/group_service.hpp"

#include <algorithm>

#include "kbus/detail/clock.hpp"

namespace kbus::groups {

GroupService::GroupService(const std::string& data_dir, bus::Bus& bus, logging::LogSink sink)
    : bus_(bus),
      sink_(sink),
      offsets_(data_dir, sink),
      slots_(bus, offsets_, sink),
      coordinator_(offsets_, sink),
      bounds_([this](const group::TopicPartition& tp) { return bus_.bounds(tp); }) {
    // Called from inside the coordinator, so under our lock.
    coordinator_.on_new_generation(
        [this](const std::string& g, std::int32_t generation) { slots_.fence(g, generation); });
}

group::JoinGroupReply GroupService::join(const group::JoinGroupRequest& request,
                                         std::uint32_t connection) {
    std::lock_guard lock(mutex_);
    slots_.persist();  // the rebalance starts from what members committed in the slots
    return coordinator_.join(request, connection, detail::wall_clock_ms());
}

group::SyncGroupReply GroupService::sync(const group::SyncGroupRequest& request, bool with_grants) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    group::SyncGroupReply reply;
    const std::optional<std::string> a = coordinator_.sync(request, detail::wall_clock_ms());
    reply.pending = !a;
    reply.assignment = a.value_or("");
    if (a && with_grants)
        reply.grants = slots_.grant(request.group, request.generation, request.member_id,
                                    coordinator_.owned(request.group, request.member_id));
    return reply;
}

void GroupService::heartbeat(const group::HeartbeatRequest& request) {
    std::lock_guard lock(mutex_);
    coordinator_.heartbeat(request.group, request.generation, request.member_id,
                           detail::wall_clock_ms());
}

void GroupService::leave(const group::LeaveGroupRequest& request) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    coordinator_.leave(request.group, request.member_id, detail::wall_clock_ms());
}

void GroupService::commit(const group::CommitOffsetsRequest& request,
                          const CommitMetadata& metadata) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    coordinator_.commit(request.group, request.generation, request.member_id, request.offsets,
                        bounds_, detail::wall_clock_ms(), metadata);
    slots_.mirror(request.group, request.offsets);
}

void GroupService::check_commit(const group::CommitOffsetsRequest& request) {
    std::lock_guard lock(mutex_);
    coordinator_.check_commit(request.group, request.generation, request.member_id, request.offsets,
                              bounds_, detail::wall_clock_ms());
}

void GroupService::commit_decided(const std::string& group, const group::OffsetList& offsets) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    coordinator_.store_commit(group, offsets);
    slots_.mirror(group, offsets);
}

std::string GroupService::metadata(const std::string& group, const group::TopicPartition& tp) {
    std::lock_guard lock(mutex_);
    return coordinator_.metadata(group, tp);
}

group::PartitionOffsets GroupService::committed(const std::string& group,
                                                const std::string& topic) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    return coordinator_.committed(group, topic);
}

std::vector<group::GroupListing> GroupService::list() {
    std::lock_guard lock(mutex_);
    std::vector<group::GroupListing> out;
    for (const GroupListing& l : coordinator_.list())
        out.push_back({l.group, to_string(l.state), l.members});
    return out;
}

group::GroupDescription GroupService::describe(const std::string& group) {
    std::lock_guard lock(mutex_);
    slots_.persist();
    return coordinator_.describe(group, bounds_);
}

void GroupService::remove(const std::string& group) {
    std::lock_guard lock(mutex_);
    coordinator_.remove(group);
    slots_.free(group);
}

std::vector<group::TopicPartition> GroupService::delete_offsets(
    const std::string& group, const std::vector<group::TopicPartition>& partitions) {
    std::lock_guard lock(mutex_);
    return coordinator_.delete_offsets(group, partitions);
}

// kafka-consumer-groups.sh --reset-offsets: the log start, the high watermark, an offset
// (clamped into the log) or the first offset at a time.
std::int64_t GroupService::target_of(const bus::Partition& p,
                                     const group::ResetOffsetsRequest& request) const {
    const std::int64_t start = p.log().log_start_offset();
    const auto hw = std::int64_t(p.high_watermark());
    switch (request.kind) {
        case protocol::OffsetSpecKind::beginning:
            return start;
        case protocol::OffsetSpecKind::end:
            return hw;
        case protocol::OffsetSpecKind::offset:
            return std::clamp(request.value, start, hw);
        case protocol::OffsetSpecKind::timestamp:
            return std::int64_t(p.offset_for_timestamp(request.value));
    }
    throw Error(ErrorCode::invalid_argument, "unknown offset kind");
}

group::PartitionOffsets GroupService::reset(const group::ResetOffsetsRequest& request) {
    const std::int32_t partitions = bus_.metadata(request.topic, false).partitions;
    group::OffsetList offsets;
    for (std::int32_t p = 0; p < partitions; ++p)
        offsets.push_back(
            {{request.topic, p}, target_of(*bus_.partition(request.topic, p), request)});
    std::lock_guard lock(mutex_);
    coordinator_.reset(request.group, offsets);
    slots_.mirror(request.group, offsets);
    group::PartitionOffsets out;
    for (const auto& [tp, offset] : offsets)
        out.emplace_back(tp.partition, offset);
    return out;
}

std::vector<stats::GroupPartitionLag> GroupService::lags() {
    std::lock_guard lock(mutex_);
    std::vector<stats::GroupPartitionLag> out;
    const std::vector<std::string> topics = bus_.names();
    for (const GroupListing& g : coordinator_.list())
        for (const std::string& topic : topics)
            for (const auto& [partition, committed] : coordinator_.committed(g.group, topic)) {
                const auto b = bus_.bounds({topic, partition});
                out.push_back({g.group, to_string(g.state), g.members, topic, partition, committed,
                               (b ? b->high_watermark : committed) - committed});
            }
    return out;
}

void GroupService::connection_closed(std::uint32_t connection) {
    std::lock_guard lock(mutex_);
    coordinator_.connection_closed(connection, detail::wall_clock_ms());
}

void GroupService::topic_deleted(const std::string& topic) {
    std::lock_guard lock(mutex_);
    coordinator_.topic_deleted(topic);
}

std::chrono::milliseconds GroupService::tick() {
    std::lock_guard lock(mutex_);
    slots_.persist();
    coordinator_.tick(detail::wall_clock_ms());
    return coordinator_.rebalancing() ? std::chrono::milliseconds(20)
                                      : std::chrono::milliseconds(100);
}

void GroupService::persist() {
    std::lock_guard lock(mutex_);
    slots_.persist();
}

}  // namespace kbus::groups
