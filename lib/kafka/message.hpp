// A Kafka request or response as the schema codec reads and writes it: a tree of values shaped
// by a schema::Struct, its fields reached by their Kafka names (`m["Topics"]`). A decoded
// message's strings, bytes and records are views into the request frame, which outlives the
// serving of the request; values set by a handler own their text. A field name that is not in
// the struct is a programming error (std::logic_error), caught by the first test that serves it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/schema.hpp"

namespace kbus::kafka {

class Value {
  public:
    enum class Kind : std::uint8_t { null, integer, real, text, uuid, array, object, extent };
    using Uuid = std::array<std::uint8_t, 16>;

    Value() = default;
    // An object of `s` with every field at its default; an array holds no elements.
    [[nodiscard]] static Value object_of(const schema::Struct& s);
    [[nodiscard]] static Value default_of(const schema::Field& f);

    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] bool is_null() const noexcept { return kind_ == Kind::null; }

    // Integers and booleans.
    [[nodiscard]] std::int64_t integer() const noexcept { return integer_; }
    [[nodiscard]] std::int32_t i32() const noexcept { return std::int32_t(integer_); }
    [[nodiscard]] std::int16_t i16() const noexcept { return std::int16_t(integer_); }
    [[nodiscard]] bool boolean() const noexcept { return integer_ != 0; }
    [[nodiscard]] double real() const noexcept { return real_; }
    // Strings, bytes and records (empty when null).
    [[nodiscard]] std::string_view text() const noexcept {
        return owns_text_ ? std::string_view(owned_) : view_;
    }
    [[nodiscard]] std::optional<std::string_view> nullable_text() const noexcept {
        if (is_null()) return std::nullopt;
        return text();
    }
    [[nodiscard]] const Uuid& uuid() const noexcept { return uuid_; }

    // Arrays: their elements. Objects: their fields, in the struct's order.
    [[nodiscard]] std::vector<Value>& items() noexcept { return items_; }
    [[nodiscard]] const std::vector<Value>& items() const noexcept { return items_; }
    [[nodiscard]] const schema::Struct* type() const noexcept { return struct_; }
    [[nodiscard]] const schema::Field* field() const noexcept { return field_; }

    // An object's field by its Kafka name.
    [[nodiscard]] Value& operator[](std::string_view name);
    [[nodiscard]] const Value& operator[](std::string_view name) const;
    // Appends an element to an array (an object at its defaults for arrays of structs).
    Value& add();

    Value& set(std::int64_t v) noexcept;
    Value& set_real(double v) noexcept;
    Value& set_text(std::string v);
    Value& set_view(std::string_view v) noexcept;  // text that outlives the message
    Value& set_uuid(const Uuid& v) noexcept;
    Value& set_null() noexcept;
    Value& set_array() noexcept;  // an empty, non-null array
    // Records sent from a file: `length` bytes, spliced in by the encoder's caller (`index` is
    // the caller's own handle for them).
    Value& set_extent(std::uint64_t length, std::size_t index) noexcept;
    [[nodiscard]] std::size_t extent_index() const noexcept { return extent_index_; }

  private:
    friend class SchemaCodec;
    [[nodiscard]] std::size_t index_of(std::string_view name) const;

    Kind kind_ = Kind::null;
    bool owns_text_ = false;
    std::int64_t integer_ = 0;
    double real_ = 0;
    std::size_t extent_index_ = 0;  // Kind::extent: the caller's handle for its bytes
    std::string owned_;
    std::string_view view_;
    Uuid uuid_{};
    std::vector<Value> items_;
    const schema::Struct* struct_ = nullptr;  // objects
    const schema::Field* field_ = nullptr;    // arrays (their element type) and objects
};

}  // namespace kbus::kafka
