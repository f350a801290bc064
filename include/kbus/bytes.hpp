// Nullable byte views for keys, values and header values (Kafka distinguishes null from empty).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus {

class BytesView {
  public:
    constexpr BytesView() noexcept = default;  ///< null
    constexpr BytesView(std::nullptr_t) noexcept {}
    BytesView(std::string_view s) noexcept
        : data_(reinterpret_cast<const std::byte*>(s.data())), size_(s.size()), null_(false) {}
    BytesView(const char* s) noexcept : BytesView(std::string_view(s)) {}
    BytesView(const std::string& s) noexcept : BytesView(std::string_view(s)) {}
    constexpr BytesView(std::span<const std::byte> s) noexcept
        : data_(s.data()), size_(s.size()), null_(false) {}
    BytesView(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::byte*>(data)), size_(size), null_(false) {}

    [[nodiscard]] constexpr bool is_null() const noexcept { return null_; }
    [[nodiscard]] constexpr const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::string_view str() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    [[nodiscard]] std::span<const std::byte> span() const noexcept { return {data_, size_}; }
    /// The length as stored on the ring and in Kafka's format: -1 for null.
    [[nodiscard]] constexpr std::int32_t wire_length() const noexcept {
        return null_ ? -1 : static_cast<std::int32_t>(size_);
    }
    [[nodiscard]] std::optional<std::string> to_optional_string() const {
        if (null_) return std::nullopt;
        return std::string(str());
    }

  private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    bool null_ = true;
};

/// A record header: a string key and a nullable value (Kafka's rule).
struct HeaderView {
    std::string_view key;
    BytesView value;
};

/// An owned header, for Message::copy() and for building headers to send.
struct Header {
    std::string key;
    std::optional<std::string> value;
    [[nodiscard]] HeaderView view() const noexcept {
        return {key, value ? BytesView(*value) : BytesView()};
    }
};

}  // namespace kbus
