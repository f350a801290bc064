// kbus: the command-line tool, with kcat's conventions for produce and consume.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <kbus/group_requests.hpp>
#include <kbus/kbus.hpp>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/bus_stats_view.hpp"
#include "cli/progress_line.hpp"
#include "cli/record_format.hpp"
#include "mirror_command.hpp"

using namespace std::chrono_literals;

namespace {

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "kbus: %s (see kbus --help)\n", msg.c_str());
    std::exit(2);
}

const char* help =
    "usage: kbus [--bus NAME] [--run-dir DIR] COMMAND ...   (kbus COMMAND --help: its flags)\n"
    "  --bus NAME         the bus (default: $KBUS_BUS, else \"default\")\n"
    "  --run-dir DIR      where its kbusd's socket is (default: $KBUS_RUN_DIR, else per user)\n"
    "  --version          kbus's version\n"
    "  topic create NAME --partitions N [--config k=v]...   create a topic\n"
    "  topic alter NAME --config k=v...                     change retention and other settings\n"
    "  topic list | describe NAME | delete NAME              manage topics\n"
    "  produce TOPIC [-K delim] [-p partition] [-H k=v]...   one record per stdin line\n"
    "  consume TOPIC [-p partition] [-o beginning|end|N|s@MS] [-c count] [-e] [-f format]\n"
    "          [-g GROUP]   join a consumer group (as kcat -G): -o is then where a group\n"
    "                       without commits starts (beginning or end); -e exits once every\n"
    "                       assigned partition is at its end; offsets are committed\n"
    "      format tokens: %t topic %p partition %o offset %k key %s value %S value size\n"
    "                     %K key size %T timestamp %h headers (k=v,...); escapes \\n \\t\n"
    "  group list                                           groups, their state and members\n"
    "  group describe GROUP                                 members, offsets and lag\n"
    "  group reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N |\n"
    "          --to-datetime YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM])   for a group without members\n"
    "  group delete GROUP                                   a group without members\n"
    "  stats [--json] [--interval MS]   every partition's offsets, rates, ring fill, spill lag,\n"
    "                                   and every group's lag (rates over MS, default 1000)\n"
    "  top [--interval MS] [--iterations N]   the same, redrawn every MS until Ctrl-C\n"
    "  mirror --config FILE [--override k=v]... [--status]   copy topics to and from a Kafka\n"
    "                                   cluster (kbus mirror --help)\n";

// `kbus COMMAND --help`: the command's own flags, one line each.
const char* command_help(const std::string& command) {
    if (command == "topic")
        return "usage: kbus topic create NAME --partitions N [--config k=v]...\n"
               "       kbus topic alter NAME --config k=v...\n"
               "       kbus topic list | describe NAME | delete NAME\n"
               "  --partitions N     partitions of a new topic (1..10000)\n"
               "  --config k=v       a topic setting: retention.ms, retention.bytes, "
               "segment.bytes,\n"
               "                     compression.type, ring.bytes, max.message.bytes, ...\n";
    if (command == "produce")
        return "usage: kbus produce TOPIC [flags] < records   (one record per line)\n"
               "  -K DELIM           split each line into key DELIM value\n"
               "  -p PARTITION       send to this partition (default: by key, else round robin)\n"
               "  -H KEY=VALUE       add a header to every record (repeatable; KEY alone: null)\n";
    if (command == "consume")
        return "usage: kbus consume TOPIC [flags]\n"
               "  -p PARTITION       read this partition only (default: all)\n"
               "  -o OFFSET          beginning, end, an offset, or s@MS (first at or after a "
               "time)\n"
               "  -c COUNT           stop after COUNT records\n"
               "  -e                 stop at the end of the partitions\n"
               "  -f FORMAT          kcat's tokens: %t %p %o %k %s %S %K %T %h, escapes \\n \\t\n"
               "  -g GROUP           consume as a member of GROUP, committing offsets\n";
    if (command == "group")
        return "usage: kbus group list | describe GROUP | delete GROUP\n"
               "       kbus group reset-offsets GROUP --topic T WHERE\n"
               "  --topic T          the topic whose committed offsets are reset\n"
               "  --to-earliest      WHERE: the log start\n"
               "  --to-latest        WHERE: the high watermark\n"
               "  --to-offset N      WHERE: offset N\n"
               "  --to-datetime T    WHERE: the first offset at or after "
               "YYYY-MM-DDTHH:MM:SS[.mmm]\n";
    if (command == "stats")
        return "usage: kbus stats [flags]\n"
               "  --json             one JSON object, for scripts\n"
               "  --interval MS      measure rates over MS milliseconds (default 1000)\n";
    if (command == "mirror")
        return "usage: kbus mirror --config FILE [--override key=value]... [--status]\n"
               "  --config FILE      bootstrap.servers, out.topics, in.topics (comma-separated\n"
               "                     regexes), out.topic.prefix, in.topic.prefix, group.id;\n"
               "                     any other key goes to librdkafka\n"
               "  --override k=v     a setting on top of the file (repeatable)\n"
               "  --status           print what the running mirror last reported, and exit\n";
    if (command == "top")
        return "usage: kbus top [flags]   (Ctrl-C quits)\n"
               "  --interval MS      redraw every MS milliseconds (default 1000)\n"
               "  --iterations N     stop after N redraws\n";
    return nullptr;
}

