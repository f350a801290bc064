// One Kafka client connection of the listener: the bytes received and not yet served, the
// request being served (parked while it waits: a long-polling fetch, a join waiting for the
// group, a produce waiting for ring space), and the responses queued for sending, byte runs and
// segment-file extents (sent with sendfile, never copied through user space).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kafka/kafka_api.hpp"
#include "kafka_backend.hpp"

namespace kbusd {

// A response as sent: byte runs and file extents in order.
class ResponseBuilder {
  public:
    kbus::kafka::WireWriter& bytes() noexcept { return writer_; }
    void file(FileExtent e) {
        flush_bytes();
        pieces_.emplace_back(std::move(e));
    }
    [[nodiscard]] std::vector<std::variant<std::string, FileExtent>> finish() {
        flush_bytes();
        return std::move(pieces_);
    }
    [[nodiscard]] std::uint64_t size() const noexcept {
        std::uint64_t n = writer_.size();
        for (const auto& p : pieces_)
            n += std::holds_alternative<std::string>(p) ? std::get<std::string>(p).size()
                                                        : std::get<FileExtent>(p).length;
        return n;
    }

  private:
    void flush_bytes() {
        if (writer_.size() == 0) return;
        pieces_.emplace_back(std::move(writer_.buffer()));
        writer_ = {};
    }
    kbus::kafka::WireWriter writer_;
    std::vector<std::variant<std::string, FileExtent>> pieces_;
};

// One partition of a Produce, once appended or refused.
struct ProducedPartition {
    std::int32_t index = 0;
    kbus::kafka::KafkaError error = kbus::kafka::KafkaError::none;
    std::int64_t base_offset = -1;
    std::int64_t log_append_time_ms = -1;
    std::int64_t log_start_offset = -1;
};

// A request that could not be answered at once, and what it has done so far.
struct ParkedRequest {
    std::int64_t deadline_ms = 0;
    std::string member_id;  // JoinGroup: the id handed out on the first attempt
    // Produce: the partitions already appended (a retry must not append them twice).
    std::vector<std::optional<ProducedPartition>> produced;
};

struct KafkaConnection {
    int fd = -1;
    std::uint64_t id = 0;
    std::string in;  // received; starts with the request being served
    std::deque<std::variant<std::string, FileExtent>> out;
    std::uint64_t out_bytes = 0;      // queued, not yet sent
    std::uint64_t sent_in_front = 0;  // of out.front()
    std::optional<ParkedRequest> parked;
    // A request that cannot be answered came: the answers before it go out, then it closes.
    bool closing = false;
    std::uint32_t epoll_events = 0;  // what epoll watches for now

    void queue(std::vector<std::variant<std::string, FileExtent>> pieces) {
        for (auto& p : pieces) {
            const bool is_bytes = std::holds_alternative<std::string>(p);
            out_bytes +=
                is_bytes ? std::get<std::string>(p).size() : std::get<FileExtent>(p).length;
            // Byte runs merge (many small pipelined responses go out in one send).
            if (is_bytes && !out.empty() && std::holds_alternative<std::string>(out.back()))
                std::get<std::string>(out.back()) += std::get<std::string>(p);
            else
                out.push_back(std::move(p));
        }
    }
};

}  // namespace kbusd
