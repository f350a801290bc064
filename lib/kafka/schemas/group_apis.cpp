// Field tables of the consumer group APIs: every field of each request and response, with its
// versions, nullable versions, tags and non-zero defaults, as Apache Kafka 3.9's message
// definitions give them (clients/src/main/resources/common/message/<Api>{Request,Response}.json).
// Structs are defined before the structs that hold them. Facts only: comments and docs stay in
// Kafka's files.
#include "kafka/api_schemas.hpp"

namespace kbus::kafka::schema {

// OffsetCommitRequest: versions 0-9, flexible 8+
constexpr Field offset_commit_request_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("CommittedOffset", Type::int64, since(0)),
    field("CommittedLeaderEpoch", Type::int32, since(6)).def(-1),
    field("CommitTimestamp", Type::int64, only(1, 1)).def(-1),
    field("CommittedMetadata", Type::string, since(0)).null(since(0)),
};
constexpr Struct offset_commit_request_partition{"OffsetCommitRequestPartition",
                                                 offset_commit_request_partition_fields};
constexpr Field offset_commit_request_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &offset_commit_request_partition, since(0)),
};
constexpr Struct offset_commit_request_topic{"OffsetCommitRequestTopic",
                                             offset_commit_request_topic_fields};
constexpr Field offset_commit_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("GenerationIdOrMemberEpoch", Type::int32, since(1)).def(-1),
    field("MemberId", Type::string, since(1)),
    field("GroupInstanceId", Type::string, since(7)).null(since(7)).def_null(),
    field("RetentionTimeMs", Type::int64, only(2, 4)).def(-1),
    list("Topics", &offset_commit_request_topic, since(0)),
};
constexpr Struct offset_commit_request{"OffsetCommitRequest", offset_commit_request_fields};
// OffsetCommitResponse: versions 0-9, flexible 8+
constexpr Field offset_commit_response_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct offset_commit_response_partition{"OffsetCommitResponsePartition",
                                                  offset_commit_response_partition_fields};
constexpr Field offset_commit_response_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &offset_commit_response_partition, since(0)),
};
constexpr Struct offset_commit_response_topic{"OffsetCommitResponseTopic",
                                              offset_commit_response_topic_fields};
constexpr Field offset_commit_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(3)),
    list("Topics", &offset_commit_response_topic, since(0)),
};
constexpr Struct offset_commit_response{"OffsetCommitResponse", offset_commit_response_fields};
const Api offset_commit_api{8, "OffsetCommit",         only(0, 9),
                            8, &offset_commit_request, &offset_commit_response};

// OffsetFetchRequest: versions 0-9, flexible 6+
constexpr Field offset_fetch_request_topic_fields[] = {
    field("Name", Type::string, only(0, 7)),
    list("PartitionIndexes", Type::int32, only(0, 7)),
};
constexpr Struct offset_fetch_request_topic{"OffsetFetchRequestTopic",
                                            offset_fetch_request_topic_fields};
constexpr Field offset_fetch_request_topics_fields[] = {
    field("Name", Type::string, since(8)),
    list("PartitionIndexes", Type::int32, since(8)),
};
constexpr Struct offset_fetch_request_topics{"OffsetFetchRequestTopics",
                                             offset_fetch_request_topics_fields};
constexpr Field offset_fetch_request_group_fields[] = {
    field("GroupId", Type::string, since(8)),
    field("MemberId", Type::string, since(9)).null(since(9)).def_null(),
    field("MemberEpoch", Type::int32, since(9)).def(-1),
    list("Topics", &offset_fetch_request_topics, since(8)).null(since(8)),
};
constexpr Struct offset_fetch_request_group{"OffsetFetchRequestGroup",
                                            offset_fetch_request_group_fields};