struct Args {
    std::vector<std::string> v;
    std::size_t i = 0;
    bool more() const { return i < v.size(); }
    std::string next(const char* what) {
        if (!more()) usage_error(std::string("missing ") + what);
        return v[i++];
    }
};

using kbus::cli::unescape;

void print_formatted(const std::string& fmt, const kbus::Message& m) {
    std::string out;
    kbus::cli::format_record(fmt, m, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
}

// kcat's -o: beginning, end, an absolute offset, or s@<ms since the epoch> (first record at or
// after that time).
kbus::OffsetSpec parse_offset(const std::string& o) {
    auto number = [&](const std::string& digits) {
        std::size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(digits, &used);
        } catch (const std::logic_error&) {
        }
        if (used != digits.size() || v < 0)
            usage_error("bad offset '" + o + "' (beginning, end, N or s@<epoch ms>)");
        return v;
    };
    if (o == "beginning") return kbus::OffsetSpec::beginning();
    if (o == "end") return kbus::OffsetSpec::end();
    if (o.starts_with("s@")) return kbus::OffsetSpec::at_timestamp(number(o.substr(2)));
    return kbus::OffsetSpec::at(number(o));
}

int topic_cmd(kbus::Client& c, Args& a) {
    const std::string sub = a.next("topic subcommand");
    if (sub == "list") {
        for (const auto& n : c.list_topics())
            std::printf("%s\n", n.c_str());
    } else if (sub == "create" || sub == "alter") {
        const std::string name = a.next("topic name");
        int partitions = 1;
        std::map<std::string, std::string> config;
        while (a.more()) {
            const std::string f = a.next("flag");
            if (f == "--partitions" && sub == "create")
                partitions = std::stoi(a.next("partition count"));
            else if (f == "--config") {
                const std::string kv = a.next("k=v");
                const auto eq = kv.find('=');
                if (eq == std::string::npos)
                    usage_error("--config takes key=value, got '" + kv + "'");
                config[kv.substr(0, eq)] = kv.substr(eq + 1);
            } else
                usage_error("unknown flag '" + f + "'");
        }
        if (sub == "alter") {
            c.alter_topic(name, config);
            std::printf("altered topic %s\n", name.c_str());
        } else {
            c.create_topic(name, partitions, config);
            std::printf("created topic %s with %d partitions\n", name.c_str(), partitions);
        }
    } else if (sub == "describe") {
        const auto d = c.describe_topic(a.next("topic name"));
        std::printf("topic %s  partitions %d  ring.bytes %llu  max.message.bytes %u\n",
                    d.metadata.name.c_str(), d.metadata.partitions,
                    (unsigned long long)d.metadata.ring_bytes, d.metadata.max_message_bytes);
        for (const auto& [k, v] : d.metadata.config)
            std::printf("  config %s=%s\n", k.c_str(), v.c_str());
        std::printf("%9s %16s %16s %12s %10s %8s\n", "partition", "log-start", "high-watermark",
                    "ring-bytes", "ring-fill", "readers");
        for (const auto& p : d.partitions)
            std::printf("%9d %16lld %16lld %12llu %9.1f%% %8u\n", p.partition,
                        (long long)p.log_start_offset, (long long)p.high_watermark,
                        (unsigned long long)p.ring_bytes,
                        100.0 * double(p.ring_fill_bytes) / double(p.ring_bytes),
                        p.attached_readers);
    } else if (sub == "delete") {
        const std::string name = a.next("topic name");
        c.delete_topic(name);
        std::printf("deleted topic %s\n", name.c_str());
    } else {
        usage_error("unknown topic subcommand '" + sub + "'");
    }
    return 0;
}

