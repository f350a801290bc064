// kafka-consumer-groups.sh's --to-datetime: "2026-11-25T10:00:00", with an optional ".mmm" and
// "Z" or "+HH:MM" (UTC when no zone is given).
#pragma once

#include <cstdint>
#include <string>

#include "cli_args.hpp"

namespace kbus::cli {

// Milliseconds since the epoch; a usage error (exit 2) for anything else.
[[nodiscard]] std::int64_t parse_datetime(const Args& a, const std::string& s);

}  // namespace kbus::cli
