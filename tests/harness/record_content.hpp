// What the fault harness's writers put in a record, so that any reader can tell an intact record
// from a torn one without knowing who wrote it: the key names the writer and its sequence number
// ("s3-1042"), and the value's first 8 bytes are a hash of the key and the rest of the value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kbus::harness {

// FNV-1a, 64 bits: cheap, and any torn or flipped byte changes it.
inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (const char c : bytes) {
        h ^= std::uint8_t(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

inline std::string record_key(const std::string& writer, std::uint64_t seq) {
    return writer + "-" + std::to_string(seq);
}

// A value of `size` bytes (at least 8) that carries its own checksum.
inline std::string record_value(std::string_view key, std::uint64_t seq, std::size_t size) {
    std::string v(std::max<std::size_t>(size, 8), '\0');
    std::uint64_t x = fnv1a(key) ^ (seq * 0x9E3779B97F4A7C15ULL) ^ 1;
    for (std::size_t i = 8; i < v.size(); ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = char(x);
    }
    const std::uint64_t sum = fnv1a(std::string_view(v).substr(8), fnv1a(key));
    std::memcpy(v.data(), &sum, 8);
    return v;
}

inline bool record_intact(std::string_view key, std::string_view value) {
    if (value.size() < 8) return false;
    std::uint64_t sum = 0;
    std::memcpy(&sum, value.data(), 8);
    return sum == fnv1a(value.substr(8), fnv1a(key));
}

// What histories compare records by: key and value together.
inline std::uint64_t content_hash(std::string_view key, std::string_view value) {
    return fnv1a(value, fnv1a(key) ^ 0x5bd1e995ULL);
}

// "s3-1042" -> writer "s3", seq 1042; false for a key not of that form.
inline bool split_key(std::string_view key, std::string& writer, std::uint64_t& seq) {
    const auto dash = key.rfind('-');
    if (dash == std::string_view::npos || dash + 1 >= key.size()) return false;
    writer = std::string(key.substr(0, dash));
    seq = 0;
    for (const char c : key.substr(dash + 1)) {
        if (c < '0' || c > '9') return false;
        seq = seq * 10 + std::uint64_t(c - '0');
    }
    return true;
}

}  // namespace kbus::harness
