// Field tables of the admin APIs: every field of each request and response, with its versions,
// nullable versions, tags and non-zero defaults, as Apache Kafka 3.9's message definitions give
// them (clients/src/main/resources/common/message/<Api>{Request,Response}.json). Structs are
// defined before the structs that hold them. Facts only: comments and docs stay in Kafka's files.
#include "kafka/api_schemas.hpp"

namespace kbus::kafka::schema {

// CreateTopicsRequest: versions 0-7, flexible 5+
constexpr Field create_topics_request_creatable_replica_assignment_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    list("BrokerIds", Type::int32, since(0)),
};
constexpr Struct create_topics_request_creatable_replica_assignment{
    "CreatableReplicaAssignment", create_topics_request_creatable_replica_assignment_fields};
constexpr Field create_topics_request_creatable_topic_config_fields[] = {
    field("Name", Type::string, since(0)),
    field("Value", Type::string, since(0)).null(since(0)),
};
constexpr Struct create_topics_request_creatable_topic_config{
    "CreatableTopicConfig", create_topics_request_creatable_topic_config_fields};
constexpr Field create_topics_request_creatable_topic_fields[] = {
    field("Name", Type::string, since(0)),
    field("NumPartitions", Type::int32, since(0)),
    field("ReplicationFactor", Type::int16, since(0)),
    list("Assignments", &create_topics_request_creatable_replica_assignment, since(0)),
    list("Configs", &create_topics_request_creatable_topic_config, since(0)),
};
constexpr Struct create_topics_request_creatable_topic{
    "CreatableTopic", create_topics_request_creatable_topic_fields};
constexpr Field create_topics_request_fields[] = {
    list("Topics", &create_topics_request_creatable_topic, since(0)),
    field("timeoutMs", Type::int32, since(0)).def(60000),
    field("validateOnly", Type::boolean, since(1)),
};
constexpr Struct create_topics_request{"CreateTopicsRequest", create_topics_request_fields};
// CreateTopicsResponse: versions 0-7, flexible 5+
constexpr Field create_topics_response_creatable_topic_configs_fields[] = {
    field("Name", Type::string, since(5)),
    field("Value", Type::string, since(5)).null(since(5)),
    field("ReadOnly", Type::boolean, since(5)),
    field("ConfigSource", Type::int8, since(5)).def(-1),
    field("IsSensitive", Type::boolean, since(5)),
};
constexpr Struct create_topics_response_creatable_topic_configs{
    "CreatableTopicConfigs", create_topics_response_creatable_topic_configs_fields};
constexpr Field create_topics_response_creatable_topic_result_fields[] = {
    field("Name", Type::string, since(0)),
    field("TopicId", Type::uuid, since(7)),
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(1)).null(since(0)),
    field("TopicConfigErrorCode", Type::int16, since(5)).tagged_as(0, since(5)),
    field("NumPartitions", Type::int32, since(5)).def(-1),
    field("ReplicationFactor", Type::int16, since(5)).def(-1),
    list("Configs", &create_topics_response_creatable_topic_configs, since(5)).null(since(5)),
};
constexpr Struct create_topics_response_creatable_topic_result{
    "CreatableTopicResult", create_topics_response_creatable_topic_result_fields};
constexpr Field create_topics_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(2)),
    list("Topics", &create_topics_response_creatable_topic_result, since(0)),
};
constexpr Struct create_topics_response{"CreateTopicsResponse", create_topics_response_fields};
const Api create_topics_api{19, "CreateTopics",         only(0, 7),
                            5,  &create_topics_request, &create_topics_response};

// DeleteTopicsRequest: versions 0-6, flexible 4+
constexpr Field delete_topics_request_delete_topic_state_fields[] = {
    field("Name", Type::string, since(6)).null(since(6)).def_null(),
    field("TopicId", Type::uuid, since(6)),
};
constexpr Struct delete_topics_request_delete_topic_state{
    "DeleteTopicState", delete_topics_request_delete_topic_state_fields};
