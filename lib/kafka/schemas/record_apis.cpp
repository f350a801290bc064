// Field tables of the records APIs: every field of each request and response, with its versions,
// nullable versions, tags and non-zero defaults, as Apache Kafka 3.9's message definitions give
// them (clients/src/main/resources/common/message/<Api>{Request,Response}.json). Structs are
// defined before the structs that hold them. Facts only: comments and docs stay in Kafka's files.
#include "kafka/api_schemas.hpp"

namespace kbus::kafka::schema {

// ApiVersionsRequest: versions 0-4, flexible 3+
constexpr Field api_versions_request_fields[] = {
    field("ClientSoftwareName", Type::string, since(3)),
    field("ClientSoftwareVersion", Type::string, since(3)),
};
constexpr Struct api_versions_request{"ApiVersionsRequest", api_versions_request_fields};
// ApiVersionsResponse: versions 0-4, flexible 3+
constexpr Field api_versions_response_api_version_fields[] = {
    field("ApiKey", Type::int16, since(0)),
    field("MinVersion", Type::int16, since(0)),
    field("MaxVersion", Type::int16, since(0)),
};
constexpr Struct api_versions_response_api_version{"ApiVersion",
                                                   api_versions_response_api_version_fields};
constexpr Field api_versions_response_supported_feature_key_fields[] = {
    field("Name", Type::string, since(3)),
    field("MinVersion", Type::int16, since(3)),
    field("MaxVersion", Type::int16, since(3)),
};
constexpr Struct api_versions_response_supported_feature_key{
    "SupportedFeatureKey", api_versions_response_supported_feature_key_fields};
constexpr Field api_versions_response_finalized_feature_key_fields[] = {
    field("Name", Type::string, since(3)),
    field("MaxVersionLevel", Type::int16, since(3)),
    field("MinVersionLevel", Type::int16, since(3)),
};
constexpr Struct api_versions_response_finalized_feature_key{
    "FinalizedFeatureKey", api_versions_response_finalized_feature_key_fields};
constexpr Field api_versions_response_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    list("ApiKeys", &api_versions_response_api_version, since(0)),
    field("ThrottleTimeMs", Type::int32, since(1)),
    list("SupportedFeatures", &api_versions_response_supported_feature_key, since(3))
        .tagged_as(0, since(3)),
    field("FinalizedFeaturesEpoch", Type::int64, since(3)).tagged_as(1, since(3)).def(-1),
    list("FinalizedFeatures", &api_versions_response_finalized_feature_key, since(3))
        .tagged_as(2, since(3)),
    field("ZkMigrationReady", Type::boolean, since(3)).tagged_as(3, since(3)),
};
constexpr Struct api_versions_response{"ApiVersionsResponse", api_versions_response_fields};
const Api api_versions_api{18, "ApiVersions",         only(0, 4),
                           3,  &api_versions_request, &api_versions_response};

// MetadataRequest: versions 0-12, flexible 9+
constexpr Field metadata_request_topic_fields[] = {
    field("TopicId", Type::uuid, since(10)),
    field("Name", Type::string, since(0)).null(since(10)),
};
constexpr Struct metadata_request_topic{"MetadataRequestTopic", metadata_request_topic_fields};
constexpr Field metadata_request_fields[] = {
    list("Topics", &metadata_request_topic, since(0)).null(since(1)),
    field("AllowAutoTopicCreation", Type::boolean, since(4)).def(1),
    field("IncludeClusterAuthorizedOperations", Type::boolean, only(8, 10)),
    field("IncludeTopicAuthorizedOperations", Type::boolean, since(8)),
};
constexpr Struct metadata_request{"MetadataRequest", metadata_request_fields};
// MetadataResponse: versions 0-12, flexible 9+
constexpr Field metadata_response_broker_fields[] = {
    field("NodeId", Type::int32, since(0)),
    field("Host", Type::string, since(0)),
    field("Port", Type::int32, since(0)),
    field("Rack", Type::string, since(1)).null(since(1)).def_null(),
};
constexpr Struct metadata_response_broker{"MetadataResponseBroker",
                                          metadata_response_broker_fields};
constexpr Field metadata_response_partition_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("PartitionIndex", Type::int32, since(0)),
    field("LeaderId", Type::int32, since(0)),
    field("LeaderEpoch", Type::int32, since(7)).def(-1),
    list("ReplicaNodes", Type::int32, since(0)),
    list("IsrNodes", Type::int32, since(0)),
    list("OfflineReplicas", Type::int32, since(5)),
};
constexpr Struct metadata_response_partition{"MetadataResponsePartition",
                                             metadata_response_partition_fields};