int produce_cmd(kbus::Client& c, Args& a) {
    const std::string topic = a.next("topic");
    std::string delim;
    std::optional<int> partition;
    std::vector<kbus::Header> headers;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "-K")
            delim = unescape(a.next("key delimiter"));
        else if (f == "-p")
            partition = std::stoi(a.next("partition"));
        else if (f == "-H") {
            const std::string kv = a.next("header");
            const auto eq = kv.find('=');
            if (eq == std::string::npos)
                headers.push_back({kv, std::nullopt});
            else
                headers.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
        } else
            usage_error("unknown flag '" + f + "'");
    }
    std::vector<kbus::HeaderView> views;
    for (const auto& h : headers)
        views.push_back(h.view());
    kbus::Producer p(c);
    kbus::SendOptions o;
    o.headers = views;
    o.partition = partition;
    kbus::cli::ProgressLine progress("producing to " + topic);
    // POSIX getline on stdio's buffer: std::getline on a stdio-synced std::cin goes a character
    // at a time, which held kbus produce to 100k records/s of 1 KiB.
    char* buffer = nullptr;
    std::size_t capacity = 0;
    for (ssize_t n; (n = ::getline(&buffer, &capacity, stdin)) >= 0;) {
        std::string_view line(buffer, std::size_t(n));
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        const auto at = delim.empty() ? std::string_view::npos : line.find(delim);
        if (at != std::string_view::npos)
            p.send(topic, line.substr(0, at), line.substr(at + delim.size()), o);
        else
            p.send(topic, nullptr, line, o);
        progress.add(line.size());
    }
    std::free(buffer);
    progress.finish();
    std::fprintf(stderr, "produced %llu records to %s\n",
                 static_cast<unsigned long long>(progress.records()), topic.c_str());
    return 0;
}

volatile std::sig_atomic_t g_interrupted = 0;

// With -g the CLI commits exactly what it printed (with -c it may stop inside a batch): the
// offset after each partition's last printed record, every second, on a rebalance (before the
// partitions move on) and at the end.
class PrintedOffsets : public kbus::RebalanceListener {
  public:
    void printed(const kbus::Message& m) {
        offsets_[{std::string(m.topic()), m.partition()}] = m.offset() + 1;
    }
    void commit(kbus::Consumer& c) {
        if (offsets_.empty()) return;
        c.commit_sync({offsets_.begin(), offsets_.end()});
        offsets_.clear();
    }
    void on_partitions_revoked(kbus::Consumer& c,
                               const std::vector<kbus::group::TopicPartition>&) override {
        try {
            commit(c);
        } catch (const kbus::Error&) {  // fenced: the new owner starts at the last commit
        }
        offsets_.clear();
    }
    // Lost (no longer a member): after a daemon restart the commit slots may still take the
    // commit; after a rebalance they refuse it.
    void on_partitions_lost(kbus::Consumer& c,
                            const std::vector<kbus::group::TopicPartition>& p) override {
        on_partitions_revoked(c, p);
    }

  private:
    std::map<kbus::group::TopicPartition, std::int64_t> offsets_;
};