constexpr Field offset_fetch_request_fields[] = {
    field("GroupId", Type::string, only(0, 7)),
    list("Topics", &offset_fetch_request_topic, only(0, 7)).null(only(2, 7)),
    list("Groups", &offset_fetch_request_group, since(8)),
    field("RequireStable", Type::boolean, since(7)),
};
constexpr Struct offset_fetch_request{"OffsetFetchRequest", offset_fetch_request_fields};
// OffsetFetchResponse: versions 0-9, flexible 6+
constexpr Field offset_fetch_response_partition_fields[] = {
    field("PartitionIndex", Type::int32, only(0, 7)),
    field("CommittedOffset", Type::int64, only(0, 7)),
    field("CommittedLeaderEpoch", Type::int32, only(5, 7)).def(-1),
    field("Metadata", Type::string, only(0, 7)).null(only(0, 7)),
    field("ErrorCode", Type::int16, only(0, 7)),
};
constexpr Struct offset_fetch_response_partition{"OffsetFetchResponsePartition",
                                                 offset_fetch_response_partition_fields};
constexpr Field offset_fetch_response_topic_fields[] = {
    field("Name", Type::string, only(0, 7)),
    list("Partitions", &offset_fetch_response_partition, only(0, 7)),
};
constexpr Struct offset_fetch_response_topic{"OffsetFetchResponseTopic",
                                             offset_fetch_response_topic_fields};
constexpr Field offset_fetch_response_partitions_fields[] = {
    field("PartitionIndex", Type::int32, since(8)),
    field("CommittedOffset", Type::int64, since(8)),
    field("CommittedLeaderEpoch", Type::int32, since(8)).def(-1),
    field("Metadata", Type::string, since(8)).null(since(8)),
    field("ErrorCode", Type::int16, since(8)),
};
constexpr Struct offset_fetch_response_partitions{"OffsetFetchResponsePartitions",
                                                  offset_fetch_response_partitions_fields};
constexpr Field offset_fetch_response_topics_fields[] = {
    field("Name", Type::string, since(8)),
    list("Partitions", &offset_fetch_response_partitions, since(8)),
};
constexpr Struct offset_fetch_response_topics{"OffsetFetchResponseTopics",
                                              offset_fetch_response_topics_fields};
constexpr Field offset_fetch_response_group_fields[] = {
    field("GroupId", Type::string, since(8)),
    list("Topics", &offset_fetch_response_topics, since(8)),
    field("ErrorCode", Type::int16, since(8)),
};
constexpr Struct offset_fetch_response_group{"OffsetFetchResponseGroup",
                                             offset_fetch_response_group_fields};
constexpr Field offset_fetch_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(3)),
    list("Topics", &offset_fetch_response_topic, only(0, 7)),
    field("ErrorCode", Type::int16, only(2, 7)),
    list("Groups", &offset_fetch_response_group, since(8)),
};
constexpr Struct offset_fetch_response{"OffsetFetchResponse", offset_fetch_response_fields};
const Api offset_fetch_api{9, "OffsetFetch",         only(0, 9),
                           6, &offset_fetch_request, &offset_fetch_response};

// FindCoordinatorRequest: versions 0-6, flexible 3+
constexpr Field find_coordinator_request_fields[] = {
    field("Key", Type::string, only(0, 3)),
    field("KeyType", Type::int8, since(1)),
    list("CoordinatorKeys", Type::string, since(4)),
};
constexpr Struct find_coordinator_request{"FindCoordinatorRequest",
                                          find_coordinator_request_fields};
// FindCoordinatorResponse: versions 0-6, flexible 3+
constexpr Field find_coordinator_response_coordinator_fields[] = {
    field("Key", Type::string, since(4)),
    field("NodeId", Type::int32, since(4)),
    field("Host", Type::string, since(4)),
    field("Port", Type::int32, since(4)),
    field("ErrorCode", Type::int16, since(4)),
    field("ErrorMessage", Type::string, since(4)).null(since(4)),
};
constexpr Struct find_coordinator_response_coordinator{
    "Coordinator", find_coordinator_response_coordinator_fields};