constexpr Field metadata_response_topic_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("Name", Type::string, since(0)).null(since(12)),
    field("TopicId", Type::uuid, since(10)),
    field("IsInternal", Type::boolean, since(1)),
    list("Partitions", &metadata_response_partition, since(0)),
    field("TopicAuthorizedOperations", Type::int32, since(8)).def(-2147483648),
};
constexpr Struct metadata_response_topic{"MetadataResponseTopic", metadata_response_topic_fields};
constexpr Field metadata_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(3)),
    list("Brokers", &metadata_response_broker, since(0)),
    field("ClusterId", Type::string, since(2)).null(since(2)).def_null(),
    field("ControllerId", Type::int32, since(1)).def(-1),
    list("Topics", &metadata_response_topic, since(0)),
    field("ClusterAuthorizedOperations", Type::int32, only(8, 10)).def(-2147483648),
};
constexpr Struct metadata_response{"MetadataResponse", metadata_response_fields};
const Api metadata_api{3, "Metadata", only(0, 12), 9, &metadata_request, &metadata_response};

// ProduceRequest: versions 0-11, flexible 9+
constexpr Field produce_request_partition_produce_data_fields[] = {
    field("Index", Type::int32, since(0)),
    field("Records", Type::records, since(0)).null(since(0)),
};
constexpr Struct produce_request_partition_produce_data{
    "PartitionProduceData", produce_request_partition_produce_data_fields};
constexpr Field produce_request_topic_produce_data_fields[] = {
    field("Name", Type::string, since(0)),
    list("PartitionData", &produce_request_partition_produce_data, since(0)),
};
constexpr Struct produce_request_topic_produce_data{"TopicProduceData",
                                                    produce_request_topic_produce_data_fields};
constexpr Field produce_request_fields[] = {
    field("TransactionalId", Type::string, since(3)).null(since(3)).def_null(),
    field("Acks", Type::int16, since(0)),
    field("TimeoutMs", Type::int32, since(0)),
    list("TopicData", &produce_request_topic_produce_data, since(0)),
};
constexpr Struct produce_request{"ProduceRequest", produce_request_fields};
// ProduceResponse: versions 0-11, flexible 9+
constexpr Field produce_response_batch_index_and_error_message_fields[] = {
    field("BatchIndex", Type::int32, since(8)),
    field("BatchIndexErrorMessage", Type::string, since(8)).null(since(8)).def_null(),
};
constexpr Struct produce_response_batch_index_and_error_message{
    "BatchIndexAndErrorMessage", produce_response_batch_index_and_error_message_fields};
constexpr Field produce_response_leader_id_and_epoch_fields[] = {
    field("LeaderId", Type::int32, since(10)).def(-1),
    field("LeaderEpoch", Type::int32, since(10)).def(-1),
};
constexpr Struct produce_response_leader_id_and_epoch{"LeaderIdAndEpoch",
                                                      produce_response_leader_id_and_epoch_fields};
