// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF), the
// checksum of Kafka's RecordBatch v2. Uses the SSE4.2 crc32 instruction when the CPU has it,
// else a slice-by-8 table.
//
// The instruction takes 3 cycles but can start one per cycle, so one chain of it (each step
// needs the last) runs at a third of its speed: ~8 GB/s. Consumers check every batch they read
// from disk, so the hardware path runs three chains over three adjacent blocks of a buffer and
// joins them: the CRC of A then B is crc(A) moved past len(B) zero bytes, xor crc(B). Moving a
// CRC past n zero bytes is linear over GF(2), a 32x32 bit matrix, applied here as four 256-entry
// tables (one per byte of the CRC), computed once at compile time per block length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kbus::detail {

namespace crc32c_impl {

inline constexpr std::uint32_t polynomial = 0x82F63B78u;

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ polynomial : c >> 1;
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

// ---- moving a CRC register past zero bytes -----------------------------------------------------

/// A linear map of 32-bit registers: column j is the image of bit j.
using Matrix = std::array<std::uint32_t, 32>;

constexpr std::uint32_t apply(const Matrix& m, std::uint32_t v) {
    std::uint32_t out = 0;
    for (int j = 0; v != 0; ++j, v >>= 1)
        if (v & 1) out ^= m[std::size_t(j)];
    return out;
}

constexpr Matrix compose(const Matrix& a, const Matrix& b) {  // a after b
    Matrix out{};
    for (std::size_t j = 0; j < 32; ++j)
        out[j] = apply(a, b[j]);
    return out;
}

/// The register after `bytes` zero bytes, for each single-bit register (square and multiply).
constexpr Matrix zeros_operator(std::size_t bytes) {
    Matrix one_byte{};
    for (std::size_t j = 0; j < 32; ++j) {
        const std::uint32_t c = std::uint32_t(1) << j;
        one_byte[j] = (c >> 8) ^ tables[0][c & 0xff];
    }
    Matrix result{};
    for (std::size_t j = 0; j < 32; ++j)
        result[j] = std::uint32_t(1) << j;
    for (Matrix power = one_byte; bytes != 0; bytes >>= 1, power = compose(power, power))
        if (bytes & 1) result = compose(power, result);
    return result;
}

using ShiftTables = std::array<std::array<std::uint32_t, 256>, 4>;

constexpr ShiftTables make_shift_tables(std::size_t bytes) {
    const Matrix m = zeros_operator(bytes);
    ShiftTables t{};
    for (std::size_t k = 0; k < 4; ++k)
        for (std::uint32_t i = 0; i < 256; ++i)
            t[k][i] = apply(m, i << (8 * k));
    return t;
}

inline std::uint32_t shift(const ShiftTables& t, std::uint32_t crc) noexcept {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

/// Block lengths of each of the three chains: long ones for the bulk (the join costs as much as a
/// few dozen bytes, so it should be rare), short ones for what is left of a buffer.
inline constexpr std::size_t long_block = 8192;
inline constexpr std::size_t short_block = 256;
inline constexpr ShiftTables shift_long = make_shift_tables(long_block);
inline constexpr ShiftTables shift_short = make_shift_tables(short_block);

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline std::uint64_t chain(std::uint64_t c,
                                                             const unsigned char* p,
                                                             std::size_t n) noexcept {
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
    }
    return c;
}

/// Three chains over [p, p + block), [p + block, p + 2 block), [p + 2 block, p + 3 block), joined.
template <std::size_t Block>
__attribute__((target("sse4.2"))) inline std::uint32_t three_chains(
    std::uint32_t crc, const unsigned char* p, const ShiftTables& shift_block) noexcept {
    std::uint64_t a = crc, b = 0, c = 0;
    for (std::size_t i = 0; i < Block; i += 8) {
        std::uint64_t wa, wb, wc;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, p + Block + i, 8);
        std::memcpy(&wc, p + 2 * Block + i, 8);
        a = __builtin_ia32_crc32di(a, wa);
        b = __builtin_ia32_crc32di(b, wb);
        c = __builtin_ia32_crc32di(c, wc);
    }
    std::uint32_t joined = shift(shift_block, std::uint32_t(a)) ^ std::uint32_t(b);
    return shift(shift_block, joined) ^ std::uint32_t(c);
}

__attribute__((target("sse4.2"))) inline std::uint32_t hardware(std::uint32_t crc,
                                                                const unsigned char* p,
                                                                std::size_t n) noexcept {
    for (; n >= 3 * long_block; p += 3 * long_block, n -= 3 * long_block)
        crc = three_chains<long_block>(crc, p, shift_long);
    for (; n >= 3 * short_block; p += 3 * short_block, n -= 3 * short_block)
        crc = three_chains<short_block>(crc, p, shift_short);
    auto c = std::uint32_t(chain(crc, p, n));
    p += n & ~std::size_t(7);
    for (n &= 7; n != 0; --n)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

/// One chain only: the plain form, kept as the reference the tests hold the fast one to.
__attribute__((target("sse4.2"))) inline std::uint32_t hardware_one_chain(std::uint32_t crc,
                                                                          const unsigned char* p,
                                                                          std::size_t n) noexcept {
    auto c = std::uint32_t(chain(crc, p, n));
    p += n & ~std::size_t(7);
    for (n &= 7; n != 0; --n)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

inline bool has_sse42() noexcept {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif

}  // namespace crc32c_impl

/// Extends `crc` (a finished CRC-32C of earlier bytes, 0 to start) over [data, data + n).
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
