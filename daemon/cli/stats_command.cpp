// kbus stats [--json] [--interval MS]: the bus's figures once, with rates over the interval.
#include <cstdio>
#include <kbus/kbus.hpp>
#include <string>
#include <thread>

#include "cli/bus_stats_view.hpp"
#include "commands.hpp"
#include "mirror_reports.hpp"

namespace kbus::cli {

int stats_command(Client& c, Args& a) {
    bool json = false;
    std::chrono::milliseconds interval{1000};
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--json")
            json = true;
        else if (f == "--interval")
            interval = std::chrono::milliseconds(a.number(f, 1, 3'600'000));
        else
            a.unknown_flag(f);
    }
    const stats::BusStats before = c.stats();
    std::this_thread::sleep_for(interval);
    const stats::BusStats now = c.stats();
    const auto mirrors = mirror_reports(c.location().run_dir);
    std::string out;
    if (json) {
        out = stats_json(now, before);
        const auto close = out.rfind('}');  // the mirrors join the bus's object
        out.insert(close, mirrors_json(mirrors));
    } else {
        out = stats_table(now, before) + mirrors_table(mirrors);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace kbus::cli
