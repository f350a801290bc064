// The client API without a daemon: what a user sees when nothing runs.
#include <catch2/catch.hpp>
#include <string>

#include "kbus/kbus.hpp"

TEST_CASE("a client with no daemon running gets a clear not_connected error", "[client]") {
    kbus::ClientOptions options;
    options.bus = "no-daemon-test";
    options.run_dir = "/tmp/kbus-test-no-daemon-" + std::to_string(::getpid());
    try {
        kbus::Client client(options);
        FAIL("connected to a daemon that does not exist");
    } catch (const kbus::Error& e) {
        CHECK(e.code() == kbus::ErrorCode::not_connected);
        CHECK(std::string(e.what()).find("is the daemon running?") != std::string::npos);
    }
}

TEST_CASE("offset specs carry their kind", "[client]") {
    CHECK(kbus::OffsetSpec::beginning().kind() == kbus::protocol::OffsetSpecKind::beginning);
    CHECK(kbus::OffsetSpec::end().kind() == kbus::protocol::OffsetSpecKind::end);
    CHECK(kbus::OffsetSpec::at(42).offset() == 42);
}