constexpr Field delete_topics_request_fields[] = {
    list("Topics", &delete_topics_request_delete_topic_state, since(6)),
    list("TopicNames", Type::string, only(0, 5)),
    field("TimeoutMs", Type::int32, since(0)),
};
constexpr Struct delete_topics_request{"DeleteTopicsRequest", delete_topics_request_fields};
// DeleteTopicsResponse: versions 0-6, flexible 4+
constexpr Field delete_topics_response_deletable_topic_result_fields[] = {
    field("Name", Type::string, since(0)).null(since(6)),
    field("TopicId", Type::uuid, since(6)),
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(5)).null(since(5)).def_null(),
};
constexpr Struct delete_topics_response_deletable_topic_result{
    "DeletableTopicResult", delete_topics_response_deletable_topic_result_fields};
constexpr Field delete_topics_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(1)),
    list("Responses", &delete_topics_response_deletable_topic_result, since(0)),
};
constexpr Struct delete_topics_response{"DeleteTopicsResponse", delete_topics_response_fields};
const Api delete_topics_api{20, "DeleteTopics",         only(0, 6),
                            4,  &delete_topics_request, &delete_topics_response};

// DescribeConfigsRequest: versions 0-4, flexible 4+
constexpr Field describe_configs_resource_fields[] = {
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
    list("ConfigurationKeys", Type::string, since(0)).null(since(0)),
};
constexpr Struct describe_configs_resource{"DescribeConfigsResource",
                                           describe_configs_resource_fields};
constexpr Field describe_configs_request_fields[] = {
    list("Resources", &describe_configs_resource, since(0)),
    field("IncludeSynonyms", Type::boolean, since(1)),
    field("IncludeDocumentation", Type::boolean, since(3)),
};
constexpr Struct describe_configs_request{"DescribeConfigsRequest",
                                          describe_configs_request_fields};
// DescribeConfigsResponse: versions 0-4, flexible 4+
constexpr Field describe_configs_synonym_fields[] = {
    field("Name", Type::string, since(1)),
    field("Value", Type::string, since(1)).null(since(0)),
    field("Source", Type::int8, since(1)),
};
constexpr Struct describe_configs_synonym{"DescribeConfigsSynonym",
                                          describe_configs_synonym_fields};
constexpr Field describe_configs_resource_result_fields[] = {
    field("Name", Type::string, since(0)),
    field("Value", Type::string, since(0)).null(since(0)),
    field("ReadOnly", Type::boolean, since(0)),
    field("IsDefault", Type::boolean, only(0, 0)),
    field("ConfigSource", Type::int8, since(1)).def(-1),
    field("IsSensitive", Type::boolean, since(0)),
    list("Synonyms", &describe_configs_synonym, since(1)),
    field("ConfigType", Type::int8, since(3)),
    field("Documentation", Type::string, since(3)).null(since(0)),
};
constexpr Struct describe_configs_resource_result{"DescribeConfigsResourceResult",
                                                  describe_configs_resource_result_fields};
constexpr Field describe_configs_result_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(0)).null(since(0)),
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
    list("Configs", &describe_configs_resource_result, since(0)),
};
constexpr Struct describe_configs_result{"DescribeConfigsResult", describe_configs_result_fields};
constexpr Field describe_configs_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Results", &describe_configs_result, since(0)),
};
constexpr Struct describe_configs_response{"DescribeConfigsResponse",
                                           describe_configs_response_fields};
const Api describe_configs_api{32, "DescribeConfigs",         only(0, 4),
                               4,  &describe_configs_request, &describe_configs_response};

// AlterConfigsRequest: versions 0-2, flexible 2+
constexpr Field alter_configs_request_alterable_config_fields[] = {
    field("Name", Type::string, since(0)),
    field("Value", Type::string, since(0)).null(since(0)),
};
constexpr Struct alter_configs_request_alterable_config{
    "AlterableConfig", alter_configs_request_alterable_config_fields};
constexpr Field alter_configs_resource_fields[] = {
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
    list("Configs", &alter_configs_request_alterable_config, since(0)),
};
constexpr Struct alter_configs_resource{"AlterConfigsResource", alter_configs_resource_fields};
constexpr Field alter_configs_request_fields[] = {
    list("Resources", &alter_configs_resource, since(0)),
    field("ValidateOnly", Type::boolean, since(0)),
};
constexpr Struct alter_configs_request{"AlterConfigsRequest", alter_configs_request_fields};
// AlterConfigsResponse: versions 0-2, flexible 2+
constexpr Field alter_configs_resource_response_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(0)).null(since(0)),
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
};
constexpr Struct alter_configs_resource_response{"AlterConfigsResourceResponse",
                                                 alter_configs_resource_response_fields};
