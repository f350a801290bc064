// Kafka's wire primitives: big-endian integers, int16-length strings (-1: null), int32-length
// bytes (-1: null) and int32-count arrays, and the flexible versions' (KIP-482) unsigned varints
// and compact strings, bytes and arrays (length + 1 as a varint, 0: null). One codec for every
// Kafka encoding kbus speaks: the daemon's Kafka listener (lib/kafka) and the consumer protocol's
// member metadata that the client carries in its groups (consumer_protocol.hpp). The reader checks
// every length against what is left before using it and throws KafkaDecodeError: a request can
// never make the daemon read outside its frame or allocate more than the frame could describe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "kbus/detail/big_endian.hpp"
#include "kbus/error.hpp"

namespace kbus::kafka {

class KafkaDecodeError : public Error {
  public:
    explicit KafkaDecodeError(const std::string& what) : Error(ErrorCode::protocol_error, what) {}
};

class WireReader {
  public:
    explicit WireReader(std::string_view bytes) noexcept : bytes_(bytes) {}

    [[nodiscard]] std::int8_t i8() { return fixed<std::int8_t>(); }
    [[nodiscard]] std::int16_t i16() { return fixed<std::int16_t>(); }
    [[nodiscard]] std::int32_t i32() { return fixed<std::int32_t>(); }
    [[nodiscard]] std::int64_t i64() { return fixed<std::int64_t>(); }
    [[nodiscard]] bool boolean() { return i8() != 0; }

    [[nodiscard]] std::optional<std::string_view> nullable_string() {
        return nullable_run(i16(), "string");
    }
    [[nodiscard]] std::string string() {
        const auto s = nullable_string();
        if (!s) throw KafkaDecodeError("a null string where one is required");
        return std::string(*s);
    }
    [[nodiscard]] std::optional<std::string_view> nullable_bytes() {
        return nullable_run(i32(), "bytes");
    }
    [[nodiscard]] std::string bytes() {
        const auto b = nullable_bytes();
        return b ? std::string(*b) : std::string();
    }
    /// An array count; -1 (null) only where `nullable`. Each element takes at least
    /// `min_element_bytes`, so a count the remaining bytes cannot hold is refused up front.
    [[nodiscard]] std::int32_t array_count(std::size_t min_element_bytes, bool nullable = false) {
        const std::int32_t n = i32();
        if (n == -1 && nullable) return -1;
        if (n < 0) throw KafkaDecodeError("negative array count " + std::to_string(n));
        if (min_element_bytes > 0 && std::size_t(n) > remaining() / min_element_bytes)
            throw KafkaDecodeError("array count " + std::to_string(n) + " exceeds the request");
        return n;
    }

    [[nodiscard]] double f64() {
        const auto bits = fixed<std::uint64_t>();
        double d;
        static_assert(sizeof d == sizeof bits);
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }
    /// An unsigned varint of at most 32 bits (KIP-482's lengths, counts and tags).
    [[nodiscard]] std::uint32_t uvarint() {
        std::uint32_t v = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            const auto b = std::uint8_t(i8());
            if (shift == 28 && (b & 0xf0) != 0) break;
            v |= std::uint32_t(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return v;
        }
        throw KafkaDecodeError("an unsigned varint longer than 32 bits");
    }
    /// A compact length (varint of length + 1): nullopt for null (0).
    [[nodiscard]] std::optional<std::size_t> compact_length() {
        const std::uint32_t n = uvarint();
        if (n == 0) return std::nullopt;
        return std::size_t(n - 1);
    }
    [[nodiscard]] std::optional<std::string_view> compact_nullable_run() {
        const auto n = compact_length();
        if (!n) return std::nullopt;
        return take(*n);
    }
    /// `n` raw bytes (a UUID, a tagged field's payload).
    [[nodiscard]] std::string_view raw(std::size_t n) { return take(n); }

    [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - at_; }
    [[nodiscard]] std::string_view rest() const noexcept { return bytes_.substr(at_); }

  private:
    template <typename T>
    [[nodiscard]] T fixed() {
        return detail::load_be<T>(take(sizeof(T)).data());
    }
    /// A length-prefixed run whose length -1 means null (strings and bytes alike).
    [[nodiscard]] std::optional<std::string_view> nullable_run(std::int32_t n, const char* what) {
        if (n < -1)
            throw KafkaDecodeError(std::string("negative ") + what + " length " +
                                   std::to_string(n));
        if (n == -1) return std::nullopt;
        return take(std::size_t(n));
    }
    [[nodiscard]] std::string_view take(std::size_t n) {
        if (n > remaining())
            throw KafkaDecodeError("truncated: " + std::to_string(n) + " bytes wanted, " +
                                   std::to_string(remaining()) + " left");
        const std::string_view v = bytes_.substr(at_, n);
        at_ += n;
        return v;
    }

    std::string_view bytes_;
    std::size_t at_ = 0;
};

class WireWriter {
  public:
    void i8(std::int8_t v) { fixed(v); }
    void i16(std::int16_t v) { fixed(v); }
    void i32(std::int32_t v) { fixed(v); }
    void i64(std::int64_t v) { fixed(v); }
    void boolean(bool v) { i8(v ? 1 : 0); }
    void string(std::string_view s) {
        s = s.substr(0, 0x7fff);  // an int16 length: longer text (an error message) is cut
        i16(std::int16_t(s.size()));
        out_.append(s);
    }
    void null_string() { i16(-1); }
    void nullable_string(const std::optional<std::string_view>& s) {
        if (s)
            string(*s);
        else
            null_string();
    }
    void bytes(std::string_view b) {
        i32(std::int32_t(b.size()));
        out_.append(b);
    }
    void array_count(std::size_t n) { i32(std::int32_t(n)); }
    void raw(std::string_view b) { out_.append(b); }
    void f64(double d) {
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        fixed(bits);
    }
    void uvarint(std::uint32_t v) {
        while (v >= 0x80) {
            out_.push_back(char(std::uint8_t(v) | 0x80));
            v >>= 7;
        }
        out_.push_back(char(v));
    }
    /// A compact length: `n` + 1, or 0 for null.
    void compact_length(std::optional<std::size_t> n) { uvarint(n ? std::uint32_t(*n + 1) : 0); }

    /// Patches an int32 written earlier (a size known only afterwards).
    void patch_i32(std::size_t at, std::int32_t v) noexcept {
        detail::store_be(out_.data() + at, v);
    }

    [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
    [[nodiscard]] std::string& buffer() noexcept { return out_; }

  private:
    template <typename T>
    void fixed(T v) {
        char b[sizeof(T)];
        detail::store_be(b, v);
        out_.append(b, sizeof(T));
    }
    std::string out_;
};

}  // namespace kbus::kafka
