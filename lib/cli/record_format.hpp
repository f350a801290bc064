// kcat's -f format strings for `kbus consume`: %t topic, %p partition, %o offset, %k key,
// %s value, %S value size, %K key size (-1 for null), %T timestamp, %h headers (k=v,..., a null
// value printed NULL, as kcat does), %%; any other %x is printed as it stands. Escapes \n, \t and
// \\ are unescaped once, up front.
#pragma once

#include <string>
#include <string_view>

namespace kbus::cli {

[[nodiscard]] inline std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char c = s[++i];
            out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Appends one record in `fmt` to `out`. Message: anything with kbus::Message's accessors.
template <class Message>
void format_record(std::string_view fmt, const Message& m, std::string& out) {
    auto size_of = [](const auto& bytes) {
        return std::to_string(bytes.is_null() ? -1L : long(bytes.size()));
    };
    for (std::size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%' || i + 1 == fmt.size()) {
            out += fmt[i];
            continue;
        }
        switch (const char token = fmt[++i]) {
            case 't':
                out += m.topic();
                break;
            case 'p':
                out += std::to_string(m.partition());
                break;
            case 'o':
                out += std::to_string(m.offset());
                break;
            case 'k':
                out += m.key().str();
                break;
            case 's':
                out += m.value().str();
                break;
            case 'S':
                out += size_of(m.value());
                break;
            case 'K':
                out += size_of(m.key());
                break;
            case 'T':
                out += std::to_string(m.timestamp());
                break;
            case 'h': {
                bool first = true;
                for (auto it = m.headers(); !it.done(); ++it) {
                    if (!first) out += ',';
                    first = false;
                    out += it->key;
                    out += '=';
                    if (it->value.is_null())
                        out += "NULL";  // as kcat: a null value is not an empty one
                    else
                        out += it->value.str();
                }
                break;
            }
            case '%':
                out += '%';
                break;
            default:
                out += '%';
                out += token;
        }
    }
}

}  // namespace kbus::cli
