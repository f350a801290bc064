// Java/Kafka ".properties" files: `key=value`, `key: value` or `key value` per logical line,
// `#` and `!` comments, backslash line continuations and escapes (\t \n \r \f \\ \uXXXX).
// Kafka's server.properties and client configs use this format; so do kbusd's --config files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kbus::config {

struct Property {
    std::string key;
    std::string value;
    std::string origin;  // "FILE:LINE" or "--override", for error messages
};

// Parses properties text. `origin` names the source in errors (a file name). Later keys do not
// replace earlier ones here: callers apply them in order, so the last one wins.
// Throws kbus::Error(invalid_argument) on a malformed escape.
[[nodiscard]] std::vector<Property> parse_properties(std::string_view text,
                                                     const std::string& origin);

// Reads and parses a file; throws kbus::Error(io_error) naming the file if it cannot be read.
[[nodiscard]] std::vector<Property> read_properties_file(const std::string& path);

// Parses one `key=value` given on a command line (--override). Throws on a missing '='.
[[nodiscard]] Property parse_override(std::string_view assignment);

}  // namespace kbus::config
