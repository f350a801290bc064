// The kbus CLI's argument cursor and its one way of refusing input: one line on stderr that says
// what is wrong and points at --help, exit status 2. Numbers are parsed whole and range-checked
// here, so that no flag can end in an uncaught std::out_of_range or a silently truncated value.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kbus::cli {

[[noreturn]] inline void usage_error(const std::string& msg, const std::string& help = "kbus") {
    std::fprintf(stderr, "kbus: %s (see %s --help)\n", msg.c_str(), help.c_str());
    std::exit(2);
}

// `flag`'s value as a whole number in [min, max], else a usage error naming the flag and range.
[[nodiscard]] inline std::int64_t parse_number(const std::string& flag, const std::string& text,
                                               std::int64_t min, std::int64_t max,
                                               const std::string& help = "kbus") {
    std::size_t used = 0;
    long long v = 0;
    bool ok = !text.empty() && text.front() != '+' && text.front() != ' ';
    try {
        if (ok) v = std::stoll(text, &used);
    } catch (const std::logic_error&) {  // not a number, or past 64 bits
        ok = false;
    }
    if (!ok || used != text.size() || v < min || v > max)
        usage_error(flag + " takes a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", not '" + text + "'",
                    help);
    return v;
}

class Args {
  public:
    Args(std::vector<std::string> v, std::string help) : v_(std::move(v)), help_(std::move(help)) {}

    [[nodiscard]] bool more() const { return i_ < v_.size(); }
    [[nodiscard]] const std::string& peek() const { return v_[i_]; }
    std::string next(const std::string& what) {
        if (!more()) error("missing " + what);
        return v_[i_++];
    }
    // The value of `flag` as a number in [min, max].
    std::int64_t number(const std::string& flag, std::int64_t min, std::int64_t max) {
        return parse_number(flag, next("value for " + flag), min, max, help_);
    }
    [[noreturn]] void error(const std::string& msg) const { usage_error(msg, help_); }
    [[noreturn]] void unknown_flag(const std::string& flag) const {
        error("unknown flag '" + flag + "'");
    }
    // What --help points at in error messages: "kbus consume", "kbus topic create", ...
    void set_help(std::string help) { help_ = std::move(help); }
    [[nodiscard]] const std::string& help() const { return help_; }
    [[nodiscard]] std::vector<std::string> rest() const {
        return {v_.begin() + std::ptrdiff_t(i_), v_.end()};
    }

  private:
    std::vector<std::string> v_;
    std::size_t i_ = 0;
    std::string help_;
};

}  // namespace kbus::cli
