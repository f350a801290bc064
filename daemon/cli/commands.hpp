// The kbus CLI's commands, one file each: each takes the bus connection and the arguments after
// its name, and returns the exit status (usage errors exit 2 from cli_args.hpp; kbus::Error
// reaches main, which prints it on one line and exits 1).
#pragma once

#include <kbus/client.hpp>

#include "cli_args.hpp"

namespace kbus::cli {

int topic_command(Client& c, Args& a);
int produce_command(Client& c, Args& a);
int consume_command(Client& c, Args& a);
int group_command(Client& c, Args& a);
int stats_command(Client& c, Args& a);
int top_command(Client& c, Args& a);

}  // namespace kbus::cli
