// Kafka's murmur2 (the Java client's Utils.murmur2), bit for bit, so a key lands on the same
// partition number as with Kafka's default partitioner. Bytes are read unsigned and the
// arithmetic wraps in 32 bits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kbus {

[[nodiscard]] constexpr std::int32_t murmur2(const unsigned char* data,
                                             std::size_t length) noexcept {
    constexpr std::uint32_t seed = 0x9747b28cU;
    constexpr std::uint32_t m = 0x5bd1e995U;
    constexpr int r = 24;
    std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
    const std::size_t words = length / 4;
    for (std::size_t i = 0; i < words; ++i) {
        const unsigned char* p = data + 4 * i;
        std::uint32_t k = std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                          std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char* tail = data + (length & ~std::size_t{3});
    switch (length % 4) {
        case 3:
            h ^= std::uint32_t(tail[2]) << 16;
            [[fallthrough]];
        case 2:
            h ^= std::uint32_t(tail[1]) << 8;
            [[fallthrough]];
        case 1:
            h ^= std::uint32_t(tail[0]);
            h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<std::int32_t>(h);
}

/// Kafka's Utils.toPositive: masks the sign bit (not abs()).
[[nodiscard]] constexpr std::int32_t to_positive(std::int32_t x) noexcept {
    return x & 0x7fffffff;
}

/// BuiltInPartitioner.partitionForKey.
[[nodiscard]] constexpr std::int32_t partition_for_key(const unsigned char* key, std::size_t length,
                                                       std::int32_t partitions) noexcept {
    return to_positive(murmur2(key, length)) % partitions;
}

}  // namespace kbus
