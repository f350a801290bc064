#include "config/properties.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kbus/error.hpp"

namespace kbus::config {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\f';
}

// Joins physical lines into logical ones: a line ending in an odd number of backslashes
// continues on the next, whose leading blanks are dropped (as java.util.Properties does).
struct LogicalLine {
    std::string text;
    std::size_t line_number;
};

std::vector<LogicalLine> logical_lines(std::string_view text) {
    std::vector<LogicalLine> out;
    std::string current;
    std::size_t line_number = 0, start_line = 0;
    bool continuing = false;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find_first_of("\r\n", pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        ++line_number;
        pos = end + 1;
        if (end < text.size() && text[end] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
        std::size_t first = 0;
        while (first < line.size() && is_blank(line[first]))
            ++first;
        line.remove_prefix(first);
        if (!continuing) {
            if (line.empty() || line[0] == '#' || line[0] == '!') {
                if (end == text.size()) break;
                continue;
            }
            start_line = line_number;
        }
        std::size_t backslashes = 0;
        while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\')
            ++backslashes;
        continuing = backslashes % 2 == 1;
        current.append(line.substr(0, continuing ? line.size() - 1 : line.size()));
        if (!continuing || end == text.size()) {
            out.push_back({std::move(current), start_line});
            current.clear();
            continuing = false;
        }
        if (end == text.size()) break;
    }
    return out;
}

void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Decodes escapes in [i, stop) where stop() says whether an unescaped char ends the token.
template <typename Stop>
std::string unescape(const std::string& s, std::size_t& i, Stop stop, const std::string& where) {
    std::string out;
    while (i < s.size() && !stop(s[i])) {
        if (s[i] != '\\') {
            out += s[i++];
            continue;
        }
        if (++i == s.size()) break;
        const char c = s[i++];
        switch (c) {
            case 't':
                out += '\t';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 'f':
                out += '\f';
                break;
            case 'u': {
                if (i + 4 > s.size())
                    throw Error(ErrorCode::invalid_argument, where + ": malformed \\u escape");
                unsigned cp = 0;
                for (int k = 0; k < 4; ++k) {
                    const char h = s[i++];
                    cp <<= 4;
                    if (h >= '0' && h <= '9')
                        cp |= unsigned(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        cp |= unsigned(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        cp |= unsigned(h - 'A' + 10);
                    else
                        throw Error(ErrorCode::invalid_argument, where + ": malformed \\u escape");
                }
                append_utf8(out, cp);
                break;
            }
            default:
                out += c;  // \\ \= \: \# \! and any other char stand for themselves
        }
    }
    return out;
}

}  // namespace

std::vector<Property> parse_properties(std::string_view text, const std::string& origin) {
    std::vector<Property> out;
    for (const LogicalLine& line : logical_lines(text)) {
        const std::string where = origin + ":" + std::to_string(line.line_number);
        const std::string& s = line.text;
        std::size_t i = 0;
        std::string key = unescape(
            s, i, [](char c) { return c == '=' || c == ':' || is_blank(c); }, where);
        while (i < s.size() && is_blank(s[i]))
            ++i;
        if (i < s.size() && (s[i] == '=' || s[i] == ':')) ++i;
        while (i < s.size() && is_blank(s[i]))
            ++i;
        std::string value = unescape(
            s, i, [](char) { return false; }, where);
        out.push_back({std::move(key), std::move(value), where});
    }
    return out;
}

std::vector<Property> read_properties_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(ErrorCode::io_error,
                    "cannot read config file '" + path + "': " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_properties(text.str(), path);
}

Property parse_override(std::string_view assignment) {
    const std::size_t eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0)
        throw Error(ErrorCode::invalid_argument,
                    "--override needs key=value, got '" + std::string(assignment) + "'");
    return {std::string(assignment.substr(0, eq)), std::string(assignment.substr(eq + 1)),
            "--override"};
}

}  // namespace kbus::config
