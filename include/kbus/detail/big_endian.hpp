// Big-endian loads and stores for Kafka's formats (every fixed-width field there is big-endian).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace kbus::detail {

template <typename T>
[[nodiscard]] inline T load_be(const void* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) {
        using U = std::make_unsigned_t<T>;
        v = static_cast<T>(__builtin_bswap64(static_cast<std::uint64_t>(static_cast<U>(v))) >>
                           (64 - 8 * sizeof(T)));
    }
    return v;
}

template <typename T>
inline void store_be(void* p, T v) noexcept {
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) {
        using U = std::make_unsigned_t<T>;
        v = static_cast<T>(__builtin_bswap64(static_cast<std::uint64_t>(static_cast<U>(v))) >>
                           (64 - 8 * sizeof(T)));
    }
    std::memcpy(p, &v, sizeof(T));
}

}  // namespace kbus::detail