constexpr Field alter_configs_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Responses", &alter_configs_resource_response, since(0)),
};
constexpr Struct alter_configs_response{"AlterConfigsResponse", alter_configs_response_fields};
const Api alter_configs_api{33, "AlterConfigs",         only(0, 2),
                            2,  &alter_configs_request, &alter_configs_response};

// IncrementalAlterConfigsRequest: versions 0-1, flexible 1+
constexpr Field incremental_alter_configs_request_alterable_config_fields[] = {
    field("Name", Type::string, since(0)),
    field("ConfigOperation", Type::int8, since(0)),
    field("Value", Type::string, since(0)).null(since(0)),
};
constexpr Struct incremental_alter_configs_request_alterable_config{
    "AlterableConfig", incremental_alter_configs_request_alterable_config_fields};
constexpr Field incremental_alter_configs_request_alter_configs_resource_fields[] = {
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
    list("Configs", &incremental_alter_configs_request_alterable_config, since(0)),
};
constexpr Struct incremental_alter_configs_request_alter_configs_resource{
    "AlterConfigsResource", incremental_alter_configs_request_alter_configs_resource_fields};
constexpr Field incremental_alter_configs_request_fields[] = {
    list("Resources", &incremental_alter_configs_request_alter_configs_resource, since(0)),
    field("ValidateOnly", Type::boolean, since(0)),
};
constexpr Struct incremental_alter_configs_request{"IncrementalAlterConfigsRequest",
                                                   incremental_alter_configs_request_fields};
// IncrementalAlterConfigsResponse: versions 0-1, flexible 1+
constexpr Field incremental_alter_configs_response_alter_configs_resource_response_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(0)).null(since(0)),
    field("ResourceType", Type::int8, since(0)),
    field("ResourceName", Type::string, since(0)),
};
constexpr Struct incremental_alter_configs_response_alter_configs_resource_response{
    "AlterConfigsResourceResponse",
    incremental_alter_configs_response_alter_configs_resource_response_fields};
constexpr Field incremental_alter_configs_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Responses", &incremental_alter_configs_response_alter_configs_resource_response,
         since(0)),
};
constexpr Struct incremental_alter_configs_response{"IncrementalAlterConfigsResponse",
                                                    incremental_alter_configs_response_fields};
const Api incremental_alter_configs_api{
    44, "IncrementalAlterConfigs",          only(0, 1),
    1,  &incremental_alter_configs_request, &incremental_alter_configs_response};

// CreatePartitionsRequest: versions 0-3, flexible 2+
constexpr Field create_partitions_assignment_fields[] = {
    list("BrokerIds", Type::int32, since(0)),
};
constexpr Struct create_partitions_assignment{"CreatePartitionsAssignment",
                                              create_partitions_assignment_fields};
constexpr Field create_partitions_topic_fields[] = {
    field("Name", Type::string, since(0)),
    field("Count", Type::int32, since(0)),
    list("Assignments", &create_partitions_assignment, since(0)).null(since(0)),
};
constexpr Struct create_partitions_topic{"CreatePartitionsTopic", create_partitions_topic_fields};
constexpr Field create_partitions_request_fields[] = {
    list("Topics", &create_partitions_topic, since(0)),
    field("TimeoutMs", Type::int32, since(0)),
    field("ValidateOnly", Type::boolean, since(0)),
};
constexpr Struct create_partitions_request{"CreatePartitionsRequest",
                                           create_partitions_request_fields};
// CreatePartitionsResponse: versions 0-3, flexible 2+
constexpr Field create_partitions_topic_result_fields[] = {
    field("Name", Type::string, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(0)).null(since(0)).def_null(),
};
constexpr Struct create_partitions_topic_result{"CreatePartitionsTopicResult",
                                                create_partitions_topic_result_fields};
constexpr Field create_partitions_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    list("Results", &create_partitions_topic_result, since(0)),
};
constexpr Struct create_partitions_response{"CreatePartitionsResponse",
                                            create_partitions_response_fields};
