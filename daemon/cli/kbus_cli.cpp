// kbus: the command-line tool, with kcat's conventions for produce and consume and
// kafka-consumer-groups.sh's for groups. This file reads the global flags and --help, and hands
// the rest to the command's own file.
#include <cstdio>
#include <exception>
#include <kbus/kbus.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "help_text.hpp"
#include "mirror_command.hpp"

namespace {

using kbus::cli::Args;

// `kbus [COMMAND [SUBCOMMAND]] ... -h|--help` anywhere: the most specific usage there is.
bool print_help(const std::vector<std::string>& args, std::size_t command_at) {
    bool asked = false;
    for (std::size_t i = command_at; i < args.size(); ++i)
        asked = asked || args[i] == "-h" || args[i] == "--help";
    if (!asked) return false;
    const std::string command = command_at < args.size() ? args[command_at] : "";
    std::string sub;
    if (kbus::cli::has_subcommands(command) && command_at + 1 < args.size() &&
        !args[command_at + 1].starts_with("-"))
        sub = args[command_at + 1];
    const char* text = kbus::cli::help_text(command, sub);
    if (text == nullptr && !sub.empty())
        kbus::cli::usage_error("unknown " + command + " subcommand '" + sub + "'",
                               "kbus " + command);
    if (text == nullptr) kbus::cli::usage_error("unknown command '" + command + "'");
    std::fputs(text, stdout);
    return true;
}

// What to do next, after the library's message, for the errors a newcomer meets first.
std::string hint(const kbus::Error& e) {
    const std::string what = e.what();
    switch (e.code()) {
        case kbus::ErrorCode::not_connected:
            return "; start kbusd for this bus, or name the bus it serves (--bus, KBUS_BUS) and "
                   "its run dir (--run-dir, KBUS_RUN_DIR)";
        case kbus::ErrorCode::unknown_topic:
            return "; kbus topic list shows the topics, kbus topic create NAME makes one";
        case kbus::ErrorCode::topic_exists:
            return "; kbus topic describe NAME shows it";
        default:
            break;
    }
    if (what.find("unknown topic config") != std::string::npos)
        return "; kbus topic create --help lists the settings";
    if (what.find("unknown group") != std::string::npos)
        return "; kbus group list shows the groups";
    // A value read from a properties file (kbus mirror --config) with a comment after it.
    if (what.find(" #") != std::string::npos && what.find("comments go on") == std::string::npos)
        return "; comments go on a line of their own in a properties file";
    return "";
}

int run(const std::string& command, Args& a, const kbus::ClientOptions& options) {
    using namespace kbus::cli;
    // The mirror connects (and reconnects) on its own, after reading its config.
    if (command == "mirror") return kbusd::mirror_command(a.rest(), options);
    using Command = int (*)(kbus::Client&, Args&);
    const std::pair<const char*, Command> commands[] = {
        {"topic", topic_command}, {"produce", produce_command}, {"consume", consume_command},
        {"group", group_command}, {"stats", stats_command},     {"top", top_command}};
    for (const auto& [name, f] : commands)
        if (command == name) {
            kbus::ClientOptions o = options;
            // A topic of thousands of partitions takes kbusd seconds to make or grow (a progress
            // line shows it): the CLI waits for the answer rather than giving up on a live daemon.
            if (command == "topic" && a.more() && (a.peek() == "create" || a.peek() == "alter"))
                o.request_timeout = std::chrono::minutes(10);
            kbus::Client c(o);
            return f(c, a);
        }
    kbus::cli::usage_error("unknown command '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    Args a(args, "kbus");
    kbus::ClientOptions options;
    options.client_name = "kbus-cli";
    while (a.more() && a.peek().starts_with("-")) {
        const std::string f = a.next("flag");
        if (f == "--help" || f == "-h") {
            std::fputs(kbus::cli::help_text("", ""), stdout);
            return 0;
        }
        if (f == "--version") {
            std::printf("kbus %s\n", KBUS_VERSION);
            return 0;
        }
        if (f == "--bus")
            options.bus = a.next("bus name after --bus");
        else if (f == "--run-dir")
            options.run_dir = a.next("run dir after --run-dir");
        else
            a.unknown_flag(f);
    }
    if (!a.more()) {
        std::fputs(kbus::cli::help_text("", ""), stderr);
        return 2;
    }
    if (print_help(args, args.size() - a.rest().size())) return 0;
    const std::string command = a.next("command");
    a.set_help("kbus " + command);
    try {
        return run(command, a, options);
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "kbus: %s%s\n", e.what(), hint(e).c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kbus: %s\n", e.what());
        return 1;
    }
}
