#include "kafka/kafka_api.hpp"

#include "kafka/api_schemas.hpp"

namespace kbus::kafka {

KafkaError kafka_error_of(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::ok:
            return KafkaError::none;
        case ErrorCode::unknown_topic:
        case ErrorCode::topic_deleted:
        case ErrorCode::partition_out_of_range:
            return KafkaError::unknown_topic_or_partition;
        case ErrorCode::topic_exists:
            return KafkaError::topic_already_exists;
        case ErrorCode::message_too_large:
            return KafkaError::message_too_large;
        case ErrorCode::offset_out_of_range:
            return KafkaError::offset_out_of_range;
        case ErrorCode::protocol_error:
        case ErrorCode::corrupt_record:
            return KafkaError::corrupt_message;
        case ErrorCode::claim_aborted:
            return KafkaError::request_timed_out;
        case ErrorCode::invalid_record:
            return KafkaError::invalid_record;
        case ErrorCode::producer_fenced:
            return KafkaError::producer_fenced;
        case ErrorCode::invalid_txn_state:
            return KafkaError::invalid_txn_state;
        case ErrorCode::concurrent_transactions:
            return KafkaError::concurrent_transactions;
        case ErrorCode::timed_out:
            return KafkaError::request_timed_out;
        case ErrorCode::io_error:
            return KafkaError::kafka_storage_error;
        case ErrorCode::resource_exhausted:
        case ErrorCode::partition_owned:
            return KafkaError::policy_violation;
        case ErrorCode::unsupported:
            return KafkaError::unsupported_version;
        case ErrorCode::invalid_group:
            return KafkaError::invalid_group_id;
        case ErrorCode::unknown_member:
            return KafkaError::unknown_member_id;
        case ErrorCode::illegal_generation:
        case ErrorCode::partition_not_assigned:
            return KafkaError::illegal_generation;
        case ErrorCode::rebalance_in_progress:
            return KafkaError::rebalance_in_progress;
        case ErrorCode::group_not_empty:
            return KafkaError::non_empty_group;
        case ErrorCode::inconsistent_protocol:
            return KafkaError::inconsistent_group_protocol;
        case ErrorCode::invalid_argument:
            return KafkaError::invalid_request;
        default:
            return KafkaError::unknown_server_error;
    }
}

}  // namespace kbus::kafka

namespace kbus::kafka::schema {

const Api* find_api(std::int16_t key) noexcept {
    static const Api* const apis[] = {
        &api_versions_api,
        &metadata_api,
        &produce_api,
        &fetch_api,
        &list_offsets_api,
        &delete_records_api,
        &offset_for_leader_epoch_api,
        &init_producer_id_api,
        &offset_commit_api,
        &offset_fetch_api,
        &find_coordinator_api,
        &join_group_api,
        &heartbeat_api,
        &leave_group_api,
        &sync_group_api,
        &list_groups_api,
        &describe_groups_api,
        &delete_groups_api,
        &offset_delete_api,
        &create_topics_api,
        &delete_topics_api,
        &describe_configs_api,
        &alter_configs_api,
        &incremental_alter_configs_api,
        &create_partitions_api,
        &describe_cluster_api,
        &describe_log_dirs_api,
        &add_partitions_to_txn_api,
        &add_offsets_to_txn_api,
        &end_txn_api,
        &txn_offset_commit_api,
    };
    for (const Api* a : apis)
        if (a->key == key) return a;
    return nullptr;
}

}  // namespace kbus::kafka::schema
