// A topic's id (KIP-516: Metadata v10+ reports it, Fetch v13+ names topics by it). kbus keeps no
// id per topic, so it is derived from the name: stable across restarts, never the all-zero id
// that means "none". A topic deleted and created again under the same name gets the same id
// (Kafka would give it a new one, and a client would notice the re-creation by it).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kbus::kafka {

[[nodiscard]] inline std::array<std::uint8_t, 16> topic_id_of(std::string_view name) noexcept {
    // Two FNV-1a hashes of the name from different offset bases fill the 128 bits.
    std::uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (std::uint64_t& x : h)
        for (const char ch : name) {
            x ^= std::uint8_t(ch);
            x *= 0x100000001b3ull;
        }
    std::array<std::uint8_t, 16> id{};
    for (int i = 0; i < 16; ++i)
        id[std::size_t(i)] = std::uint8_t(h[i / 8] >> (8 * (i % 8)));
    id[0] |= 1;  // never all zero
    return id;
}

}  // namespace kbus::kafka