int consume_cmd(kbus::Client& c, Args& a) {
    const std::string topic = a.next("topic");
    std::optional<int> partition;
    kbus::OffsetSpec from = kbus::OffsetSpec::beginning();
    std::string offset_flag = "beginning";
    std::string group;
    long count = -1;
    bool exit_at_end = false;
    std::string fmt = "%s\\n";
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "-p")
            partition = std::stoi(a.next("partition"));
        else if (f == "-g")
            group = a.next("group");
        else if (f == "-o") {
            offset_flag = a.next("offset");
            from = parse_offset(offset_flag);
        } else if (f == "-c")
            count = std::stol(a.next("count"));
        else if (f == "-e")
            exit_at_end = true;
        else if (f == "-f")
            fmt = a.next("format");
        else
            usage_error("unknown flag '" + f + "'");
    }
    fmt = unescape(fmt);
    kbus::ConsumerOptions options;
    if (!group.empty()) {
        if (partition) usage_error("-g and -p exclude each other (the group assigns partitions)");
        if (offset_flag != "beginning" && offset_flag != "end")
            usage_error("with -g, -o is beginning or end (where a group without commits starts)");
        options.group_id = group;
        options.client_id = "kbus-cli";
        options.auto_offset_reset =
            offset_flag == "end" ? kbus::OffsetReset::latest : kbus::OffsetReset::earliest;
        options.enable_auto_commit = false;  // PrintedOffsets commits what was printed
    }
    PrintedOffsets printed;
    options.rebalance_listener = &printed;
    kbus::Consumer con(c, options);
    if (partition)
        con.assign(topic, *partition, from);
    else
        con.subscribe(topic, from);
    // Ctrl-C ends the loop, so a group member commits and leaves instead of dying.
    std::signal(SIGINT, [](int) { g_interrupted = 1; });
    std::signal(SIGTERM, [](int) { g_interrupted = 1; });
    long seen = 0;
    auto next_commit = std::chrono::steady_clock::now() + 1s;
    while ((count < 0 || seen < count) && g_interrupted == 0) {
        const auto& batch = con.poll(100ms);
        for (const auto& m : batch) {
            print_formatted(fmt, m);
            if (!group.empty()) printed.printed(m);
            if (++seen == count) break;
        }
        std::fflush(stdout);
        if (!group.empty() && std::chrono::steady_clock::now() >= next_commit) {
            next_commit = std::chrono::steady_clock::now() + 1s;
            printed.commit(con);
        }
        const bool ready = group.empty() || con.in_group();
        if (exit_at_end && batch.empty() && ready && con.at_end()) break;
    }
    if (!group.empty()) printed.commit(con);
    con.close();  // leaves the group
    return 0;
}

// "2026-11-25T10:00:00", with optional ".mmm" and "Z" or "+HH:MM" (UTC when no zone is given),
// as kafka-consumer-groups.sh --to-datetime takes it; returns ms since the epoch.
std::int64_t parse_datetime(const std::string& s) {
    std::tm tm{};
    int ms = 0, consumed = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        usage_error("bad datetime '" + s + "' (YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM])");
    std::string rest = s.substr(std::size_t(consumed));
    if (rest.starts_with(".")) {
        int used = 0;
        if (std::sscanf(rest.c_str(), ".%3d%n", &ms, &used) != 1)
            usage_error("bad milliseconds in '" + s + "'");
        rest = rest.substr(std::size_t(used));
    }
    int offset_min = 0;
    if (rest == "Z" || rest.empty()) {
    } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
        const int hh = std::stoi(rest.substr(1, 2)), mm = std::stoi(rest.substr(4, 2));
        offset_min = (rest[0] == '+' ? 1 : -1) * (hh * 60 + mm);
    } else {
        usage_error("bad time zone in '" + s + "' (Z or +HH:MM)");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t t = ::timegm(&tm);
    return (std::int64_t(t) - std::int64_t(offset_min) * 60) * 1000 + ms;
}

