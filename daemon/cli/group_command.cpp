// kbus group list | describe | reset-offsets | delete, with kafka-consumer-groups.sh's output
// and habits: reset-offsets shows the plan unless --execute is given.
#include <algorithm>
#include <cstdio>
#include <kbus/group_requests.hpp>
#include <kbus/kbus.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "datetime.hpp"

namespace kbus::cli {
namespace {

using Kind = protocol::OffsetSpecKind;
using Offsets = std::vector<std::pair<std::int32_t, std::int64_t>>;

void list(Client& c) {
    std::printf("%-30s %-20s %s\n", "GROUP", "STATE", "MEMBERS");
    for (const auto& g : group::list(c))
        std::printf("%-30s %-20s %u\n", g.group.c_str(), g.state.c_str(), g.members);
}

void describe(Client& c, const std::string& name) {
    const auto d = group::describe(c, name);
    if (d.members.empty())
        std::printf("Consumer group '%s' has no active members.\n", d.group.c_str());
    else
        std::printf("Consumer group '%s': %s, generation %d, assignor %s, %zu members\n",
                    d.group.c_str(), d.state.c_str(), d.generation, d.protocol.c_str(),
                    d.members.size());
    std::printf("\n%-20s %-20s %-9s %-14s %-14s %-8s %s\n", "GROUP", "TOPIC", "PARTITION",
                "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID");
    for (const auto& p : d.partitions) {
        const std::string current = p.committed < 0 ? "-" : std::to_string(p.committed);
        const std::string lag =
            p.committed < 0 ? "-"
                            : std::to_string(std::max<std::int64_t>(0, p.log_end - p.committed));
        std::printf("%-20s %-20s %-9d %-14s %-14lld %-8s %s\n", d.group.c_str(), p.tp.topic.c_str(),
                    p.tp.partition, current.c_str(), static_cast<long long>(p.log_end), lag.c_str(),
                    p.owner.empty() ? "-" : p.owner.c_str());
    }
}

struct ResetPlan {
    std::string group, topic;
    std::optional<std::pair<Kind, std::int64_t>> to;
    bool execute = false, dry_run = false;
};

ResetPlan reset_flags(Args& a) {
    ResetPlan r;
    r.group = a.next("group");
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--topic")
            r.topic = a.next("topic after --topic");
        else if (f == "--to-earliest")
            r.to = {Kind::beginning, 0};
        else if (f == "--to-latest")
            r.to = {Kind::end, 0};
        else if (f == "--to-offset")
            r.to = {Kind::offset, a.number(f, 0, std::numeric_limits<std::int64_t>::max())};
        else if (f == "--to-datetime")
            r.to = {Kind::timestamp, parse_datetime(a, a.next("datetime after --to-datetime"))};
        else if (f == "--execute")
            r.execute = true;
        else if (f == "--dry-run")
            r.dry_run = true;
        else
            a.unknown_flag(f);
    }
    if (r.topic.empty()) a.error("reset-offsets needs --topic");
    if (!r.to)
        a.error(
            "reset-offsets needs one of --to-earliest, --to-latest, --to-offset, "
            "--to-datetime");
    if (r.execute && r.dry_run) a.error("--dry-run and --execute exclude each other");
    return r;
}

// What a reset would commit, computed as kbusd does (within the log; by the time index for a
// datetime), without committing it. Refused like the reset itself for a group with members.
Offsets planned_offsets(Client& c, const ResetPlan& r) {
    const auto d = group::describe(c, r.group);  // an unknown group is refused here
    if (!d.members.empty())
        throw Error(ErrorCode::group_not_empty,
                    "group '" + r.group + "' has active members; stop them before a reset");
    Offsets out;
    Consumer probe(c);  // finds a timestamp's offset through the log's time index
    for (const auto& p : c.describe_topic(r.topic).partitions) {
        std::int64_t to = p.high_watermark;
        if (r.to->first == Kind::beginning) to = p.log_start_offset;
        if (r.to->first == Kind::offset)
            to = std::clamp(r.to->second, p.log_start_offset, p.high_watermark);
        if (r.to->first == Kind::timestamp) {
            probe.assign(r.topic, p.partition, OffsetSpec::at_timestamp(r.to->second));
            to = probe.position(r.topic, p.partition);
        }
        out.emplace_back(p.partition, to);
    }
    return out;
}

void reset_offsets(Client& c, Args& a) {
    const ResetPlan r = reset_flags(a);
    const Offsets offsets =
        r.execute ? group::reset_offsets(c, r.group, r.topic, r.to->first, r.to->second)
                  : planned_offsets(c, r);
    if (!r.execute && !r.dry_run)
        std::fprintf(stderr,
                     "kbus: no offsets were changed: add --execute to reset them (--dry-run "
                     "only shows them)\n");
    std::printf("%-20s %-20s %-9s %s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
    for (const auto& [p, offset] : offsets)
        std::printf("%-20s %-20s %-9d %lld\n", r.group.c_str(), r.topic.c_str(), p,
                    static_cast<long long>(offset));
}

}  // namespace

int group_command(Client& c, Args& a) {
    const std::string sub = a.next("group subcommand (list, describe, reset-offsets, delete)");
    a.set_help("kbus group " + sub);
    if (sub == "list") {
        list(c);
    } else if (sub == "describe") {
        describe(c, a.next("group"));
    } else if (sub == "reset-offsets") {
        reset_offsets(c, a);
    } else if (sub == "delete") {
        const std::string g = a.next("group");
        group::remove(c, g);
        std::printf("Deleted consumer group '%s'.\n", g.c_str());
    } else {
        a.set_help("kbus group");
        a.error("unknown group subcommand '" + sub + "'");
    }
    if (a.more()) a.error("unexpected argument '" + a.peek() + "'");
    return 0;
}

}  // namespace kbus::cli
