// One encoder and one decoder for every control message: a message lists its fields once
// (KBUS_FIELDS), and encode()/decode() walk that list. Nothing is written twice, so a message's
// writer and reader cannot disagree.
//
// Field encodings (little-endian, as protocol.hpp's Writer and Reader): integers and enums as
// their fixed-width bytes, bool as u8, strings as u32 length + bytes, vectors as u32 count + items,
// pairs as their two halves, messages as their fields in order.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kbus/protocol.hpp"

// Declares a message's fields, in wire order: `KBUS_FIELDS(name, partitions, config)`.
#define KBUS_FIELDS(...)              \
    auto fields() noexcept {          \
        return std::tie(__VA_ARGS__); \
    }                                 \
    auto fields() const noexcept {    \
        return std::tie(__VA_ARGS__); \
    }

namespace kbus::codec {

template <class T>
concept Message = requires(T& t) {
    t.fields();
};

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsPair : std::false_type {};
template <class A, class B>
struct IsPair<std::pair<A, B>> : std::true_type {};

template <class T>
constexpr std::size_t min_bytes();

/// The fields' types, from the (unevaluated) type of fields(): a tuple of references.
template <class Tuple>
struct MinBytesOfFields;
template <class... Fields>
struct MinBytesOfFields<std::tuple<Fields...>> {
    static constexpr std::size_t value =
        (std::size_t{0} + ... + min_bytes<std::remove_cvref_t<Fields>>());
};

/// The fewest bytes one encoded T takes: the bound a decoder checks a count against, so that a
/// hostile count never drives a huge allocation.
template <class T>
constexpr std::size_t min_bytes() {
    if constexpr (std::is_same_v<T, bool>)
        return 1;
    else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>)
        return sizeof(T);
    else if constexpr (std::is_same_v<T, std::string> || IsVector<T>::value)
        return 4;
    else if constexpr (IsPair<T>::value)
        return min_bytes<typename T::first_type>() + min_bytes<typename T::second_type>();
    else
        return MinBytesOfFields<decltype(std::declval<T&>().fields())>::value;
}

template <class T>
void encode(protocol::Writer& w, const T& v);
template <class T>
void decode(protocol::Reader& r, T& v);

template <class T>
void encode(protocol::Writer& w, const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        w.u8(v ? 1 : 0);
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
        w.raw(&v, sizeof(T));
    } else if constexpr (std::is_same_v<T, std::string>) {
        w.str(v);
    } else if constexpr (IsVector<T>::value) {
        w.u32(static_cast<std::uint32_t>(v.size()));
        for (const auto& item : v)
            encode(w, item);
    } else if constexpr (IsPair<T>::value) {
        encode(w, v.first);
        encode(w, v.second);
    } else {
        static_assert(Message<T>,
                      "a control message field must be a number, string, vector, "
                      "pair or message");
        std::apply([&](const auto&... f) { (encode(w, f), ...); }, v.fields());
    }
}

template <class T>
void decode(protocol::Reader& r, T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        v = r.u8() != 0;
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
        using Raw = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>,
                                                std::type_identity<T>>::type;
        Raw raw{};
        if constexpr (sizeof(Raw) == 1)
            raw = static_cast<Raw>(r.u8());
        else if constexpr (sizeof(Raw) == 2)
            raw = static_cast<Raw>(r.u16());
        else if constexpr (sizeof(Raw) == 4)
            raw = static_cast<Raw>(r.u32());
        else
            raw = static_cast<Raw>(r.u64());
        v = static_cast<T>(raw);
    } else if constexpr (std::is_same_v<T, std::string>) {
        v = r.str();
    } else if constexpr (IsVector<T>::value) {
        v.resize(r.count(min_bytes<typename T::value_type>()));
        for (auto& item : v)
            decode(r, item);
    } else if constexpr (IsPair<T>::value) {
        decode(r, v.first);
        decode(r, v.second);
    } else {
        static_assert(Message<T>,
                      "a control message field must be a number, string, vector, "
                      "pair or message");
        std::apply([&](auto&... f) { (decode(r, f), ...); }, v.fields());
    }
}

template <class T>
[[nodiscard]] std::string encoded(const T& v) {
    protocol::Writer w;
    encode(w, v);
    return w.take();
}

/// Decodes a whole payload; trailing bytes are a malformed message.
template <class T>
[[nodiscard]] T decoded(std::string_view payload) {
    protocol::Reader r(payload);
    T v{};
    decode(r, v);
    r.expect_end();
    return v;
}

/// A message with no fields: the reply of requests that only succeed or fail.
struct Empty {
    auto fields() const noexcept { return std::tie(); }
    auto fields() noexcept { return std::tie(); }
};

}  // namespace kbus::codec
