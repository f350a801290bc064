// The schema of every Kafka API kbusd knows, defined in schemas/*.cpp: Kafka 3.9's versions and
// fields. What kbusd serves of them (and advertises in ApiVersions) is kafka_api.hpp's list.
#pragma once

#include <cstdint>
#include <limits>

#include "kafka/schema.hpp"

namespace kbus::kafka::schema {

// schemas/record_apis.cpp
extern const Api api_versions_api;
extern const Api metadata_api;
extern const Api produce_api;
extern const Api fetch_api;
extern const Api list_offsets_api;
extern const Api delete_records_api;
extern const Api offset_for_leader_epoch_api;
extern const Api init_producer_id_api;
// schemas/group_apis.cpp
extern const Api offset_commit_api;
extern const Api offset_fetch_api;
extern const Api find_coordinator_api;
extern const Api join_group_api;
extern const Api heartbeat_api;
extern const Api leave_group_api;
extern const Api sync_group_api;
extern const Api list_groups_api;
extern const Api describe_groups_api;
extern const Api delete_groups_api;
extern const Api offset_delete_api;
// schemas/admin_apis.cpp
extern const Api create_topics_api;
extern const Api delete_topics_api;
extern const Api describe_configs_api;
extern const Api alter_configs_api;
extern const Api incremental_alter_configs_api;
extern const Api create_partitions_api;
extern const Api describe_cluster_api;
extern const Api describe_log_dirs_api;
// schemas/transaction_apis.cpp
extern const Api add_partitions_to_txn_api;
extern const Api add_offsets_to_txn_api;
extern const Api end_txn_api;
extern const Api txn_offset_commit_api;

// The schema of API `key`, or nullptr for one kbusd has no table for.
[[nodiscard]] const Api* find_api(std::int16_t key) noexcept;

}  // namespace kbus::kafka::schema