constexpr Field produce_response_partition_produce_response_fields[] = {
    field("Index", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    field("BaseOffset", Type::int64, since(0)),
    field("LogAppendTimeMs", Type::int64, since(2)).def(-1),
    field("LogStartOffset", Type::int64, since(5)).def(-1),
    list("RecordErrors", &produce_response_batch_index_and_error_message, since(8)),
    field("ErrorMessage", Type::string, since(8)).null(since(8)).def_null(),
    object("CurrentLeader", &produce_response_leader_id_and_epoch, since(10))
        .tagged_as(0, since(10)),
};
constexpr Struct produce_response_partition_produce_response{
    "PartitionProduceResponse", produce_response_partition_produce_response_fields};
constexpr Field produce_response_topic_produce_response_fields[] = {
    field("Name", Type::string, since(0)),
    list("PartitionResponses", &produce_response_partition_produce_response, since(0)),
};
constexpr Struct produce_response_topic_produce_response{
    "TopicProduceResponse", produce_response_topic_produce_response_fields};
constexpr Field produce_response_node_endpoint_fields[] = {
    field("NodeId", Type::int32, since(10)),
    field("Host", Type::string, since(10)),
    field("Port", Type::int32, since(10)),
    field("Rack", Type::string, since(10)).null(since(10)).def_null(),
};
constexpr Struct produce_response_node_endpoint{"NodeEndpoint",
                                                produce_response_node_endpoint_fields};
constexpr Field produce_response_fields[] = {
    list("Responses", &produce_response_topic_produce_response, since(0)),
    field("ThrottleTimeMs", Type::int32, since(1)),
    list("NodeEndpoints", &produce_response_node_endpoint, since(10)).tagged_as(0, since(10)),
};
constexpr Struct produce_response{"ProduceResponse", produce_response_fields};
const Api produce_api{0, "Produce", only(0, 11), 9, &produce_request, &produce_response};

// FetchRequest: versions 0-17, flexible 12+
constexpr Field fetch_request_replica_state_fields[] = {
    field("ReplicaId", Type::int32, since(15)).def(-1),
    field("ReplicaEpoch", Type::int64, since(15)).def(-1),
};
constexpr Struct fetch_request_replica_state{"ReplicaState", fetch_request_replica_state_fields};
constexpr Field fetch_partition_fields[] = {
    field("Partition", Type::int32, since(0)),
    field("CurrentLeaderEpoch", Type::int32, since(9)).def(-1),
    field("FetchOffset", Type::int64, since(0)),
    field("LastFetchedEpoch", Type::int32, since(12)).def(-1),
    field("LogStartOffset", Type::int64, since(5)).def(-1),
    field("PartitionMaxBytes", Type::int32, since(0)),
    field("ReplicaDirectoryId", Type::uuid, since(17)).tagged_as(0, since(17)),
};
constexpr Struct fetch_partition{"FetchPartition", fetch_partition_fields};
constexpr Field fetch_topic_fields[] = {
    field("Topic", Type::string, only(0, 12)),
    field("TopicId", Type::uuid, since(13)),
    list("Partitions", &fetch_partition, since(0)),
};
constexpr Struct fetch_topic{"FetchTopic", fetch_topic_fields};
constexpr Field fetch_request_forgotten_topic_fields[] = {
    field("Topic", Type::string, only(7, 12)),
    field("TopicId", Type::uuid, since(13)),
    list("Partitions", Type::int32, since(7)),
};
constexpr Struct fetch_request_forgotten_topic{"ForgottenTopic",
                                               fetch_request_forgotten_topic_fields};
constexpr Field fetch_request_fields[] = {
    field("ClusterId", Type::string, since(12)).null(since(12)).tagged_as(0, since(12)).def_null(),
    field("ReplicaId", Type::int32, only(0, 14)).def(-1),
    object("ReplicaState", &fetch_request_replica_state, since(15)).tagged_as(1, since(15)),
    field("MaxWaitMs", Type::int32, since(0)),
    field("MinBytes", Type::int32, since(0)),
    field("MaxBytes", Type::int32, since(3)).def(2147483647),
    field("IsolationLevel", Type::int8, since(4)),
    field("SessionId", Type::int32, since(7)),
    field("SessionEpoch", Type::int32, since(7)).def(-1),
    list("Topics", &fetch_topic, since(0)),
    list("ForgottenTopicsData", &fetch_request_forgotten_topic, since(7)),
    field("RackId", Type::string, since(11)),
};
constexpr Struct fetch_request{"FetchRequest", fetch_request_fields};
// FetchResponse: versions 0-17, flexible 12+
constexpr Field fetch_response_epoch_end_offset_fields[] = {
    field("Epoch", Type::int32, since(12)).def(-1),
    field("EndOffset", Type::int64, since(12)).def(-1),
};
constexpr Struct fetch_response_epoch_end_offset{"EpochEndOffset",
                                                 fetch_response_epoch_end_offset_fields};
constexpr Field fetch_response_leader_id_and_epoch_fields[] = {
    field("LeaderId", Type::int32, since(12)).def(-1),
    field("LeaderEpoch", Type::int32, since(12)).def(-1),
};
constexpr Struct fetch_response_leader_id_and_epoch{"LeaderIdAndEpoch",
                                                    fetch_response_leader_id_and_epoch_fields};
constexpr Field fetch_response_snapshot_id_fields[] = {
    field("EndOffset", Type::int64, since(0)).def(-1),
    field("Epoch", Type::int32, since(0)).def(-1),
};
constexpr Struct fetch_response_snapshot_id{"SnapshotId", fetch_response_snapshot_id_fields};
constexpr Field fetch_response_aborted_transaction_fields[] = {
    field("ProducerId", Type::int64, since(4)),
    field("FirstOffset", Type::int64, since(4)),
};
constexpr Struct fetch_response_aborted_transaction{"AbortedTransaction",
                                                    fetch_response_aborted_transaction_fields};
constexpr Field fetch_response_partition_data_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    field("HighWatermark", Type::int64, since(0)),
    field("LastStableOffset", Type::int64, since(4)).def(-1),
    field("LogStartOffset", Type::int64, since(5)).def(-1),
    object("DivergingEpoch", &fetch_response_epoch_end_offset, since(12)).tagged_as(0, since(12)),
    object("CurrentLeader", &fetch_response_leader_id_and_epoch, since(12)).tagged_as(1, since(12)),
    object("SnapshotId", &fetch_response_snapshot_id, since(12)).tagged_as(2, since(12)),
    list("AbortedTransactions", &fetch_response_aborted_transaction, since(4)).null(since(4)),
    field("PreferredReadReplica", Type::int32, since(11)).def(-1),
    field("Records", Type::records, since(0)).null(since(0)),
};
constexpr Struct fetch_response_partition_data{"PartitionData",
                                               fetch_response_partition_data_fields};
