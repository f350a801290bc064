// Who a group member is, as a transactional producer names it to commit the group's offsets with
// its transaction (Kafka's ConsumerGroupMetadata, from Consumer::group_metadata()).
#pragma once

#include <cstdint>
#include <string>

namespace kbus {

struct ConsumerGroupMetadata {
    std::string group_id;
    std::int32_t generation_id = -1;  ///< -1: not a member (a group without members)
    std::string member_id;
};

}  // namespace kbus
