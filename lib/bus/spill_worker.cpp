#include "bus/spill_worker.hpp"

#include <chrono>

#include "kbus/detail/clock.hpp"
#include "kbus/detail/futex.hpp"

namespace kbus::bus {

void SpillWorker::run(const std::atomic<bool>& stop) {
    last_retention_ms_ = detail::wall_clock_ms();
    // Relaxed: a flag checked once per pass; the thread is joined after it is set.
    while (!stop.load(std::memory_order_relaxed))
        if (!pass(detail::monotonic_ns(), detail::wall_clock_ms())) sleep_until_rung();
}

bool SpillWorker::pass(std::uint64_t now_ns, std::int64_t now_ms) {
    bool progress = false;
    const std::vector<std::shared_ptr<Partition>> parts = bus_.partitions();
    for (const auto& p : parts)
        progress |= step(*p, now_ns, now_ms);
    if (now_ms - last_retention_ms_ >= retention_check_interval_ms_) {
        last_retention_ms_ = now_ms;
        for (const auto& p : parts) {
            std::lock_guard lock(p->spill_mutex());
            if (!p->retired()) p->log().apply_retention(now_ms);
        }
    }
    return progress;
}

bool SpillWorker::step(Partition& p, std::uint64_t now_ns, std::int64_t now_ms) {
    std::lock_guard lock(p.spill_mutex());
    if (p.retired()) return false;
    spill::PartitionSpill& s = p.spill();
    bool progress = p.take_flush_request() && s.write_now(now_ns, now_ms);
    progress = s.step(now_ns, now_ms) || progress;
    if (!progress) p.log().maybe_flush(now_ms);  // flush.ms also applies to an idle partition
    return p.gate().update(s.cursor().position, now_ns) || progress;
}

// Nothing due: sleep rather than poll. Every pass reads each ring's claim line, and polling it
// would pull that line away from the producers on every claim (and steal their core on a small
// machine). Producers are granted half a ring ahead, so 1 ms naps are inside their headroom; a
// blocked producer rings the doorbell at once, and a batch lingers 2 ms anyway.
void SpillWorker::sleep_until_rung() {
    constexpr auto idle_nap = std::chrono::milliseconds(1);
    // Relaxed: the futex compares the value itself; a ring after this load wakes us at once.
    const std::uint32_t seq = doorbell_.seq.load(std::memory_order_relaxed);
    // Seq_cst: the announcement is ordered before the futex's re-check of seq, pairing with the
    // ringer's seq_cst bump and load of `sleeping` (Doorbell::ring).
    doorbell_.sleeping.store(1, std::memory_order_seq_cst);
    detail::futex_wait(&doorbell_.seq, seq, idle_nap);
    doorbell_.sleeping.store(0, std::memory_order_relaxed);  // a hint: a late ringer only wakes us
}

bool SpillWorker::drain_abandoned(Partition& p, const logging::LogSink& sink) {
    {
        std::lock_guard lock(p.spill_mutex());
        if (!p.spill().abort_uncommitted_claims(detail::monotonic_ns())) return p.spill().emptied();
    }
    return drain(p, sink) && p.spill().emptied();
}

bool SpillWorker::drain(Partition& p, const logging::LogSink& sink) {
    std::lock_guard lock(p.spill_mutex());
    bool drained = p.spill().drain(detail::monotonic_ns(), detail::wall_clock_ms());
    try {
        p.log().maybe_flush(detail::wall_clock_ms(), true);
    } catch (const std::exception& e) {
        sink("ERROR", e.what());
        drained = false;
    }
    if (!drained)
        sink("ERROR", "shutdown: the records of " + p.log().dir() +
                          " could not all be written; its ring is kept in shared memory for the "
                          "next start to spill");
    return drained;
}

}  // namespace kbus::bus
