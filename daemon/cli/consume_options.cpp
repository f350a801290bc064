#include "consume_options.hpp"

#include <limits>
#include <optional>

namespace kbus::cli {
namespace {

constexpr std::int64_t max_offset = std::numeric_limits<std::int64_t>::max();

// A whole number in [0, 2^63), else nullopt.
std::optional<std::int64_t> whole(const std::string& digits) {
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 18)
        return std::nullopt;
    return std::stoll(digits);
}

// kcat's -o: beginning, end, an absolute offset N, -N (N before the end), or s@<ms since the
// epoch> (the first record at or after that time).
void parse_offset(Args& a, const std::string& o, ConsumeOptions& out) {
    if (o == "beginning") return void(out.from = OffsetSpec::beginning());
    if (o == "end") return void(out.from = OffsetSpec::end());
    const bool time = o.starts_with("s@"), back = o.starts_with("-");
    const auto n = whole(o.substr(time ? 2 : back ? 1 : 0));
    if (!n) a.error("bad offset '" + o + "' for -o (beginning, end, N, -N or s@<epoch ms>)");
    if (time)
        out.from = OffsetSpec::at_timestamp(*n);
    else if (back)
        out.from_end = *n;
    else
        out.from = OffsetSpec::at(*n);
}

}  // namespace

ConsumeOptions parse_consume_options(Args& a) {
    ConsumeOptions o;
    o.topic = a.next("topic");
    std::string offset_flag = "beginning";
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "-p") {
            o.partition = std::int32_t(a.number(f, 0, 0x7fffffff));
        } else if (f == "-g") {
            o.group = a.next("group after -g");
        } else if (f == "-o") {
            offset_flag = a.next("offset after -o");
            parse_offset(a, offset_flag, o);
        } else if (f == "-c") {
            o.count = a.number(f, 1, max_offset);
        } else if (f == "-e") {
            o.exit_at_end = true;
        } else if (f == "-f") {
            o.format = a.next("format after -f");
        } else if (f == "--isolation") {
            const std::string level =
                a.next("read_committed or read_uncommitted after --isolation");
            if (level != "read_committed" && level != "read_uncommitted")
                a.error("--isolation is read_committed or read_uncommitted, not '" + level + "'");
            o.isolation = level == "read_committed" ? IsolationLevel::read_committed
                                                    : IsolationLevel::read_uncommitted;
        } else {
            a.unknown_flag(f);
        }
    }
    if (o.grouped()) {
        if (o.partition) a.error("-g and -p exclude each other (the group assigns partitions)");
        if (offset_flag != "beginning" && offset_flag != "end")
            a.error("with -g, -o is beginning or end (where a group without commits starts)");
        o.group_from_end = offset_flag == "end";
    }
    return o;
}

}  // namespace kbus::cli
