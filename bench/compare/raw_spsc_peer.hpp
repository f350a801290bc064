// The throughput limit: a minimal single-producer single-consumer byte ring in shared memory,
// with nothing on the path that a stream strictly needs to leave out. Each side keeps its own
// index on its own cache line and a cached copy of the other's (rigtorp's SPSCQueue habit), so
// it touches the other's line only when its cached copy says the ring is full or empty. Records
// are a length word and the payload, 8-aligned, published one by one with a release store of
// the tail. Not a messaging system (no offsets, no keys, one producer): measured for streams.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "peer.hpp"

namespace kbus::compare {

class RawSpscPeer final : public Peer {
  public:
    RawSpscPeer() = default;
    ~RawSpscPeer() override { unmap(); }
    [[nodiscard]] std::string name() const override { return "raw spsc ring"; }
    [[nodiscard]] bool measures_latency() const override { return false; }

    // A fresh ring per run, mapped before the fork so that both processes share it; sized as
    // kbus's topics are (4 MiB, or 16 records' worth), so that both stream through the same
    // amount of memory.
    void prepare(const RunSpec& spec) override {
        unmap();
        capacity_ = std::size_t(4) << 20;
        while (capacity_ < 16 * (spec.payload + 8))
            capacity_ *= 2;
        bytes_ = sizeof(Indices) + capacity_;
        void* m =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
        indices_ = new (m) Indices{};
    }

    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        std::byte* data = reinterpret_cast<std::byte*>(indices_ + 1);
        return std::make_unique<Side>(*indices_, data, capacity_, spec.payload);
    }

  private:
    struct alignas(64) Index {
        std::atomic<std::uint64_t> value{0};
    };
    struct Indices {
        Index head;  // written by the receiver: bytes consumed
        Index tail;  // written by the sender: bytes published
    };
    static_assert(sizeof(Indices) == 128);

    class Side final : public Endpoint {
      public:
        Side(Indices& ix, std::byte* data, std::size_t capacity, std::size_t payload)
            : ix_(ix),
              data_(data),
              mask_(capacity - 1),
              capacity_(capacity),
              payload_(payload),
              frame_((8 + payload + 7) & ~std::size_t(7)),
              source_(payload, std::byte{'r'}) {}

        void send() override {
            // A record never straddles the end: pad to the lap's end (a zero length word says so).
            std::uint64_t at = tail_;
            const std::uint64_t room = capacity_ - (at & mask_);
            const std::uint64_t need = (room < frame_ ? room : 0) + frame_;
            while (at + need - cached_head_ > capacity_)
                // Acquire: the receiver is done with the bytes before its head.
                cached_head_ = ix_.head.value.load(std::memory_order_acquire);
            if (room < frame_) {
                if (room >= 8) std::memset(data_ + (at & mask_), 0, 8);
                at += room;
            }
            std::byte* frame = data_ + (at & mask_);
            const std::uint64_t length = payload_;
            std::memcpy(frame, &length, 8);
            std::memcpy(frame + 8, source_.data(), payload_);
            tail_ = at + frame_;
            // Release: the commit; the record's bytes are visible to whoever sees the new tail.
            ix_.tail.value.store(tail_, std::memory_order_release);
        }

        void receive() override {
            for (;;) {
                while (head_ == cached_tail_)
                    // Acquire: pairs with the sender's commit.
                    cached_tail_ = ix_.tail.value.load(std::memory_order_acquire);
                const std::uint64_t room = capacity_ - (head_ & mask_);
                std::uint64_t length = 0;
                if (room >= 8) std::memcpy(&length, data_ + (head_ & mask_), 8);
                if (room < frame_ && length == 0) {  // the lap's padding
                    head_ += room;
                    continue;
                }
                const std::byte* value = data_ + (head_ & mask_) + 8;
                sink_ = sink_ ^ (length ? std::to_integer<unsigned>(value[0]) : 0u);
                head_ += frame_;
                // Release, and only once per lap quarter: the sender needs it only to reuse space.
                if (head_ - published_head_ >= capacity_ / 4) publish_head();
                return;
            }
        }

        ~Side() override { publish_head(); }

      private:
        void publish_head() {
            // Release: our reads of the records before head_ are done.
            ix_.head.value.store(head_, std::memory_order_release);
            published_head_ = head_;
        }

        Indices& ix_;
        std::byte* data_;
        std::uint64_t mask_, capacity_;
        std::size_t payload_, frame_;
        std::vector<std::byte> source_;
        std::uint64_t tail_ = 0, cached_head_ = 0;
        std::uint64_t head_ = 0, cached_tail_ = 0, published_head_ = 0;
        volatile unsigned sink_ = 0;
    };

    void unmap() {
        if (indices_ != nullptr) ::munmap(indices_, bytes_);
        indices_ = nullptr;
    }

    Indices* indices_ = nullptr;
    std::size_t capacity_ = 0, bytes_ = 0;
};

}  // namespace kbus::compare
