// A Kafka message's layout as data: the fields of each request and response struct, with the
// versions each field is in, where it may be null and where it is a tagged field, as Apache
// Kafka's message definitions (clients/src/main/resources/common/message/*.json) give them.
// One table per API (api_schemas.cpp) drives the one decoder and encoder (schema_codec.hpp), so
// a new version or API is a table edit, never a new hand-written codec.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

namespace kbus::kafka::schema {

// An inclusive range of versions; empty when hi < lo.
struct Versions {
    std::int16_t lo = 0;
    std::int16_t hi = -1;
    [[nodiscard]] constexpr bool has(std::int16_t v) const noexcept { return v >= lo && v <= hi; }
    [[nodiscard]] constexpr bool empty() const noexcept { return hi < lo; }
};
[[nodiscard]] constexpr Versions since(std::int16_t v) noexcept {
    return {v, std::numeric_limits<std::int16_t>::max()};
}
[[nodiscard]] constexpr Versions only(std::int16_t lo, std::int16_t hi) noexcept {
    return {lo, hi};
}
inline constexpr Versions none{};

enum class Type : std::uint8_t {
    int8,
    int16,
    uint16,
    int32,
    int64,
    float64,
    boolean,
    uuid,
    string,
    bytes,
    records,  // bytes holding record batches (a view, never copied)
    object,   // a nested struct
};

struct Struct;

struct Field {
    std::string_view name;
    Type type = Type::int32;
    Versions versions;
    bool is_array = false;            // an array of `type` (of `element` for objects)
    const Struct* element = nullptr;  // Type::object: its fields
    Versions nullable = none;
    std::int32_t tag = -1;  // a tagged field (flexible versions only) when >= 0
    Versions tagged = none;
    std::int64_t default_int = 0;  // integers and booleans
    bool default_null = false;     // strings, arrays and objects

    [[nodiscard]] constexpr Field null(Versions v) const noexcept {
        Field f = *this;
        f.nullable = v;
        return f;
    }
    [[nodiscard]] constexpr Field tagged_as(std::int32_t t, Versions v) const noexcept {
        Field f = *this;
        f.tag = t;
        f.tagged = v;
        return f;
    }
    [[nodiscard]] constexpr Field def(std::int64_t v) const noexcept {
        Field f = *this;
        f.default_int = v;
        return f;
    }
    [[nodiscard]] constexpr Field def_null() const noexcept {
        Field f = *this;
        f.default_null = true;
        return f;
    }
    [[nodiscard]] constexpr bool is_tagged() const noexcept { return tag >= 0; }
};

struct Struct {
    std::string_view name;
    std::span<const Field> fields;
};

[[nodiscard]] constexpr Field field(std::string_view name, Type t, Versions v) noexcept {
    Field f;
    f.name = name;
    f.type = t;
    f.versions = v;
    return f;
}
[[nodiscard]] constexpr Field object(std::string_view name, const Struct* s, Versions v) noexcept {
    Field f = field(name, Type::object, v);
    f.element = s;
    return f;
}
[[nodiscard]] constexpr Field list(std::string_view name, Type t, Versions v) noexcept {
    Field f = field(name, t, v);
    f.is_array = true;
    return f;
}
[[nodiscard]] constexpr Field list(std::string_view name, const Struct* s, Versions v) noexcept {
    Field f = object(name, s, v);
    f.is_array = true;
    return f;
}

// One API: its key, the versions served, the first flexible version, and its two messages.
struct Api {
    std::int16_t key = 0;
    std::string_view name;
    Versions valid;
    std::int16_t first_flexible = std::numeric_limits<std::int16_t>::max();
    const Struct* request = nullptr;
    const Struct* response = nullptr;
    [[nodiscard]] constexpr bool flexible(std::int16_t v) const noexcept {
        return v >= first_flexible;
    }
};

}  // namespace kbus::kafka::schema