constexpr Field find_coordinator_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, only(0, 3)),
    field("ErrorMessage", Type::string, only(1, 3)).null(only(1, 3)),
    field("NodeId", Type::int32, only(0, 3)),
    field("Host", Type::string, only(0, 3)),
    field("Port", Type::int32, only(0, 3)),
    list("Coordinators", &find_coordinator_response_coordinator, since(4)),
};
constexpr Struct find_coordinator_response{"FindCoordinatorResponse",
                                           find_coordinator_response_fields};
const Api find_coordinator_api{10, "FindCoordinator",         only(0, 6),
                               3,  &find_coordinator_request, &find_coordinator_response};

// JoinGroupRequest: versions 0-9, flexible 6+
constexpr Field join_group_request_protocol_fields[] = {
    field("Name", Type::string, since(0)),
    field("Metadata", Type::bytes, since(0)),
};
constexpr Struct join_group_request_protocol{"JoinGroupRequestProtocol",
                                             join_group_request_protocol_fields};
constexpr Field join_group_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("SessionTimeoutMs", Type::int32, since(0)),
    field("RebalanceTimeoutMs", Type::int32, since(1)).def(-1),
    field("MemberId", Type::string, since(0)),
    field("GroupInstanceId", Type::string, since(5)).null(since(5)).def_null(),
    field("ProtocolType", Type::string, since(0)),
    list("Protocols", &join_group_request_protocol, since(0)),
    field("Reason", Type::string, since(8)).null(since(8)).def_null(),
};
constexpr Struct join_group_request{"JoinGroupRequest", join_group_request_fields};
// JoinGroupResponse: versions 0-9, flexible 6+
constexpr Field join_group_response_member_fields[] = {
    field("MemberId", Type::string, since(0)),
    field("GroupInstanceId", Type::string, since(5)).null(since(5)).def_null(),
    field("Metadata", Type::bytes, since(0)),
};
constexpr Struct join_group_response_member{"JoinGroupResponseMember",
                                            join_group_response_member_fields};
constexpr Field join_group_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(2)),
    field("ErrorCode", Type::int16, since(0)),
    field("GenerationId", Type::int32, since(0)).def(-1),
    field("ProtocolType", Type::string, since(7)).null(since(7)).def_null(),
    field("ProtocolName", Type::string, since(0)).null(since(7)),
    field("Leader", Type::string, since(0)),
    field("SkipAssignment", Type::boolean, since(9)),
    field("MemberId", Type::string, since(0)),
    list("Members", &join_group_response_member, since(0)),
};
constexpr Struct join_group_response{"JoinGroupResponse", join_group_response_fields};
const Api join_group_api{11, "JoinGroup", only(0, 9), 6, &join_group_request, &join_group_response};

// HeartbeatRequest: versions 0-4, flexible 4+
constexpr Field heartbeat_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("GenerationId", Type::int32, since(0)),
    field("MemberId", Type::string, since(0)),
    field("GroupInstanceId", Type::string, since(3)).null(since(3)).def_null(),
};
constexpr Struct heartbeat_request{"HeartbeatRequest", heartbeat_request_fields};
// HeartbeatResponse: versions 0-4, flexible 4+
constexpr Field heartbeat_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct heartbeat_response{"HeartbeatResponse", heartbeat_response_fields};
const Api heartbeat_api{12, "Heartbeat", only(0, 4), 4, &heartbeat_request, &heartbeat_response};

// LeaveGroupRequest: versions 0-5, flexible 4+
constexpr Field leave_group_request_member_identity_fields[] = {
    field("MemberId", Type::string, since(3)),
    field("GroupInstanceId", Type::string, since(3)).null(since(3)).def_null(),
    field("Reason", Type::string, since(5)).null(since(5)).def_null(),
};
constexpr Struct leave_group_request_member_identity{"MemberIdentity",
                                                     leave_group_request_member_identity_fields};
