// Committed offsets per (group, topic, partition), durable through any crash of the daemon:
// <data dir>/__kbus_offsets is an append-only log of lines
//   commit <group> <topic> <partition> <offset> [<metadata, hex>]
//   delete-group <group>
//   delete-offset <group> <topic> <partition>
//   delete-topic <topic>
// written with one write() each (so a killed daemon loses nothing the kernel has; syncing is
// the page cache's, as Kafka's offsets topic by default). At start the file is read (the last
// line wins; a torn last line is skipped) and rewritten compacted (temp file, fsync, rename), or,
// where that fails (a full disk), appended to as it is; it is compacted again whenever it grows
// past a bound. Names never hold spaces (validated).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kbus/group_messages.hpp"
#include "log/file.hpp"
#include "log/partition_log.hpp"

namespace kbus::groups {

using OffsetMap = std::map<group::TopicPartition, std::int64_t>;

class OffsetStore {
  public:
    OffsetStore(const std::string& data_dir, logging::LogSink sink);

    // Throws Error(io_error) if the line cannot be written (the commit then did not happen).
    // `metadata`: the client's string kept with the offset (Kafka's commit metadata).
    void commit(const std::string& group, const group::TopicPartition& tp, std::int64_t offset,
                const std::string& metadata = {});
    void erase_group(const std::string& group);
    void erase_offset(const std::string& group, const group::TopicPartition& tp);
    void erase_topic(const std::string& topic);

    [[nodiscard]] std::optional<std::int64_t> committed(const std::string& group,
                                                        const group::TopicPartition& tp) const;
    [[nodiscard]] const OffsetMap* offsets_of(const std::string& group) const;
    // The metadata committed with the offset ("" if none).
    [[nodiscard]] std::string metadata(const std::string& group,
                                       const group::TopicPartition& tp) const;
    [[nodiscard]] std::vector<std::string> groups() const;

  private:
    void load();
    void compact();
    void append(const std::string& line);

    std::string path_;
    logging::LogSink sink_;
    std::map<std::string, OffsetMap> offsets_;
    std::map<std::pair<std::string, group::TopicPartition>, std::string> metadata_;  // non-empty
    log::File file_;
    std::uint64_t file_size_ = 0;
    std::uint64_t whole_lines_bytes_ = 0;  // of the file as loaded: up to its last '\n'
};

}  // namespace kbus::groups
