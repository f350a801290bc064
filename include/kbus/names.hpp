// Validation of the names a user chooses: topics (Kafka's rule) and buses.
#pragma once

#include <string>
#include <string_view>

namespace kbus {

inline constexpr std::size_t max_topic_name_length = 249;  ///< Kafka's limit
inline constexpr std::size_t max_bus_name_length = 64;

[[nodiscard]] constexpr bool is_legal_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/// Empty string when valid, otherwise why not (a sentence for an error message).
[[nodiscard]] inline std::string check_name(std::string_view kind, std::string_view name,
                                            std::size_t max_length) {
    if (name.empty()) return std::string(kind) + " name is empty";
    if (name.size() > max_length)
        return std::string(kind) + " name is longer than " + std::to_string(max_length) +
               " characters";
    if (name == "." || name == "..") return std::string(kind) + " name cannot be '.' or '..'";
    for (char c : name)
        if (!is_legal_name_char(c))
            return std::string(kind) + " name '" + std::string(name) +
                   "' has an illegal character (allowed: a-z A-Z 0-9 . _ -)";
    return {};
}

[[nodiscard]] inline std::string check_topic_name(std::string_view name) {
    return check_name("topic", name, max_topic_name_length);
}

/// Group names follow the topic rule here (Kafka allows more): they name lines in the offsets
/// file and appear in paths of tools, so nothing outside [a-zA-Z0-9._-] may reach them.
[[nodiscard]] inline std::string check_group_name(std::string_view name) {
    return check_name("group", name, max_topic_name_length);
}

[[nodiscard]] inline std::string check_bus_name(std::string_view name) {
    return check_name("bus", name, max_bus_name_length);
}

}  // namespace kbus
