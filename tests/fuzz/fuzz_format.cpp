// Fuzz target: `kbus consume -f` format strings (kcat's tokens and escapes) applied to a record
// whose key, value and header block also come from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/record_format.hpp"
#include "kbus/header_block.hpp"

namespace {

struct FuzzBytes {
    std::string_view bytes;
    bool null = false;
    [[nodiscard]] bool is_null() const { return null; }
    [[nodiscard]] std::size_t size() const { return bytes.size(); }
    [[nodiscard]] std::string str() const { return std::string(bytes); }
};

// kbus::Message's accessors, over slices of the input.
struct FuzzMessage {
    FuzzBytes key_, value_;
    std::string_view header_block;
    std::uint32_t header_count = 0;
    [[nodiscard]] std::string topic() const { return "t"; }
    [[nodiscard]] std::int32_t partition() const { return 3; }
    [[nodiscard]] std::int64_t offset() const { return 42; }
    [[nodiscard]] std::int64_t timestamp() const { return -1; }
    [[nodiscard]] FuzzBytes key() const { return key_; }
    [[nodiscard]] FuzzBytes value() const { return value_; }
    [[nodiscard]] kbus::HeaderIterator headers() const {
        return {reinterpret_cast<const std::byte*>(header_block.data()), header_block.size(),
                header_count};
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The input: format \0 key \0 value \0 header block (any part may be missing).
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string_view parts[4];
    std::size_t from = 0;
    for (int i = 0; i < 4; ++i) {
        const std::size_t end = i < 3 ? std::min(in.find('\0', from), in.size()) : in.size();
        parts[i] = from <= in.size() ? in.substr(from, end - from) : std::string_view();
        from = end + 1;
    }
    FuzzMessage m{{parts[1], parts[1].empty()},
                  {parts[2], false},
                  parts[3],
                  parts[3].empty() ? 0u : std::uint8_t(parts[3][0]) % 8u};
    std::string out;
    kbus::cli::format_record(kbus::cli::unescape(parts[0]), m, out);
    return 0;
}
