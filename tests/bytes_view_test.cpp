// BytesView: Kafka's null and empty stay apart, in two words.
#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kbus/bytes.hpp"

using kbus::BytesView;

TEST_CASE("a view is null only when built as null, empty from any empty source", "[bytes]") {
    CHECK(BytesView().is_null());
    CHECK(BytesView(nullptr).is_null());
    CHECK(BytesView().wire_length() == -1);
    CHECK(BytesView().size() == 0);

    // Sources with no address at all are still empty, not null.
    const std::string_view no_address;
    REQUIRE(no_address.data() == nullptr);
    const std::vector<std::byte> empty_vector;
    const BytesView empties[] = {BytesView(no_address), BytesView(std::string()), BytesView(""),
                                 BytesView(std::span<const std::byte>(empty_vector)),
                                 BytesView(static_cast<const void*>(nullptr), 0)};
    for (const BytesView& v : empties) {
        CHECK_FALSE(v.is_null());
        CHECK(v.size() == 0);
        CHECK(v.wire_length() == 0);
        CHECK(v.to_optional_string() == std::optional<std::string>(""));
    }
    CHECK(BytesView().to_optional_string() == std::nullopt);
}

TEST_CASE("a view keeps its bytes' address and length, and is two words", "[bytes]") {
    const std::string s = "payload";
    const BytesView v(s);
    CHECK(v.data() == reinterpret_cast<const std::byte*>(s.data()));
    CHECK(v.size() == s.size());
    CHECK(v.str() == "payload");
    CHECK(v.wire_length() == 7);
    // Passed by value in registers under the SysV ABI: the producer's send takes keys so.
    STATIC_REQUIRE(sizeof(BytesView) == 2 * sizeof(void*));
}