const Api create_partitions_api{37, "CreatePartitions",         only(0, 3),
                                2,  &create_partitions_request, &create_partitions_response};

// DescribeClusterRequest: versions 0-1, flexible 0+
constexpr Field describe_cluster_request_fields[] = {
    field("IncludeClusterAuthorizedOperations", Type::boolean, since(0)),
    field("EndpointType", Type::int8, since(1)).def(1),
};
constexpr Struct describe_cluster_request{"DescribeClusterRequest",
                                          describe_cluster_request_fields};
// DescribeClusterResponse: versions 0-1, flexible 0+
constexpr Field describe_cluster_broker_fields[] = {
    field("BrokerId", Type::int32, since(0)),
    field("Host", Type::string, since(0)),
    field("Port", Type::int32, since(0)),
    field("Rack", Type::string, since(0)).null(since(0)).def_null(),
};
constexpr Struct describe_cluster_broker{"DescribeClusterBroker", describe_cluster_broker_fields};
constexpr Field describe_cluster_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(0)),
    field("ErrorMessage", Type::string, since(0)).null(since(0)).def_null(),
    field("EndpointType", Type::int8, since(1)).def(1),
    field("ClusterId", Type::string, since(0)),
    field("ControllerId", Type::int32, since(0)).def(-1),
    list("Brokers", &describe_cluster_broker, since(0)),
    field("ClusterAuthorizedOperations", Type::int32, since(0)).def(-2147483648),
};
constexpr Struct describe_cluster_response{"DescribeClusterResponse",
                                           describe_cluster_response_fields};
const Api describe_cluster_api{60, "DescribeCluster",         only(0, 1),
                               0,  &describe_cluster_request, &describe_cluster_response};

// DescribeLogDirsRequest: versions 0-4, flexible 2+
constexpr Field describe_log_dirs_request_describable_log_dir_topic_fields[] = {
    field("Topic", Type::string, since(0)),
    list("Partitions", Type::int32, since(0)),
};
constexpr Struct describe_log_dirs_request_describable_log_dir_topic{
    "DescribableLogDirTopic", describe_log_dirs_request_describable_log_dir_topic_fields};
constexpr Field describe_log_dirs_request_fields[] = {
    list("Topics", &describe_log_dirs_request_describable_log_dir_topic, since(0)).null(since(0)),
};
constexpr Struct describe_log_dirs_request{"DescribeLogDirsRequest",
                                           describe_log_dirs_request_fields};
// DescribeLogDirsResponse: versions 0-4, flexible 2+
constexpr Field describe_log_dirs_partition_fields[] = {
    field("PartitionIndex", Type::int32, since(0)),
    field("PartitionSize", Type::int64, since(0)),
    field("OffsetLag", Type::int64, since(0)),
    field("IsFutureKey", Type::boolean, since(0)),
};
constexpr Struct describe_log_dirs_partition{"DescribeLogDirsPartition",
                                             describe_log_dirs_partition_fields};
constexpr Field describe_log_dirs_topic_fields[] = {
    field("Name", Type::string, since(0)),
    list("Partitions", &describe_log_dirs_partition, since(0)),
};
constexpr Struct describe_log_dirs_topic{"DescribeLogDirsTopic", describe_log_dirs_topic_fields};
constexpr Field describe_log_dirs_result_fields[] = {
    field("ErrorCode", Type::int16, since(0)),
    field("LogDir", Type::string, since(0)),
    list("Topics", &describe_log_dirs_topic, since(0)),
    field("TotalBytes", Type::int64, since(4)).def(-1),
    field("UsableBytes", Type::int64, since(4)).def(-1),
};
constexpr Struct describe_log_dirs_result{"DescribeLogDirsResult", describe_log_dirs_result_fields};
constexpr Field describe_log_dirs_response_fields[] = {
    field("ThrottleTimeMs", Type::int32, since(0)),
    field("ErrorCode", Type::int16, since(3)),
    list("Results", &describe_log_dirs_result, since(0)),
};
constexpr Struct describe_log_dirs_response{"DescribeLogDirsResponse",
                                            describe_log_dirs_response_fields};
const Api describe_log_dirs_api{35, "DescribeLogDirs",          only(0, 4),
                                2,  &describe_log_dirs_request, &describe_log_dirs_response};

}  // namespace kbus::kafka::schema
