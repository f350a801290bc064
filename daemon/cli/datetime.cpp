#include "datetime.hpp"

#include <cstdio>
#include <ctime>

namespace kbus::cli {
namespace {

// "Z", "" or "+HH:MM"/"-HH:MM" as minutes east of UTC; false for anything else.
bool zone_minutes(const std::string& zone, int& minutes) {
    minutes = 0;
    if (zone.empty() || zone == "Z") return true;
    int hh = 0, mm = 0, used = 0;
    if ((zone[0] != '+' && zone[0] != '-') || zone.size() != 6 ||
        std::sscanf(zone.c_str() + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5 || hh > 23 ||
        mm > 59)
        return false;
    minutes = (zone[0] == '+' ? 1 : -1) * (hh * 60 + mm);
    return true;
}

}  // namespace

std::int64_t parse_datetime(const Args& a, const std::string& s) {
    const std::string format = " (YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM])";
    std::tm tm{};
    int ms = 0, consumed = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        a.error("bad datetime '" + s + "'" + format);
    std::string rest = s.substr(std::size_t(consumed));
    if (rest.starts_with(".")) {
        int used = 0;
        if (std::sscanf(rest.c_str(), ".%3d%n", &ms, &used) != 1)
            a.error("bad milliseconds in '" + s + "'" + format);
        rest = rest.substr(std::size_t(used));
    }
    int offset_min = 0;
    if (!zone_minutes(rest, offset_min)) a.error("bad time zone in '" + s + "'" + format);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t t = ::timegm(&tm);
    return (std::int64_t(t) - std::int64_t(offset_min) * 60) * 1000 + ms;
}

}  // namespace kbus::cli
