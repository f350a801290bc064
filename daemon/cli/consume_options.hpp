// kbus consume's flags (kcat's -p -o -c -e -f, and -g as kcat -G), checked before it connects.
#pragma once

#include <kbus/consumer.hpp>
#include <optional>
#include <string>

#include "cli_args.hpp"

namespace kbus::cli {

struct ConsumeOptions {
    std::string topic;
    std::optional<std::int32_t> partition;
    OffsetSpec from = OffsetSpec::beginning();
    std::optional<std::int64_t> from_end;  // -o -N: N records before each partition's end
    std::string group;
    bool group_from_end = false;  // -g with -o end: a group without commits starts at the end
    long long count = -1;
    bool exit_at_end = false;
    std::string format = "%s\\n";
    IsolationLevel isolation = IsolationLevel::read_uncommitted;

    [[nodiscard]] bool grouped() const { return !group.empty(); }
};

[[nodiscard]] ConsumeOptions parse_consume_options(Args& a);

}  // namespace kbus::cli
