// The header block of a ring record: per header, u16 key length, key bytes, i32 value length
// (-1 = null), value bytes; little-endian, unaligned, back to back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "kbus/bytes.hpp"
#include "kbus/error.hpp"

namespace kbus {

inline constexpr std::size_t max_header_key_bytes = 0xffff;

[[nodiscard]] inline std::size_t header_block_size(std::span<const HeaderView> headers) {
    std::size_t n = 0;
    for (const HeaderView& h : headers) {
        if (h.key.size() > max_header_key_bytes)
            throw Error(ErrorCode::invalid_argument, "header key longer than 65535 bytes");
        n += 2 + h.key.size() + 4 + (h.value.is_null() ? 0 : h.value.size());
    }
    return n;
}

/// Writes the block into `out`, which has header_block_size(headers) bytes.
inline void write_header_block(std::byte* out, std::span<const HeaderView> headers) noexcept {
    for (const HeaderView& h : headers) {
        const auto key_length = static_cast<std::uint16_t>(h.key.size());
        std::memcpy(out, &key_length, 2);
        std::memcpy(out + 2, h.key.data(), h.key.size());
        out += 2 + h.key.size();
        const std::int32_t value_length = h.value.wire_length();
        std::memcpy(out, &value_length, 4);
        out += 4;
        if (value_length > 0) {
            std::memcpy(out, h.value.data(), h.value.size());
            out += h.value.size();
        }
    }
}

/// Iterates a header block without copying. A malformed block ends the iteration early and sets
/// malformed(): readers never read outside the block.
class HeaderIterator {
  public:
    HeaderIterator() = default;
    HeaderIterator(const std::byte* block, std::size_t size, std::uint32_t count) noexcept
        : p_(block), end_(block + size), remaining_(count) {
        advance();
    }
    [[nodiscard]] bool done() const noexcept { return done_; }
    [[nodiscard]] const HeaderView& operator*() const noexcept { return current_; }
    [[nodiscard]] const HeaderView* operator->() const noexcept { return &current_; }
    HeaderIterator& operator++() noexcept {
        advance();
        return *this;
    }
    [[nodiscard]] bool malformed() const noexcept { return malformed_; }

  private:
    void advance() noexcept {
        if (remaining_ == 0) {
            done_ = true;
            return;
        }
        --remaining_;
        if (end_ - p_ < 2) return fail();
        std::uint16_t key_length;
        std::memcpy(&key_length, p_, 2);
        p_ += 2;
        if (std::size_t(end_ - p_) < key_length + 4u) return fail();
        std::string_view key(reinterpret_cast<const char*>(p_), key_length);
        p_ += key_length;
        std::int32_t value_length;
        std::memcpy(&value_length, p_, 4);
        p_ += 4;
        if (value_length < -1 || (value_length > 0 && end_ - p_ < value_length)) return fail();
        current_.key = key;
        if (value_length < 0) {
            current_.value = BytesView();
        } else {
            current_.value = BytesView(p_, std::size_t(value_length));
            p_ += value_length;
        }
    }
    void fail() noexcept {
        malformed_ = true;
        done_ = true;
    }

    const std::byte* p_ = nullptr;
    const std::byte* end_ = nullptr;
    std::uint32_t remaining_ = 0;
    HeaderView current_{};
    bool done_ = false;
    bool malformed_ = false;
};

}  // namespace kbus