constexpr Field leave_group_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("MemberId", Type::string, only(0, 2)),
    list("Members", &leave_group_request_member_identity, since(3)),
};
constexpr Struct leave_group_request{"LeaveGroupRequest", leave_group_request_fields};
// LeaveGroupResponse: versions 0-5, flexible 4+
constexpr Field leave_group_response_member_response_fields[] = {
    field("MemberId", Type::string, since(3)),
    field("GroupInstanceId", Type::string, since(3)).null(since(3)),
    field("ErrorCode", Type::int16, since(3)),
};
constexpr Struct leave_group_response_member_response{"MemberResponse",
                                                      leave_group_response_member_response_fields};
constexpr Field leave_group_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, since(0)),
    list("Members", &leave_group_response_member_response, since(3)),
};
constexpr Struct leave_group_response{"LeaveGroupResponse", leave_group_response_fields};
const Api leave_group_api{13, "LeaveGroup",         only(0, 5),
                          4,  &leave_group_request, &leave_group_response};

// SyncGroupRequest: versions 0-5, flexible 4+
constexpr Field sync_group_request_assignment_fields[] = {
    field("MemberId", Type::string, since(0)),
    field("Assignment", Type::bytes, since(0)),
};
constexpr Struct sync_group_request_assignment{"SyncGroupRequestAssignment",
                                               sync_group_request_assignment_fields};
constexpr Field sync_group_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("GenerationId", Type::int32, since(0)),
    field("MemberId", Type::string, since(0)),
    field("GroupInstanceId", Type::string, since(3)).null(since(3)).def_null(),
    field("ProtocolType", Type::string, since(5)).null(since(5)).def_null(),
    field("ProtocolName", Type::string, since(5)).null(since(5)).def_null(),
    list("Assignments", &sync_group_request_assignment, since(0)),
};
constexpr Struct sync_group_request{"SyncGroupRequest", sync_group_request_fields};
// SyncGroupResponse: versions 0-5, flexible 4+
constexpr Field sync_group_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, since(0)),
    field("ProtocolType", Type::string, since(5)).null(since(5)).def_null(),
    field("ProtocolName", Type::string, since(5)).null(since(5)).def_null(),
    field("Assignment", Type::bytes, since(0)),
};
constexpr Struct sync_group_response{"SyncGroupResponse", sync_group_response_fields};
const Api sync_group_api{14, "SyncGroup", only(0, 5), 4, &sync_group_request, &sync_group_response};

// ListGroupsRequest: versions 0-5, flexible 3+
constexpr Field list_groups_request_fields[] = {
    list("StatesFilter", Type::string, since(4)),
    list("TypesFilter", Type::string, since(5)),
};
constexpr Struct list_groups_request{"ListGroupsRequest", list_groups_request_fields};
// ListGroupsResponse: versions 0-5, flexible 3+
constexpr Field list_groups_response_listed_group_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("ProtocolType", Type::string, since(0)),
    field("GroupState", Type::string, since(4)),
    field("GroupType", Type::string, since(5)),
};
constexpr Struct list_groups_response_listed_group{"ListedGroup",
                                                   list_groups_response_listed_group_fields};
constexpr Field list_groups_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, since(0)),
    list("Groups", &list_groups_response_listed_group, since(0)),
};
constexpr Struct list_groups_response{"ListGroupsResponse", list_groups_response_fields};
const Api list_groups_api{16, "ListGroups",         only(0, 5),
                          3,  &list_groups_request, &list_groups_response};

