// Nullable byte views for keys, values and header values (Kafka distinguishes null from empty).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kbus {

namespace detail {
/// Where an empty, non-null view points when its source had no address (an empty string_view
/// or span may have none): the view's null state is its null pointer alone.
inline constexpr std::byte empty_bytes[1]{};
}  // namespace detail

/// Two words, a pointer and a size, so that a view passed by value travels in registers: a
/// larger one goes through the stack, and reading it back there as one 16-byte load, before the
/// stores that built it have drained, stalls the sender behind every store of its last record.
/// Null is a null pointer; an empty view points at detail::empty_bytes when its source had no
/// address.
class BytesView {
  public:
    constexpr BytesView() noexcept = default;  ///< null
    constexpr BytesView(std::nullptr_t) noexcept {}
    BytesView(std::string_view s) noexcept
        : data_(non_null(reinterpret_cast<const std::byte*>(s.data()))), size_(s.size()) {}
    BytesView(const char* s) noexcept : BytesView(std::string_view(s)) {}
    BytesView(const std::string& s) noexcept : BytesView(std::string_view(s)) {}
    constexpr BytesView(std::span<const std::byte> s) noexcept
        : data_(non_null(s.data())), size_(s.size()) {}
    BytesView(const void* data, std::size_t size) noexcept
        : data_(non_null(static_cast<const std::byte*>(data))), size_(size) {}

    [[nodiscard]] constexpr bool is_null() const noexcept { return data_ == nullptr; }
    [[nodiscard]] constexpr const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::string_view str() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    [[nodiscard]] std::span<const std::byte> span() const noexcept { return {data_, size_}; }
    /// The length as stored on the ring and in Kafka's format: -1 for null.
    [[nodiscard]] constexpr std::int32_t wire_length() const noexcept {
        return is_null() ? -1 : static_cast<std::int32_t>(size_);
    }
    [[nodiscard]] std::optional<std::string> to_optional_string() const {
        if (is_null()) return std::nullopt;
        return std::string(str());
    }

  private:
    [[nodiscard]] static constexpr const std::byte* non_null(const std::byte* p) noexcept {
        return p != nullptr ? p : detail::empty_bytes;
    }

    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};
static_assert(sizeof(BytesView) == 2 * sizeof(void*));
static_assert(std::is_trivially_copyable_v<BytesView>);

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
