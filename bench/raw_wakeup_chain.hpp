// The Kafka path's raw peer: a record handed from thread to thread through `hops` mailboxes, each
// hand-off a release store and, when the next thread sleeps, one futex wake. A record through
// kbusd's Kafka listener takes about four such wake-ups (the client's thread to its broker
// thread, to kbusd's listener, to the consumer's broker thread, to its poll); so this chain, with
// nothing else on its path (no socket, no protocol, no ring), is the least the machine's
// scheduler lets four wake-ups take, measured in the same run as the Kafka path.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>
#include <vector>

namespace kbus::bench {

/// One thread's inbox: a single-producer single-consumer ring of fixed-size records, with a
/// sleeper's flag beside the futex word.
class RawMailbox {
  public:
    static constexpr std::size_t record_bytes = 100, slots = 1024;

    /// Never blocks: the chain is paced far below what a slot ring of 1024 could fill.
    void put(const char* record) noexcept {
        const std::uint32_t n = published_.load(std::memory_order_relaxed);
        std::memcpy(slot(n), record, record_bytes);
        // Release: the commit; the record's bytes are visible to whoever sees the new count.
        published_.store(n + 1, std::memory_order_release);
        // Seq_cst: the commit before the look at `sleeping_` (store-load), paired with take's.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_relaxed) != 0) futex(FUTEX_WAKE_PRIVATE, INT32_MAX);
    }

    /// Waits (spinning `spin` first, then asleep) for the next record, at most `timeout`; copies
    /// it into `out`. False on time-out.
    bool take(char* out, std::chrono::nanoseconds spin, std::chrono::nanoseconds timeout) {
        const auto spin_until = std::chrono::steady_clock::now() + spin;
        // Acquire, every load of the count: pairs with put's commit.
        std::uint32_t p = published_.load(std::memory_order_acquire);
        while (p == taken_ && std::chrono::steady_clock::now() < spin_until)
            p = published_.load(std::memory_order_acquire);
        while (p == taken_) {
            sleeping_.store(1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);  // flag before the re-check
            p = published_.load(std::memory_order_acquire);
            if (p == taken_ && !sleep(p, timeout)) {
                sleeping_.store(0, std::memory_order_relaxed);
                return false;
            }
            sleeping_.store(0, std::memory_order_relaxed);
            p = published_.load(std::memory_order_acquire);
        }
        std::memcpy(out, slot(taken_), record_bytes);
        ++taken_;
        return true;
    }

  private:
    char* slot(std::uint32_t n) noexcept { return ring_[n % slots]; }
    bool sleep(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
        const timespec ts{time_t(timeout.count() / 1'000'000'000),
                          long(timeout.count() % 1'000'000'000)};
        return futex(FUTEX_WAIT_PRIVATE, seen, &ts) == 0 || errno != ETIMEDOUT;
    }
    long futex(int op, std::uint32_t value, const timespec* ts = nullptr) noexcept {
        return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&published_), op, value, ts,
                         nullptr, 0);
    }

    alignas(64) std::atomic<std::uint32_t> published_{0};
    std::atomic<std::uint32_t> sleeping_{0};
    alignas(64) std::uint32_t taken_ = 0;  // the taker's own
    char ring_[slots][record_bytes] = {};
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// `hops` mailboxes and hops - 1 forwarding threads between them: put() goes into the first,
/// take() comes out of the last. Every taker spins `spin` before sleeping (0: a wake-up a hop).
class RawWakeupChain {
  public:
    RawWakeupChain(int hops, std::chrono::nanoseconds spin) : spin_(spin) {
        for (int i = 0; i < hops; ++i)
            boxes_.push_back(std::make_unique<RawMailbox>());
        for (int i = 0; i + 1 < hops; ++i)
            forwarders_.emplace_back([this, i] {
                char record[RawMailbox::record_bytes];
                while (!stop_.load(std::memory_order_relaxed))
                    if (boxes_[i]->take(record, spin_, std::chrono::milliseconds(50)))
                        boxes_[i + 1]->put(record);
            });
    }
    ~RawWakeupChain() {
        stop_.store(true, std::memory_order_relaxed);
        for (std::thread& t : forwarders_)
            t.join();
    }
    RawWakeupChain(const RawWakeupChain&) = delete;
    RawWakeupChain& operator=(const RawWakeupChain&) = delete;

    void put(const char* record) noexcept { boxes_.front()->put(record); }
    bool take(char* out, std::chrono::nanoseconds timeout) {
        return boxes_.back()->take(out, spin_, timeout);
    }

  private:
    std::chrono::nanoseconds spin_;
    std::vector<std::unique_ptr<RawMailbox>> boxes_;
    std::vector<std::thread> forwarders_;
    std::atomic<bool> stop_{false};
};

}  // namespace kbus::bench