constexpr Field fetchable_topic_response_fields[] = {
    field("Topic", Type::string, only(0, 12)),
    field("TopicId", Type::uuid, since(13)),
    list("Partitions", &fetch_response_partition_data, since(0)),
};
constexpr Struct fetchable_topic_response{"FetchableTopicResponse",
                                          fetchable_topic_response_fields};
constexpr Field fetch_response_node_endpoint_fields[] = {
    field("NodeId", Type::int32, since(16)),
    field("Host", Type::string, since(16)),
    field("Port", Type::int32, since(16)),
    field("Rack", Type::string, since(16)).null(since(16)).def_null(),
};
constexpr Struct fetch_response_node_endpoint{"NodeEndpoint", fetch_response_node_endpoint_fields};
constexpr Field fetch_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    field("ErrorCode", Type::int16, since(7)),
    field("SessionId", Type::int32, since(7)),
    list("Responses", &fetchable_topic_response, since(0)),
    list("NodeEndpoints", &fetch_response_node_endpoint, since(16)).tagged_as(0, since(16)),
};
constexpr Struct fetch_response{"FetchResponse", fetch_response_fields};
const Api fetch_api{1, "Fetch", only(0, 17), 12, &fetch_request, &fetch_response};

// ListOffsetsRequest: versions 0-9, flexible 6+
constexpr Field list_offsets_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("CurrentLeaderEpoch", Type::int32, since(4)).def(-1),
    field("Timestamp", Type::int64, since(0)),
    field("MaxNumOffsets", Type::int32, only(0, 0)).def(1),
};
constexpr Struct list_offsets_partition{"ListOffsetsPartition", list_offsets_partition_fields};
constexpr Field list_offsets_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &list_offsets_partition, since(0)),
};
constexpr Struct list_offsets_topic{"ListOffsetsTopic", list_offsets_topic_fields};
constexpr Field list_offsets_request_fields[] = {
    field("ReplicaId", Type::int32, since(0)),
    field("IsolationLevel", Type::int8, since(2)),
    list("Topics", &list_offsets_topic, since(0)),
};
constexpr Struct list_offsets_request{"ListOffsetsRequest", list_offsets_request_fields};
// ListOffsetsResponse: versions 0-9, flexible 6+
constexpr Field list_offsets_partition_response_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    list("OldStyleOffsets", Type::int64, only(0, 0)),
    field("Timestamp", Type::int64, since(1)).def(-1),
    field("Offset", Type::int64, since(1)).def(-1),
    field("LeaderEpoch", Type::int32, since(4)).def(-1),
};
constexpr Struct list_offsets_partition_response{"ListOffsetsPartitionResponse",
                                                 list_offsets_partition_response_fields};
constexpr Field list_offsets_topic_response_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &list_offsets_partition_response, since(0)),
};
constexpr Struct list_offsets_topic_response{"ListOffsetsTopicResponse",
                                             list_offsets_topic_response_fields};
constexpr Field list_offsets_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(2)),
    list("Topics", &list_offsets_topic_response, since(0)),
};
constexpr Struct list_offsets_response{"ListOffsetsResponse", list_offsets_response_fields};
const Api list_offsets_api{2, "ListOffsets",         only(0, 9),
                           6, &list_offsets_request, &list_offsets_response};

// DeleteRecordsRequest: versions 0-2, flexible 2+
constexpr Field delete_records_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("Offset", Type::int64, since(0)),
};
constexpr Struct delete_records_partition{"DeleteRecordsPartition",
                                          delete_records_partition_fields};
constexpr Field delete_records_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &delete_records_partition, since(0)),
};
constexpr Struct delete_records_topic{"DeleteRecordsTopic", delete_records_topic_fields};
constexpr Field delete_records_request_fields[] = {
    list("Topics", &delete_records_topic, since(0)),
    field("TimeoutMs", Type::int32, since(0)),
};
constexpr Struct delete_records_request{"DeleteRecordsRequest", delete_records_request_fields};
// DeleteRecordsResponse: versions 0-2, flexible 2+
constexpr Field delete_records_partition_result_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("LowWatermark", Type::int64, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct delete_records_partition_result{"DeleteRecordsPartitionResult",
                                                 delete_records_partition_result_fields};
constexpr Field delete_records_topic_result_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &delete_records_partition_result, since(0)),
};
constexpr Struct delete_records_topic_result{"DeleteRecordsTopicResult",
                                             delete_records_topic_result_fields};
