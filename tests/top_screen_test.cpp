// kbus top's layout (lib/cli/top_screen): every line fits the window, the title stays on top
// whatever the scroll, and a body longer than the window says where the view is.
#include <catch2/catch.hpp>

#include "cli/top_screen.hpp"

namespace {

kbus::stats::BusStats busy_bus(int partitions) {
    kbus::stats::BusStats s;
    s.time_ms = 1000;
    for (int i = 0; i < partitions; ++i) {
        kbus::stats::PartitionStats p;
        p.topic = "a-topic-name-much-longer-than-any-column-allows";
        p.partition = i;
        p.high_watermark = 123456789012LL;
        p.spilled_offset = 123456789012LL - 99999;
        p.ring_bytes = 4194304;
        p.ring_fill_bytes = 4194304;
        p.readers = {{0, 1}, {1, 2}};
        s.partitions.push_back(p);
        s.groups.push_back({"a-group-name-that-is-too-long-as-well", "CompletingRebalance", 12,
                            p.topic, i, 123456789012LL, 99999999});
    }
    return s;
}

}  // namespace

TEST_CASE("kbus top: every line fits the window, at 80x24 and narrower or wider") {
    const auto now = busy_bus(40), before = busy_bus(40);
    for (const int width : {40, 79, 80, 132}) {
        const auto body =
            kbus::cli::top_body(now, before, {"MIRROR edge (reported 0.5 s ago)"}, width);
        for (const auto& line : body)
            CHECK(int(line.size()) <= width);
        int scroll = 0;
        const auto screen = kbus::cli::top_screen("kbus top: bus default", body, width, 24, scroll);
        CHECK(screen.size() == 24);
        for (const auto& line : screen)
            CHECK(int(line.size()) <= width);
    }
    // At 80 columns the partition rows use the whole width: names get what is left.
    const auto body = kbus::cli::top_body(now, before, {}, 79);
    CHECK(body[0].starts_with("TOPIC"));
    CHECK(body[1].size() == 79);
    CHECK(body[1].find('~') != std::string::npos);  // the long name was cut, and says so
}

TEST_CASE("kbus top: the title stays while the body scrolls, and the scroll is clamped") {
    const auto now = busy_bus(100);
    const auto body = kbus::cli::top_body(now, now, {}, 80);
    int scroll = 1000;
    auto screen = kbus::cli::top_screen("TITLE", body, 80, 24, scroll);
    CHECK(screen.front() == "TITLE");
    CHECK(screen.back().find("of " + std::to_string(body.size())) != std::string::npos);
    CHECK(scroll == int(body.size()) - 21);  // the last page is full
    CHECK(screen[2] == body[std::size_t(scroll)]);
    scroll = -5;
    screen = kbus::cli::top_screen("TITLE", body, 80, 24, scroll);
    CHECK(scroll == 0);
    CHECK(screen[2] == body[0]);
    // A body that fits shows whole, with no position line.
    const auto small = kbus::cli::top_body(busy_bus(2), busy_bus(2), {}, 80);
    screen = kbus::cli::top_screen("TITLE", small, 80, 24, scroll);
    CHECK(screen.size() == small.size() + 2);
}

TEST_CASE("kbus top: a caught-up group shows a lag of 0") {
    kbus::stats::BusStats s = busy_bus(1);
    s.groups[0].lag = 0;
    const auto body = kbus::cli::top_body(s, s, {}, 80);
    const std::string& row = body.back();
    CHECK(row.substr(row.size() - 10) == "         0");
}
