// What `kbus --help`, `kbus COMMAND --help` and `kbus topic|group SUBCOMMAND --help` print: each
// its own usage, with every flag on a line of its own.
#pragma once

#include <string>

namespace kbus::cli {

// The text for a command ("" for kbus itself) and subcommand ("" for the command's own), or
// nullptr when there is no such command.
[[nodiscard]] const char* help_text(const std::string& command, const std::string& subcommand);

// topic and group take a subcommand (kbus topic create ...).
[[nodiscard]] bool has_subcommands(const std::string& command);

}  // namespace kbus::cli
