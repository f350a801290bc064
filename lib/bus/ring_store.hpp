// Where a bus's partition rings live in shared memory (files in the bus's SharedMemoryDirectory),
// and how they are made: a ring a crashed or stopped daemon left behind is adopted when it still
// matches its topic (it may hold records not yet spilled), anything else is created fresh. The
// daemon alone creates and removes rings; clients only map them (client.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "kbus/control_messages.hpp"
#include "kbus/ring_ref.hpp"
#include "kbus/shared_memory.hpp"

namespace kbus::bus {

struct MappedRing {
    SharedMapping mapping;
    ring::RingRef ring;
    bool adopted = false;  // left by an earlier daemon: it may hold records the log has not
    // Journal and data allocated (reserve()); a ring made by create is its header alone, and
    // producers get no room on it (a limit of 0) until then. An adopted ring with a limit is
    // reserved (and allocated again where pages went missing).
    bool reserved = false;
    // Non-zero: the layout version of a ring an older (or newer) kbus left here, replaced. It was
    // marked deleted first, so that a client of that kbus still mapping it is refused at its next
    // claim instead of writing into a ring nobody reads. What it held from the log's end up to
    // replaced_next_offset is gone (a kbusd stopped with SIGTERM first spills everything).
    std::uint32_t replaced_layout = 0;
    std::uint64_t replaced_next_offset = 0;
};

class RingStore {
  public:
    // dir: the bus's shared-memory directory; mode and group: what the access policy asks for.
    RingStore(std::string dir, unsigned mode, int group)
        : dir_(std::move(dir)), mode_(mode), group_(group) {}

    // The path prefix of a topic's rings (partition p's ring is prefix + "." + p).
    [[nodiscard]] std::string topic_prefix(std::uint64_t topic_id) const {
        return dir_ + "/t" + std::to_string(topic_id);
    }
    [[nodiscard]] std::string name(std::uint64_t topic_id, std::int32_t partition) const {
        return topic_prefix(topic_id) + "." + std::to_string(partition);
    }

    // Partition p's ring: the one in shared memory if it matches the topic (adopted), else a new
    // one whose offsets start at `first_offset`. Throws Error(resource_exhausted) when shared
    // memory is full.
    [[nodiscard]] MappedRing adopt_or_create(const protocol::TopicMetadata& topic, std::int32_t p,
                                             std::uint64_t first_offset) const;
    // Allocates the journal and data of a ring adopt_or_create made (idempotent). Throws
    // Error(resource_exhausted) when shared memory is full.
    void reserve(std::uint64_t topic_id, std::int32_t partition, std::uint64_t ring_bytes) const;
    void remove(std::uint64_t topic_id, std::int32_t partition) const;
    // What the file system the rings live on has free for them (all of it if statvfs fails).
    [[nodiscard]] std::uint64_t free_bytes() const;

  private:
    std::string dir_;
    unsigned mode_;
    int group_;
};

}  // namespace kbus::bus