// DescribeGroupsRequest: versions 0-5, flexible 5+
constexpr Field describe_groups_request_fields[] = {
    list("Groups", Type::string, since(0)),
    field("IncludeAuthorizedOperations", Type::boolean, since(3)),
};
constexpr Struct describe_groups_request{"DescribeGroupsRequest", describe_groups_request_fields};
// DescribeGroupsResponse: versions 0-5, flexible 5+
constexpr Field describe_groups_response_described_group_member_fields[] = {
    field("MemberId", Type::string, since(0)),
    field("GroupInstanceId", Type::string, since(4)).null(since(4)).def_null(),
    field("ClientId", Type::string, since(0)),
    field("ClientHost", Type::string, since(0)),
    field("MemberMetadata", Type::bytes, since(0)),
    field("MemberAssignment", Type::bytes, since(0)),
};
constexpr Struct describe_groups_response_described_group_member{
    "DescribedGroupMember", describe_groups_response_described_group_member_fields};
constexpr Field describe_groups_response_described_group_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("GroupId", Type::string, since(0)),
    field("GroupState", Type::string, since(0)),
    field("ProtocolType", Type::string, since(0)),
    field("ProtocolData", Type::string, since(0)),
    list("Members", &describe_groups_response_described_group_member, since(0)),
    field("AuthorizedOperations", Type::int32, since(3)).def(-2147483648),
};
constexpr Struct describe_groups_response_described_group{
    "DescribedGroup", describe_groups_response_described_group_fields};
constexpr Field describe_groups_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    list("Groups", &describe_groups_response_described_group, since(0)),
};
constexpr Struct describe_groups_response{"DescribeGroupsResponse",
                                          describe_groups_response_fields};
const Api describe_groups_api{15, "DescribeGroups",         only(0, 5),
                              5,  &describe_groups_request, &describe_groups_response};

// DeleteGroupsRequest: versions 0-2, flexible 2+
constexpr Field delete_groups_request_fields[] = {
    list("GroupsNames", Type::string, since(0)),
};
constexpr Struct delete_groups_request{"DeleteGroupsRequest", delete_groups_request_fields};
// DeleteGroupsResponse: versions 0-2, flexible 2+
constexpr Field delete_groups_response_deletable_group_result_fields[] = {
    field("GroupId", Type::string, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct delete_groups_response_deletable_group_result{
    "DeletableGroupResult", delete_groups_response_deletable_group_result_fields};
constexpr Field delete_groups_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Results", &delete_groups_response_deletable_group_result, since(0)),
};
constexpr Struct delete_groups_response{"DeleteGroupsResponse", delete_groups_response_fields};
const Api delete_groups_api{42, "DeleteGroups",         only(0, 2),
                            2,  &delete_groups_request, &delete_groups_response};

// OffsetDeleteRequest: versions 0, flexible none
constexpr Field offset_delete_request_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
};
constexpr Struct offset_delete_request_partition{"OffsetDeleteRequestPartition",
                                                 offset_delete_request_partition_fields};
constexpr Field offset_delete_request_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &offset_delete_request_partition, since(0)),
};
constexpr Struct offset_delete_request_topic{"OffsetDeleteRequestTopic",
                                             offset_delete_request_topic_fields};
constexpr Field offset_delete_request_fields[] = {
    field("GroupId", Type::string, since(0)),
    list("Topics", &offset_delete_request_topic, since(0)),
};
constexpr Struct offset_delete_request{"OffsetDeleteRequest", offset_delete_request_fields};
// OffsetDeleteResponse: versions 0, flexible none
constexpr Field offset_delete_response_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct offset_delete_response_partition{"OffsetDeleteResponsePartition",
                                                  offset_delete_response_partition_fields};
constexpr Field offset_delete_response_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &offset_delete_response_partition, since(0)),
};
constexpr Struct offset_delete_response_topic{"OffsetDeleteResponseTopic",
                                              offset_delete_response_topic_fields};
constexpr Field offset_delete_response_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Topics", &offset_delete_response_topic, since(0)),
};
constexpr Struct offset_delete_response{"OffsetDeleteResponse", offset_delete_response_fields};
const Api offset_delete_api{47,
                            "OffsetDelete",
                            only(0, 0),
                            std::numeric_limits<std::int16_t>::max(),
                            &offset_delete_request,
                            &offset_delete_response};

}  // namespace kbus::kafka::schema
