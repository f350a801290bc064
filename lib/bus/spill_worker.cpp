#include "bus/spill_worker.hpp"

#include <algorithm>
#include <chrono>

#include "kbus/detail/clock.hpp"
#include "kbus/detail/futex.hpp"

namespace kbus::bus {

void SpillWorker::run(const std::atomic<bool>& stop) {
    last_retention_ms_ = detail::wall_clock_ms();
    // Relaxed: a flag checked once per pass; the thread is joined after it is set.
    while (!stop.load(std::memory_order_relaxed)) {
        // Acquire, before the pass: a ring while the pass runs (a flush request it looked for
        // too early) changes seq, so the sleep after it returns at once instead of sleeping up
        // to 20 ms through it.
        const std::uint32_t seq = doorbell_.seq.load(std::memory_order_acquire);
        const std::uint64_t now_ns = detail::monotonic_ns();
        if (!pass(now_ns, detail::wall_clock_ms()))
            sleep_until_rung(next_due_ns_ > now_ns ? next_due_ns_ - now_ns : 0, seq);
    }
}

bool SpillWorker::pass(std::uint64_t now_ns, std::int64_t now_ms) {
    bool progress = false;
    next_due_ns_ = now_ns + longest_sleep_ns;
    const std::vector<std::shared_ptr<Partition>> parts = bus_.partitions();
    bool flushed = false;
    for (const auto& p : parts)
        progress |= step(*p, now_ns, now_ms, &next_due_ns_, &flushed);
    if (flushed && on_flushed_) on_flushed_();
    const std::int64_t retention_due_ms = last_retention_ms_ + retention_check_interval_ms_;
    next_due_ns_ = std::min(next_due_ns_, at_wall_ms(retention_due_ms, now_ns, now_ms));
    if (now_ms >= retention_due_ms) {
        last_retention_ms_ = now_ms;
        for (const auto& p : parts) {
            std::lock_guard lock(p->spill_mutex());
            if (!p->retired()) p->log().apply_retention(now_ms);
        }
    }
    return progress;
}

// A wall-clock deadline on the monotonic clock.
std::uint64_t SpillWorker::at_wall_ms(std::int64_t due_ms, std::uint64_t now_ns,
                                      std::int64_t now_ms) {
    if (due_ms <= now_ms) return now_ns;
    return now_ns + std::uint64_t(std::min<std::int64_t>(due_ms - now_ms, 1'000'000)) * 1'000'000;
}

bool SpillWorker::step(Partition& p, std::uint64_t now_ns, std::int64_t now_ms,
                       std::uint64_t* next_due_ns, bool* flushed) {
    // A ring no producer has used holds nothing, and producers get room on it only once it is
    // reserved (Partition::reserve_ring): nothing to look at, not even its header's lines.
    if (!p.ring_reserved()) return false;
    std::lock_guard lock(p.spill_mutex());
    if (p.retired()) return false;
    spill::PartitionSpill& s = p.spill();
    const bool asked = p.take_flush_request();
    bool progress = asked && s.write_now(now_ns, now_ms);
    if (asked && flushed != nullptr) *flushed = true;
    progress = s.step(now_ns, now_ms) || progress;
    if (!progress) p.log().maybe_flush(now_ms);  // flush.ms also applies to an idle partition
    progress = p.gate().update(s.cursor().position, now_ns) || progress;
    if (!progress && next_due_ns != nullptr) {
        std::uint64_t due = s.next_due_ns(now_ns);
        if (const auto flush_ms = p.log().flush_due_ms())
            due = std::min(due, at_wall_ms(*flush_ms, now_ns, now_ms));
        *next_due_ns = std::min(*next_due_ns, due);
    }
    return progress;
}

// Nothing due: sleep rather than poll, until the earliest deadline a partition named (a linger,
// producers about to use up their room, a flush.ms sync, a retention check) or the doorbell.
// Every pass reads each ring's claim line, and polling it would pull that line away from the
// producers on every claim; every wake-up preempts whatever runs on the core, often a client
// that busy-polls. A blocked producer, a flush request or a fetch rings the doorbell at once.
void SpillWorker::sleep_until_rung(std::uint64_t for_ns, std::uint32_t seq) {
    const std::uint64_t nap = std::clamp(for_ns, shortest_sleep_ns, longest_sleep_ns);
    // Seq_cst: the announcement is ordered before the futex's re-check of seq, pairing with the
    // ringer's seq_cst bump and load of `sleeping` (Doorbell::ring).
    doorbell_.sleeping.store(1, std::memory_order_seq_cst);
    detail::futex_wait(&doorbell_.seq, seq, std::chrono::nanoseconds(nap));
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
