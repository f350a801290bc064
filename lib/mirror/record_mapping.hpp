// Where a mirrored record goes, and how a mirror recognises its own records coming back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kbus/bytes.hpp"
#include "kbus/murmur2.hpp"

namespace kbus::mirror {

// The header a mirror adds to every record it copies: the side the record came from ("kafka:"
// + bootstrap servers for records copied in, the mirror.id for records copied out). A mirror
// never copies a record back to the side its header names, so a two-way setup does not loop.
inline constexpr std::string_view origin_header = "kbus.mirror.origin";

[[nodiscard]] inline std::string kafka_origin(const std::string& bootstrap_servers) {
    return "kafka:" + bootstrap_servers;
}

// Partitions map one to one when the counts match. Otherwise keyed records go where Kafka's
// partitioner (murmur2, as Java's client) puts their key, and records without a key keep their
// source partition modulo the target's count (so each source partition's order survives).
[[nodiscard]] inline std::int32_t target_partition(std::int32_t source_partition,
                                                   std::int32_t source_count,
                                                   std::int32_t target_count,
                                                   BytesView key) noexcept {
    if (source_count == target_count) return source_partition;
    if (key.is_null()) return source_partition % target_count;
    return partition_for_key(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                             target_count);
}

}  // namespace kbus::mirror
