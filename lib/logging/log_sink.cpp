#include "logging/log_sink.hpp"

namespace kbus::logging {

// Keys whose last line is this old are forgotten, so that peers that come and go (an address and
// port each) do not grow the map without bound.
constexpr std::size_t forget_after_entries = 4096;

void RateLimitedLog::write(const std::string& key, const std::string& level,
                           const std::string& message, std::uint64_t now_ns) {
    std::uint64_t held_back = 0;
    {
        std::lock_guard lock(mutex_);
        if (entries_.size() > forget_after_entries)
            std::erase_if(entries_, [&](const auto& e) {
                return now_ns - e.second.last_ns > interval_ns_ && e.second.held_back == 0;
            });
        Entry& e = entries_[key];
        if (e.last_ns != 0 && now_ns - e.last_ns < interval_ns_) {
            ++e.held_back;
            return;
        }
        held_back = e.held_back;
        e = {now_ns, 0};
    }
    sink_(level, held_back == 0 ? message
                                : message + " (" + std::to_string(held_back) +
                                      " more like it were held back since the last)");
}

}  // namespace kbus::logging
