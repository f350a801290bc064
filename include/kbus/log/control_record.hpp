// Kafka's control record: the one record of a control batch (attributes bit 5), a transaction
// marker. Its key and value, big-endian as Kafka's log holds them; the ring's marker frames
// (RecordType::control) carry the same bytes, so the spill copies them as they are.
//
//   key:   int16 version (0), int16 type (0 = ABORT, 1 = COMMIT)
//   value: int16 version (0), int32 coordinator epoch
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "kbus/bytes.hpp"
#include "kbus/detail/big_endian.hpp"

namespace kbus::log {

enum class ControlType : std::int16_t { abort = 0, commit = 1 };

inline constexpr std::size_t control_key_version_offset = 0;  ///< i16
inline constexpr std::size_t control_key_type_offset = 2;     ///< i16: ControlType
inline constexpr std::size_t control_key_bytes = 4;
inline constexpr std::size_t control_value_version_offset = 0;  ///< i16
inline constexpr std::size_t control_value_epoch_offset = 2;    ///< i32: coordinator epoch
inline constexpr std::size_t control_value_bytes = 6;

[[nodiscard]] inline std::array<std::byte, control_key_bytes> control_key(ControlType type) {
    std::array<std::byte, control_key_bytes> k{};
    detail::store_be<std::int16_t>(reinterpret_cast<char*>(k.data()) + control_key_version_offset,
                                   0);
    detail::store_be<std::int16_t>(reinterpret_cast<char*>(k.data()) + control_key_type_offset,
                                   std::int16_t(type));
    return k;
}

[[nodiscard]] inline std::array<std::byte, control_value_bytes> control_value(
    std::int32_t coordinator_epoch) {
    std::array<std::byte, control_value_bytes> v{};
    detail::store_be<std::int16_t>(reinterpret_cast<char*>(v.data()) + control_value_version_offset,
                                   0);
    detail::store_be<std::int32_t>(reinterpret_cast<char*>(v.data()) + control_value_epoch_offset,
                                   coordinator_epoch);
    return v;
}

/// The marker's type, if `key` is a control record key of a version we read (Kafka's readers
/// accept version 0 and skip others).
[[nodiscard]] inline std::optional<ControlType> control_type(BytesView key) noexcept {
    if (key.is_null() || key.size() < control_key_bytes) return std::nullopt;
    const auto* k = reinterpret_cast<const char*>(key.data());
    if (detail::load_be<std::int16_t>(k + control_key_version_offset) != 0) return std::nullopt;
    const auto type = detail::load_be<std::int16_t>(k + control_key_type_offset);
    if (type != 0 && type != 1) return std::nullopt;
    return ControlType(type);
}

}  // namespace kbus::log
