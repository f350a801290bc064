#include <catch2/catch.hpp>
#include <string>

#include "kbus/bus_location.hpp"
#include "kbus/names.hpp"

TEST_CASE("topic names follow Kafka's rule", "[names]") {
    CHECK(kbus::check_topic_name("gps").empty());
    CHECK(kbus::check_topic_name("truck.gps_v2-eu").empty());
    CHECK(kbus::check_topic_name(std::string(249, 'a')).empty());
    CHECK_FALSE(kbus::check_topic_name(std::string(250, 'a')).empty());
    CHECK_FALSE(kbus::check_topic_name("").empty());
    CHECK_FALSE(kbus::check_topic_name(".").empty());
    CHECK_FALSE(kbus::check_topic_name("..").empty());
    CHECK_FALSE(kbus::check_topic_name("a/b").empty());
    CHECK_FALSE(kbus::check_topic_name("../etc").empty());
    CHECK_FALSE(kbus::check_topic_name("a b").empty());
    CHECK_FALSE(kbus::check_topic_name("caf\xc3\xa9").empty());
}

TEST_CASE("bus location: flags win over environment", "[names]") {
    ::setenv("KBUS_BUS", "envbus", 1);
    ::setenv("KBUS_RUN_DIR", "/tmp/env-run", 1);
    ::setenv("KBUS_DATA_DIR", "/tmp/env-data", 1);
    auto from_env = kbus::resolve_bus_location();
    CHECK(from_env.bus == "envbus");
    CHECK(from_env.run_dir == "/tmp/env-run");
    CHECK(from_env.socket_path() == "/tmp/env-run/kbus.sock");
    CHECK(from_env.data_dir == "/tmp/env-data");
    auto from_flags = kbus::resolve_bus_location({"flagbus", "/tmp/flag-run", "/tmp/flag-data"});
    CHECK(from_flags.bus == "flagbus");
    CHECK(from_flags.run_dir == "/tmp/flag-run");
    CHECK(from_flags.data_dir == "/tmp/flag-data");
    ::unsetenv("KBUS_RUN_DIR");
    ::unsetenv("KBUS_DATA_DIR");
    ::unsetenv("KBUS_BUS");
    auto defaults = kbus::resolve_bus_location();
    CHECK(defaults.bus == "default");
    CHECK(defaults.run_dir.find("/default") != std::string::npos);
    CHECK_THROWS_AS(kbus::resolve_bus_location({"bad/name", {}, {}}), kbus::Error);
}