int group_cmd(kbus::Client& c, Args& a) {
    const std::string sub = a.next("group command");
    if (sub == "list") {
        std::printf("%-30s %-20s %s\n", "GROUP", "STATE", "MEMBERS");
        for (const auto& g : kbus::group::list(c))
            std::printf("%-30s %-20s %u\n", g.group.c_str(), g.state.c_str(), g.members);
        return 0;
    }
    if (sub == "describe") {
        const auto d = kbus::group::describe(c, a.next("group"));
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
                p.committed < 0
                    ? "-"
                    : std::to_string(std::max<std::int64_t>(0, p.log_end - p.committed));
            std::printf("%-20s %-20s %-9d %-14s %-14lld %-8s %s\n", d.group.c_str(),
                        p.tp.topic.c_str(), p.tp.partition, current.c_str(),
                        static_cast<long long>(p.log_end), lag.c_str(),
                        p.owner.empty() ? "-" : p.owner.c_str());
        }
        return 0;
    }
    if (sub == "reset-offsets") {
        const std::string g = a.next("group");
        std::string topic;
        std::optional<std::pair<kbus::protocol::OffsetSpecKind, std::int64_t>> to;
        while (a.more()) {
            const std::string f = a.next("flag");
            if (f == "--topic")
                topic = a.next("topic");
            else if (f == "--to-earliest")
                to = {kbus::protocol::OffsetSpecKind::beginning, 0};
            else if (f == "--to-latest")
                to = {kbus::protocol::OffsetSpecKind::end, 0};
            else if (f == "--to-offset")
                to = {kbus::protocol::OffsetSpecKind::offset, std::stoll(a.next("offset"))};
            else if (f == "--to-datetime")
                to = {kbus::protocol::OffsetSpecKind::timestamp,
                      parse_datetime(a.next("datetime"))};
            else
                usage_error("unknown flag '" + f + "'");
        }
        if (topic.empty()) usage_error("reset-offsets needs --topic");
        if (!to)
            usage_error(
                "reset-offsets needs one of --to-earliest, --to-latest, --to-offset, "
                "--to-datetime");
        std::printf("%-20s %-20s %-9s %s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
        for (const auto& [p, offset] :
             kbus::group::reset_offsets(c, g, topic, to->first, to->second))
            std::printf("%-20s %-20s %-9d %lld\n", g.c_str(), topic.c_str(), p,
                        static_cast<long long>(offset));
        return 0;
    }
    if (sub == "delete") {
        const std::string g = a.next("group");
        kbus::group::remove(c, g);
        std::printf("Deleted consumer group '%s'.\n", g.c_str());
        return 0;
    }
    usage_error("unknown group command '" + sub + "'");
}

}  // namespace

// Two snapshots `interval` apart, so that rates can be shown.
std::pair<kbus::stats::BusStats, kbus::stats::BusStats> two_snapshots(
    kbus::Client& c, std::chrono::milliseconds interval) {
    kbus::stats::BusStats before = c.stats();
    std::this_thread::sleep_for(interval);
    return {c.stats(), std::move(before)};
}

std::chrono::milliseconds interval_flag(Args& a) {
    const long ms = std::stol(a.next("interval (ms)"));
    if (ms < 1 || ms > 3'600'000) usage_error("--interval must be 1..3600000 ms");
    return std::chrono::milliseconds(ms);
}

// The mirrors' reports under the bus's tables (their status files, as kbus mirror --status).
std::string mirrors_table(const std::vector<kbusd::MirrorReport>& reports) {
    std::string out;
    for (const auto& r : reports) {
        char head[160];
        std::snprintf(head, sizeof head, "\nMIRROR %s (reported %.1f s ago%s)\n", r.group.c_str(),
                      r.age_s, r.age_s > 5 ? ": is it still running?" : "");
        out += head + r.text;
    }
    return out;
}

// A report's rule lines ("out rule=P records=N ... last_error=TEXT") as JSON objects; the
// numbers stay numbers, last_error (which may hold spaces) is the rest of the line.
std::string mirrors_json(const std::vector<kbusd::MirrorReport>& reports) {
    std::string j = ",\"mirrors\":[";
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const auto& r = reports[i];
        j += (i ? "," : "") + std::string("{\"group\":") + kbus::cli::json_quoted(r.group) +
             ",\"age_s\":" + std::to_string(r.age_s) + ",\"rules\":[";
        std::istringstream lines(r.text);
        bool first = true;
        for (std::string line; std::getline(lines, line);) {
            if (!line.starts_with("out ") && !line.starts_with("in ")) continue;
            j += (first ? "{" : ",{") + std::string("\"direction\":") +
                 kbus::cli::json_quoted(line.substr(0, line.find(' ')));
            first = false;
            const auto error_at = line.find(" last_error=");
            std::istringstream fields(line.substr(line.find(' ') + 1, error_at - line.find(' ')));
            for (std::string field; fields >> field;) {
                const auto eq = field.find('=');
                if (eq == std::string::npos) continue;
                const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
                j += ",\"" + key + "\":" + (key == "rule" ? kbus::cli::json_quoted(value) : value);
            }
            if (error_at != std::string::npos) {
                const std::string e = line.substr(error_at + 12);
                j += ",\"last_error\":" +
                     (e == "-" ? std::string("null") : kbus::cli::json_quoted(e));
            }
            j += "}";
        }
        j += "]}";
    }
    return j + "]";
}

