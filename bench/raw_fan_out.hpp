// The fan-out's raw peer: the least a one-writer, many-reader stream needs, to measure what the
// machine allows when more processes than cores share one stream. A byte ring in shared memory,
// one writer, up to max_readers readers that each read every record. The writer waits for the
// slowest reader only (it must not overwrite what a reader has not read), re-reading the
// readers' heads only when its cached minimum says the ring is full, and yielding its core after
// 64 such looks (kbus's producer sleeps there after as many); each reader caches the tail
// and publishes its head once per quarter lap. Records are a length word and the payload,
// 8-aligned, committed one by one with a release store of the tail (as the raw SPSC ring of
// kbus_compare). No offsets, keys or timestamps: not a messaging system, a floor.
#pragma once

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace kbus::bench {

/// How a raw reader waits for at least `min_bytes` (1: any record; 16384: kbus's fetch.min.bytes
/// of the fan-out bench): spinning on the tail, yielding its core, or napping `nap` at a time
/// (a timer's sleep, as kbus's blocking consumer paces a fetch.min.bytes wait).
struct RawWait {
    bool yield = false;
    std::uint64_t min_bytes = 1;
    std::chrono::nanoseconds nap{0};
};

class RawFanOutRing {
  public:
    static constexpr int max_readers = 8;

    /// Mapped shared and anonymous: make it before fork(), so that every process has it.
    RawFanOutRing(std::size_t capacity, int readers) : capacity_(capacity), readers_(readers) {
        if (readers < 1 || readers > max_readers || (capacity & (capacity - 1)) != 0)
            throw std::invalid_argument("RawFanOutRing: 1..8 readers, a power-of-two capacity");
        bytes_ = sizeof(Indices) + capacity_;
        void* m =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
        indices_ = new (m) Indices{};
    }
    ~RawFanOutRing() { ::munmap(indices_, bytes_); }
    RawFanOutRing(const RawFanOutRing&) = delete;
    RawFanOutRing& operator=(const RawFanOutRing&) = delete;

    /// The writer: `records` records of `payload` bytes.
    void produce(std::int64_t records, std::size_t payload) {
        const std::uint64_t frame = frame_bytes(payload), mask = capacity_ - 1;
        const std::vector<std::byte> source(payload, std::byte{'r'});
        std::uint64_t tail = 0, cached_min_head = 0;
        for (std::int64_t i = 0; i < records; ++i) {
            const std::uint64_t room = capacity_ - (tail & mask);
            const std::uint64_t need = (room < frame ? room : 0) + frame;
            for (int looks = 0; tail + need - cached_min_head > capacity_; ++looks) {
                if (looks >= 64) ::sched_yield();
                cached_min_head = slowest_head();
            }
            if (room < frame) {  // pad to the lap's end: a zero length word says so
                if (room >= 8) std::memset(data() + (tail & mask), 0, 8);
                tail += room;
            }
            std::byte* at = data() + (tail & mask);
            const std::uint64_t length = payload;
            std::memcpy(at, &length, 8);
            std::memcpy(at + 8, source.data(), payload);
            tail += frame;
            // Release: the commit; the record's bytes are visible to whoever sees the new tail.
            indices_->tail.value.store(tail, std::memory_order_release);
        }
    }

    /// Reader `reader` (0-based): reads `records` records, a byte of every value; returns their
    /// sum (for the caller to keep, so that the reads stay).
    std::uint64_t consume(int reader, std::int64_t records, std::size_t payload, RawWait wait) {
        // It publishes its head every quarter lap: a wait for more than half a lap could starve.
        assert(wait.min_bytes <= capacity_ / 2);
        const std::uint64_t frame = frame_bytes(payload), mask = capacity_ - 1;
        const timespec nap{0, long(wait.nap.count())};
        std::atomic<std::uint64_t>& my_head = indices_->heads[reader].value;
        std::uint64_t head = 0, cached_tail = 0, published = 0, sum = 0;
        for (std::int64_t seen = 0; seen < records;) {
            const std::uint64_t want =
                std::min<std::uint64_t>(wait.min_bytes, std::uint64_t(records - seen) * frame);
            // Acquire: pairs with the writer's commit.
            while (cached_tail - head < want) {
                cached_tail = indices_->tail.value.load(std::memory_order_acquire);
                if (cached_tail - head >= want) break;
                if (wait.nap.count() > 0)
                    ::nanosleep(&nap, nullptr);
                else if (wait.yield)
                    ::sched_yield();
            }
            while (head != cached_tail && seen < records) {
                const std::uint64_t room = capacity_ - (head & mask);
                std::uint64_t length = 0;
                if (room >= 8) std::memcpy(&length, data() + (head & mask), 8);
                if (room < frame && length == 0) {  // the lap's padding
                    head += room;
                    continue;
                }
                sum += std::to_integer<unsigned>(data()[(head & mask) + 8]);
                head += frame;
                ++seen;
                if (head - published >= capacity_ / 4) {
                    // Release: our reads of the records before head are done.
                    my_head.store(head, std::memory_order_release);
                    published = head;
                }
            }
        }
        my_head.store(head, std::memory_order_release);  // as above
        return sum;
    }

  private:
    struct alignas(64) Index {
        std::atomic<std::uint64_t> value{0};
    };
    struct Indices {
        Index tail;                // written by the writer: bytes published
        Index heads[max_readers];  // each written by its reader: bytes read
    };
    static_assert(sizeof(Indices) == 64 * (1 + max_readers));

    static std::uint64_t frame_bytes(std::size_t payload) { return (8 + payload + 7) & ~7ull; }
    [[nodiscard]] std::byte* data() const { return reinterpret_cast<std::byte*>(indices_ + 1); }

    [[nodiscard]] std::uint64_t slowest_head() const {
        std::uint64_t least = UINT64_MAX;
        for (int r = 0; r < readers_; ++r)
            // Acquire: the reader is done with the bytes before its head.
            least = std::min(least, indices_->heads[r].value.load(std::memory_order_acquire));
        return least;
    }

    std::size_t capacity_;
    int readers_;
    std::size_t bytes_ = 0;
    Indices* indices_ = nullptr;
};

}  // namespace kbus::bench