constexpr Field delete_records_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Topics", &delete_records_topic_result, since(0)),
};
constexpr Struct delete_records_response{"DeleteRecordsResponse", delete_records_response_fields};
const Api delete_records_api{21, "DeleteRecords",         only(0, 2),
                             2,  &delete_records_request, &delete_records_response};

// OffsetForLeaderEpochRequest: versions 0-4, flexible 4+
constexpr Field offset_for_leader_epoch_request_offset_for_leader_partition_fields[] = {
    field("Partition", Type::int32, since(0)),
    field("CurrentLeaderEpoch", Type::int32, since(2)).def(-1),
    field("LeaderEpoch", Type::int32, since(0)),
};
constexpr Struct offset_for_leader_epoch_request_offset_for_leader_partition{
    "OffsetForLeaderPartition", offset_for_leader_epoch_request_offset_for_leader_partition_fields};
constexpr Field offset_for_leader_epoch_request_offset_for_leader_topic_fields[] = {
    field("Topic", Type::string, since(0)),
    list("Partitions", &offset_for_leader_epoch_request_offset_for_leader_partition, since(0)),
};
constexpr Struct offset_for_leader_epoch_request_offset_for_leader_topic{
    "OffsetForLeaderTopic", offset_for_leader_epoch_request_offset_for_leader_topic_fields};
constexpr Field offset_for_leader_epoch_request_fields[] = {
    field("ReplicaId", Type::int32, since(3)).def(-2),
    list("Topics", &offset_for_leader_epoch_request_offset_for_leader_topic, since(0)),
};
constexpr Struct offset_for_leader_epoch_request{"OffsetForLeaderEpochRequest",
                                                 offset_for_leader_epoch_request_fields};
// OffsetForLeaderEpochResponse: versions 0-4, flexible 4+
constexpr Field offset_for_leader_epoch_response_epoch_end_offset_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("Partition", Type::int32, since(0)),
    field("LeaderEpoch", Type::int32, since(1)).def(-1),
    field("EndOffset", Type::int64, since(0)).def(-1),
};
constexpr Struct offset_for_leader_epoch_response_epoch_end_offset{
    "EpochEndOffset", offset_for_leader_epoch_response_epoch_end_offset_fields};
constexpr Field offset_for_leader_epoch_response_offset_for_leader_topic_result_fields[] = {
    field("Topic", Type::string, since(0)),
    list("Partitions", &offset_for_leader_epoch_response_epoch_end_offset, since(0)),
};
constexpr Struct offset_for_leader_epoch_response_offset_for_leader_topic_result{
    "OffsetForLeaderTopicResult",
    offset_for_leader_epoch_response_offset_for_leader_topic_result_fields};
constexpr Field offset_for_leader_epoch_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(2)),
    list("Topics", &offset_for_leader_epoch_response_offset_for_leader_topic_result, since(0)),
};
constexpr Struct offset_for_leader_epoch_response{"OffsetForLeaderEpochResponse",
                                                  offset_for_leader_epoch_response_fields};
const Api offset_for_leader_epoch_api{
    23, "OffsetForLeaderEpoch",           only(0, 4),
    4,  &offset_for_leader_epoch_request, &offset_for_leader_epoch_response};

// InitProducerIdRequest: versions 0-5, flexible 2+
constexpr Field init_producer_id_request_fields[] = {
    field("TransactionalId", Type::string, since(0)).null(since(0)),
    field("TransactionTimeoutMs", Type::int32, since(0)),
    field("ProducerId", Type::int64, since(3)).def(-1),
    field("ProducerEpoch", Type::int16, since(3)).def(-1),
};
constexpr Struct init_producer_id_request{"InitProducerIdRequest", init_producer_id_request_fields};
// InitProducerIdResponse: versions 0-5, flexible 2+
constexpr Field init_producer_id_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    field("ProducerId", Type::int64, since(0)).def(-1),
    field("ProducerEpoch", Type::int16, since(0)),
};
constexpr Struct init_producer_id_response{"InitProducerIdResponse",
                                           init_producer_id_response_fields};
const Api init_producer_id_api{22, "InitProducerId",          only(0, 5),
                               2,  &init_producer_id_request, &init_producer_id_response};

}  // namespace kbus::kafka::schema
