#include "log/log_tail.hpp"

#include <algorithm>
#include <string>

#include "kbus/error.hpp"

namespace kbus::log {
namespace {

// The whole batches in `bytes` that reach `next` or past; moves `next` past them. Bytes used.
std::size_t visit_batches(const std::string& bytes, std::int64_t& next,
                          const std::function<void(const BatchView&)>& on_batch) {
    std::size_t at = 0;
    while (bytes.size() - at >= batch_header_bytes) {
        const BatchView b(
            {reinterpret_cast<const std::byte*>(bytes.data()) + at, bytes.size() - at});
        if (b.total_bytes() > bytes.size() - at || b.last_offset() < next) break;
        on_batch(b);
        next = b.last_offset() + 1;
        at += b.total_bytes();
    }
    return at;
}

}  // namespace

void for_each_tail_batch(PartitionLog& log, std::int64_t end,
                         const std::function<void(const BatchView&)>& on_batch) {
    std::int64_t next = std::max(log.log_start_offset(), end - tail_window_offsets);
    for (std::size_t read = 0; next < end;) {
        if (read >= tail_max_bytes) {  // big records: skip ahead, so that the newest are read
            next += (end - next) / 2;
            read = tail_max_bytes / 2;
        }
        std::string bytes;
        try {
            bytes = log.read(next, 1 << 20);
        } catch (const Error& e) {
            const auto damage = log.damage_at(next, false);
            if (e.code() != ErrorCode::corrupt_record || !damage ||
                damage->region.last_offset < next)
                return;
            next = damage->region.last_offset + 1;
            continue;
        }
        const std::size_t used = visit_batches(bytes, next, on_batch);
        if (used == 0) return;  // nothing whole to learn from here
        read += used;
    }
}

}  // namespace kbus::log
