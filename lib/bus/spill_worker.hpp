// The spill thread's loop over the whole bus: each pass takes committed records off every ring
// into its log (PartitionSpill), moves each partition's producer limit (ProducerGate), and now and
// then applies retention. Between passes with nothing to do it sleeps on the control segment's
// doorbell, which producers ring when they wait for room.
//
// Lock boundary: the bus's registry lock is taken only to list the partitions; each partition's
// disk I/O runs under that partition's spill mutex alone, so a slow disk never delays a control
// request or a Kafka call that does not read that partition's log.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "bus/bus.hpp"
#include "kbus/control_descriptor.hpp"
#include "logging/log_sink.hpp"

namespace kbus::bus {

class SpillWorker {
  public:
    SpillWorker(Bus& bus, control::Doorbell& doorbell, std::int64_t retention_check_interval_ms,
                logging::LogSink sink)
        : bus_(bus),
          doorbell_(doorbell),
          retention_check_interval_ms_(retention_check_interval_ms),
          sink_(std::move(sink)) {}

    // Called (on the spill thread) after a pass that wrote records a flush request asked for:
    // the Kafka listener answers the fetches that wait for them now, not at its next look.
    void on_flushed(std::function<void()> f) { on_flushed_ = std::move(f); }

    // Passes until `stop` is set.
    void run(const std::atomic<bool>& stop);
    // One pass over every partition; true if anything moved.
    bool pass(std::uint64_t now_ns, std::int64_t now_ms);
    // After a pass without progress: when the next one is due if no doorbell rings (monotonic
    // ns, at most longest_sleep_ns after the pass).
    [[nodiscard]] std::uint64_t next_due_ns() const noexcept { return next_due_ns_; }
    // A partition's one step: flush requests, the spill, idle syncs, the gate. Without progress,
    // lowers *next_due_ns (if given) to the partition's own next deadline.
    // *flushed (if given) is set when a flush request was served.
    static bool step(Partition& p, std::uint64_t now_ns, std::int64_t now_ms,
                     std::uint64_t* next_due_ns = nullptr, bool* flushed = nullptr);

    // The spill thread's sleeps between passes without progress. At least a millisecond (as
    // often as it ever looked); at most 20 ms, which bounds what only a look can see: records
    // committed after a quiet spell by producers that have not had to wait (they reach the log
    // within this plus the linger), and a claim left uncommitted by a producer that died before
    // the spill saw it (repaired within this plus kbus.claim.timeout.ms).
    static constexpr std::uint64_t shortest_sleep_ns = 1'000'000;
    static constexpr std::uint64_t longest_sleep_ns = 20'000'000;
    // Everything committed to the partition's ring goes to disk and is synced: the clean
    // shutdown's last pass. False when its disk failed (the records stay on the ring).
    [[nodiscard]] static bool drain(Partition& p, const logging::LogSink& sink);
    // At a clean stop when no process maps the ring any more: its uncommitted claims are dead
    // producers', aborted now, and the rest drained. True when the ring holds nothing the log
    // lacks (it may go).
    [[nodiscard]] static bool drain_abandoned(Partition& p, const logging::LogSink& sink);

  private:
    // Sleeps unless the doorbell rang since its seq was `seq` (the futex compares).
    void sleep_until_rung(std::uint64_t for_ns, std::uint32_t seq);
    [[nodiscard]] static std::uint64_t at_wall_ms(std::int64_t due_ms, std::uint64_t now_ns,
                                                  std::int64_t now_ms);

    Bus& bus_;
    control::Doorbell& doorbell_;
    std::int64_t retention_check_interval_ms_;
    logging::LogSink sink_;
    std::int64_t last_retention_ms_ = 0;
    std::uint64_t next_due_ns_ = 0;
    std::function<void()> on_flushed_;
};

}  // namespace kbus::bus
