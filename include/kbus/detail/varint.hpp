// Kafka's record-level integers: zig-zag varints (protobuf sint32/sint64), 7 bits per byte,
// little-endian groups, high bit = more. At most 5 bytes for 32-bit values, 10 for 64-bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kbus::detail {

inline void put_varlong(std::string& out, std::int64_t v) {
    std::uint64_t u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    while (u >= 0x80) {
        out.push_back(static_cast<char>(u | 0x80));
        u >>= 7;
    }
    out.push_back(static_cast<char>(u));
}

inline void put_varint(std::string& out, std::int32_t v) {
    put_varlong(out, v);  // zig-zag of a sign-extended int32 encodes identically
}

[[nodiscard]] inline std::size_t varlong_size(std::int64_t v) noexcept {
    std::uint64_t u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    std::size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        ++n;
    }
    return n;
}

/// Reads one zig-zag varint of at most max_bytes bytes from [p, end). False on truncation or an
/// over-long encoding; p advances past what was read on success.
[[nodiscard]] inline bool get_varlong(const std::byte*& p, const std::byte* end, std::int64_t& out,
                                      int max_bytes = 10) noexcept {
    std::uint64_t u = 0;
    for (int i = 0; i < max_bytes; ++i) {
        if (p == end) return false;
        const auto b = static_cast<std::uint8_t>(*p++);
        u |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            out = static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
            return true;
        }
    }
    return false;
}

[[nodiscard]] inline bool get_varint(const std::byte*& p, const std::byte* end,
                                     std::int32_t& out) noexcept {
    std::int64_t v = 0;
    if (!get_varlong(p, end, v, 5) || v < INT32_MIN || v > INT32_MAX) return false;
    out = static_cast<std::int32_t>(v);
    return true;
}

}  // namespace kbus::detail