int stats_cmd(kbus::Client& c, Args& a) {
    bool json = false;
    std::chrono::milliseconds interval{1000};
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--json")
            json = true;
        else if (f == "--interval")
            interval = interval_flag(a);
        else
            usage_error("stats: unknown flag '" + f + "'");
    }
    const auto [now, before] = two_snapshots(c, interval);
    const auto mirrors = kbusd::mirror_reports(c.location().run_dir);
    std::string out;
    if (json) {
        out = kbus::cli::stats_json(now, before);
        const auto close = out.rfind('}');  // the mirrors join the bus's object
        out.insert(close, mirrors_json(mirrors));
    } else {
        out = kbus::cli::stats_table(now, before) + mirrors_table(mirrors);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

volatile std::sig_atomic_t g_top_stop = 0;

// Like top: redraws every interval until interrupted (or `--iterations N` times, for scripts).
int top_cmd(kbus::Client& c, Args& a) {
    std::chrono::milliseconds interval{1000};
    long iterations = -1;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--interval")
            interval = interval_flag(a);
        else if (f == "--iterations")
            iterations = std::stol(a.next("iterations"));
        else
            usage_error("top: unknown flag '" + f + "'");
    }
    std::signal(SIGINT, [](int) { g_top_stop = 1; });
    const bool terminal = ::isatty(STDOUT_FILENO) != 0;
    kbus::stats::BusStats before = c.stats();
    for (long i = 0; !g_top_stop && i != iterations; ++i) {
        std::this_thread::sleep_for(interval);
        kbus::stats::BusStats now = c.stats();
        std::string screen = terminal ? "\033[H\033[2J" : "";  // home, clear
        screen += "kbus top: bus " + c.location().bus + ", " + std::to_string(now.connections) +
                  " connections, every " + std::to_string(interval.count()) +
                  " ms (Ctrl-C quits)\n\n";
        screen += kbus::cli::stats_table(now, before) +
                  mirrors_table(kbusd::mirror_reports(c.location().run_dir));
        std::fwrite(screen.data(), 1, screen.size(), stdout);
        std::fflush(stdout);
        before = std::move(now);
    }
    return 0;
}

int main(int argc, char** argv) {
    Args a{{argv + 1, argv + argc}};
    kbus::ClientOptions options;
    options.client_name = "kbus-cli";
    while (a.more() && a.v[a.i].rfind("--", 0) == 0) {
        const std::string f = a.next("flag");
        if (f == "--help") {
            std::fputs(help, stdout);
            return 0;
        }
        if (f == "--version") {
            std::printf("kbus %s\n", KBUS_VERSION);
            return 0;
        }
        if (f == "--bus")
            options.bus = a.next("bus name");
        else if (f == "--run-dir")
            options.run_dir = a.next("run dir");
        else
            usage_error("unknown flag '" + f + "'");
    }
    try {
        const std::string cmd = a.next("command");
        for (std::size_t i = a.i; i < a.v.size(); ++i)
            if (a.v[i] == "--help" || a.v[i] == "-h") {
                const char* text = command_help(cmd);
                if (text == nullptr) usage_error("unknown command '" + cmd + "'");
                std::fputs(text, stdout);
                return 0;
            }
        // The mirror connects (and reconnects) on its own, after reading its config.
        if (cmd == "mirror")
            return kbusd::mirror_command({a.v.begin() + std::ptrdiff_t(a.i), a.v.end()}, options);
        kbus::Client c(options);
        if (cmd == "topic") return topic_cmd(c, a);
        if (cmd == "produce") return produce_cmd(c, a);
        if (cmd == "consume") return consume_cmd(c, a);
        if (cmd == "group") return group_cmd(c, a);
        if (cmd == "stats") return stats_cmd(c, a);
        if (cmd == "top") return top_cmd(c, a);
        usage_error("unknown command '" + cmd + "'");
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "kbus: %s\n", e.what());
        return 1;
    } catch (const std::invalid_argument&) {
        std::fprintf(stderr, "kbus: a numeric argument is not a number\n");
        return 2;
    }
}
