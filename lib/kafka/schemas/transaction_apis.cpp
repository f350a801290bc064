// Field tables of the transactional producer's APIs, the versions clients send (AddPartitionsToTxn
// v4+ batches transactions for brokers, and is not a client's), as Apache Kafka 3.9's message
// definitions give them (clients/src/main/resources/common/message/<Api>{Request,Response}.json).
// Structs are defined before the structs that hold them. Facts only: comments and docs stay in
// Kafka's files.
#include "kafka/api_schemas.hpp"

namespace kbus::kafka::schema {

// AddPartitionsToTxnRequest: versions 0-3 (of 0-5), flexible 3+
constexpr Field add_partitions_to_txn_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", Type::int32, since(0)),
};
constexpr Struct add_partitions_to_txn_topic{"AddPartitionsToTxnTopic",
                                             add_partitions_to_txn_topic_fields};
constexpr Field add_partitions_to_txn_request_fields[] = {
    field("V3AndBelowTransactionalId", Type::string, only(0, 3)),
    field("V3AndBelowProducerId", Type::int64, only(0, 3)),
    field("V3AndBelowProducerEpoch", Type::int16, only(0, 3)),
    list("V3AndBelowTopics", &add_partitions_to_txn_topic, only(0, 3)),
};
constexpr Struct add_partitions_to_txn_request{"AddPartitionsToTxnRequest",
                                               add_partitions_to_txn_request_fields};
// AddPartitionsToTxnResponse: versions 0-3 (of 0-5), flexible 3+
constexpr Field add_partitions_to_txn_partition_result_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("PartitionErrorCode", Type::int16, since(0)),
};
constexpr Struct add_partitions_to_txn_partition_result{
    "AddPartitionsToTxnPartitionResult", add_partitions_to_txn_partition_result_fields};
constexpr Field add_partitions_to_txn_topic_result_fields[] = {
    field("Name", Type::string, since(0)),
    list("ResultsByPartition", &add_partitions_to_txn_partition_result, since(0)),
};
constexpr Struct add_partitions_to_txn_topic_result{"AddPartitionsToTxnTopicResult",
                                                    add_partitions_to_txn_topic_result_fields};
constexpr Field add_partitions_to_txn_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("ResultsByTopicV3AndBelow", &add_partitions_to_txn_topic_result, only(0, 3)),
};
constexpr Struct add_partitions_to_txn_response{"AddPartitionsToTxnResponse",
                                                add_partitions_to_txn_response_fields};
const Api add_partitions_to_txn_api{
    24, "AddPartitionsToTxn",           only(0, 3),
    3,  &add_partitions_to_txn_request, &add_partitions_to_txn_response};

// AddOffsetsToTxnRequest: versions 0-3 (of 0-4), flexible 3+
constexpr Field add_offsets_to_txn_request_fields[] = {
    field("TransactionalId", Type::string, since(0)),
    field("ProducerId", Type::int64, since(0)),
    field("ProducerEpoch", Type::int16, since(0)),
    field("GroupId", Type::string, since(0)),
};
constexpr Struct add_offsets_to_txn_request{"AddOffsetsToTxnRequest",
                                            add_offsets_to_txn_request_fields};
// AddOffsetsToTxnResponse: versions 0-3 (of 0-4), flexible 3+
constexpr Field add_offsets_to_txn_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct add_offsets_to_txn_response{"AddOffsetsToTxnResponse",
                                             add_offsets_to_txn_response_fields};
const Api add_offsets_to_txn_api{25, "AddOffsetsToTxn",           only(0, 3),
                                 3,  &add_offsets_to_txn_request, &add_offsets_to_txn_response};

// EndTxnRequest: versions 0-3 (of 0-5), flexible 3+
constexpr Field end_txn_request_fields[] = {
    field("TransactionalId", Type::string, since(0)),
    field("ProducerId", Type::int64, since(0)),
    field("ProducerEpoch", Type::int16, since(0)),
    field("Committed", Type::boolean, since(0)),
};
constexpr Struct end_txn_request{"EndTxnRequest", end_txn_request_fields};
// EndTxnResponse: versions 0-3 (of 0-5), flexible 3+
constexpr Field end_txn_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct end_txn_response{"EndTxnResponse", end_txn_response_fields};
const Api end_txn_api{26, "EndTxn", only(0, 3), 3, &end_txn_request, &end_txn_response};

// TxnOffsetCommitRequest: versions 0-3, flexible 3+
constexpr Field txn_offset_commit_request_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("CommittedOffset", Type::int64, since(0)),
    field("CommittedLeaderEpoch", Type::int32, since(2)).def(-1),
    field("CommittedMetadata", Type::string, since(0)).null(since(0)),
};
constexpr Struct txn_offset_commit_request_partition{"TxnOffsetCommitRequestPartition",
                                                     txn_offset_commit_request_partition_fields};
constexpr Field txn_offset_commit_request_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &txn_offset_commit_request_partition, since(0)),
};
constexpr Struct txn_offset_commit_request_topic{"TxnOffsetCommitRequestTopic",
                                                 txn_offset_commit_request_topic_fields};
constexpr Field txn_offset_commit_request_fields[] = {
    field("TransactionalId", Type::string, since(0)),
    field("GroupId", Type::string, since(0)),
    field("ProducerId", Type::int64, since(0)),
    field("ProducerEpoch", Type::int16, since(0)),
    field("GenerationId", Type::int32, since(3)).def(-1),
    field("MemberId", Type::string, since(3)),
    field("GroupInstanceId", Type::string, since(3)).null(since(3)).def_null(),
    list("Topics", &txn_offset_commit_request_topic, since(0)),
};
constexpr Struct txn_offset_commit_request{"TxnOffsetCommitRequest",
                                           txn_offset_commit_request_fields};
// TxnOffsetCommitResponse: versions 0-3, flexible 3+
constexpr Field txn_offset_commit_response_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
};
constexpr Struct txn_offset_commit_response_partition{"TxnOffsetCommitResponsePartition",
                                                      txn_offset_commit_response_partition_fields};
constexpr Field txn_offset_commit_response_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &txn_offset_commit_response_partition, since(0)),
};
constexpr Struct txn_offset_commit_response_topic{"TxnOffsetCommitResponseTopic",
                                                  txn_offset_commit_response_topic_fields};
constexpr Field txn_offset_commit_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Topics", &txn_offset_commit_response_topic, since(0)),
};
constexpr Struct txn_offset_commit_response{"TxnOffsetCommitResponse",
                                            txn_offset_commit_response_fields};
const Api txn_offset_commit_api{28, "TxnOffsetCommit",          only(0, 3),
                                3,  &txn_offset_commit_request, &txn_offset_commit_response};

}  // namespace kbus::kafka::schema
