// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), the
// checksum of Kafka's RecordBatch v2. Uses the SSE4.2 crc32 instruction when the CPU has it,
// else a slice-by-8 table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kbus::detail {

namespace crc32c_impl {

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t s = 1; s < 8; ++s)
        for (std::uint32_t i = 0; i < 256; ++i)
            t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
}

inline constexpr Tables tables = make_tables();

inline std::uint32_t software(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);  // little-endian hosts only, as the ring is
        w ^= crc;
        crc = tables[7][w & 0xff] ^ tables[6][(w >> 8) & 0xff] ^ tables[5][(w >> 16) & 0xff] ^
              tables[4][(w >> 24) & 0xff] ^ tables[3][(w >> 32) & 0xff] ^
              tables[2][(w >> 40) & 0xff] ^ tables[1][(w >> 48) & 0xff] ^ tables[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ tables[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline std::uint32_t hardware(std::uint32_t crc,
                                                                const unsigned char* p,
                                                                std::size_t n) noexcept {
    std::uint64_t c = crc;
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    std::uint32_t c32 = static_cast<std::uint32_t>(c);
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

inline bool has_sse42() noexcept {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif

}  // namespace crc32c_impl

// Extends `crc` (a finished CRC-32C of earlier bytes, 0 to start) over [data, data + n).
[[nodiscard]] inline std::uint32_t crc32c(const void* data, std::size_t n,
                                          std::uint32_t crc = 0) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc32c_impl::has_sse42()) return ~crc32c_impl::hardware(c, p, n);
#endif
    return ~crc32c_impl::software(c, p, n);
}

[[nodiscard]] inline std::uint32_t crc32c_software(const void* data, std::size_t n,
                                                   std::uint32_t crc = 0) noexcept {
    return ~crc32c_impl::software(~crc, static_cast<const unsigned char*>(data), n);
}

}  // namespace kbus::detail
