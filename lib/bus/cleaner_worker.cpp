#include "bus/cleaner_worker.hpp"

#include <pthread.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "kbus/detail/clock.hpp"

namespace kbus::bus {
namespace {

// Whether a section is due: dirty enough, or holding a dirty record past max.compaction.lag.ms.
bool due(const log::CleanableSection& s, const config::TopicConfig& c, std::int64_t now_ms) {
    if (s.first_dirty >= s.segments.size()) return false;
    if (s.dirty_ratio() >= c.min_cleanable_dirty_ratio) return true;
    const std::int64_t first = s.segments[s.first_dirty].first_timestamp;
    return c.max_compaction_lag_ms != config::never && first >= 0 &&
           now_ms - first > c.max_compaction_lag_ms;
}

std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
    return text;
}

}  // namespace

// The cleaner runs when the daemon's cores have nothing better to do: SCHED_IDLE, so that the
// spill (which producers wait on) and the control and Kafka threads always go first. On a
// two-core machine a cleaner at normal priority took half the spill's core, and producers on
// another topic ran at 45% of their rate (kbus_bench_cleaner's produce_beside_cleaner).
// SCHED_IDLE is a very low weight, not a ban: on cores kept busy by other threads the cleaner
// still gets a sliver, so the few renames it makes under a partition's spill lock (each swap)
// stretch to milliseconds at worst, and the lock is always let go. (An unprivileged thread
// cannot raise its priority back for them: RLIMIT_NICE.)
void CleanerWorker::yield_to_other_threads() const {
    sched_param none{};
    if (const int e = ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &none); e != 0)
        sink_("WARN", std::string("log cleaner: cannot lower its priority (SCHED_IDLE): ") +
                          std::strerror(e) + "; it competes with the spill for the CPU");
}

void CleanerWorker::run(const std::atomic<bool>& stop) {
    if (!config_.enable) return;
    yield_to_other_threads();
    // Relaxed: a flag looked at between passes and sleeps; the thread is joined after it is set.
    while (!stop.load(std::memory_order_relaxed)) {
        if (clean_one(detail::wall_clock_ms(), &stop)) continue;
        // Nothing due: sleep the backoff in slices, so that a stop is not kept waiting.
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.backoff_ms);
        while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::min<std::int64_t>(50, config_.backoff_ms)));
    }
}

bool CleanerWorker::clean_one(std::int64_t now_ms, const std::atomic<bool>* stop) {
    std::optional<Candidate> c = dirtiest_due(now_ms);
    return c && clean(*c, now_ms, stop);
}

std::optional<CleanerWorker::Candidate> CleanerWorker::dirtiest_due(std::int64_t now_ms) const {
    std::optional<Candidate> best;
    for (const std::shared_ptr<Partition>& p : bus_.partitions()) {
        config::TopicConfig config = p->log().config();
        if (!config.cleanup_compact ||
            uncleanable_.contains(p->topic() + "-" + std::to_string(p->index())))
            continue;
        std::optional<log::CleanableSection> section;
        {
            std::lock_guard lock(p->spill_mutex());  // retired() is the spill's
            if (p->retired()) continue;
            section = p->log().cleanable_section(now_ms);
        }
        if (!section || !due(*section, config, now_ms)) continue;
        const double ratio = section->dirty_ratio();
        if (!best || ratio > best->ratio)
            best = Candidate{p, std::move(*section), std::move(config), ratio};
    }
    return best;
}

// True if the pass moved the log on (a group swapped in, or the checkpoint forward); false when
// it could not, so that the worker backs off rather than retry at once.
bool CleanerWorker::clean(Candidate& c, std::int64_t now_ms, const std::atomic<bool>* stop) {
    Partition& p = *c.partition;
    const std::string name = p.topic() + "-" + std::to_string(p.index());
    log::LogCleaner cleaner(c.config, now_ms, throttle_, sink_,
                            std::size_t(config_.dedupe_buffer_bytes));
    const auto swap_in = [&p](log::CleanedGroup& group) {
        std::lock_guard lock(p.spill_mutex());  // keeps the spill's rolls and retention out
        return !p.retired() && p.log().swap_in_cleaned(group);
    };
    const std::uint64_t started = detail::monotonic_ns();
    try {
        const log::CleanerStats s = cleaner.clean(c.section, swap_in, stop);
        if (s.key_map_full) {  // as Kafka's cleaner: the log is left alone until a restart
            sink_("ERROR", "log cleaner: " + name +
                               " is not compacted: one of its segments holds more keys than "
                               "log.cleaner.dedupe.buffer.size can map (" +
                               std::to_string(config_.dedupe_buffer_bytes) +
                               " bytes); raise it and restart kbusd");
            uncleanable_.insert(name);
            return false;
        }
        const std::int64_t before = p.log().cleaned_to();
        p.log().set_cleaned_to(s.cleaned_to);
        // Relaxed: kbusd's stop flag, set before the threads are joined.
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
            sink_("INFO", "log cleaner: the pass over " + name + " stopped for kbusd's stop (" +
                              std::to_string(s.groups_swapped) + " group(s) swapped in)");
            return false;
        }
        const double seconds = double(detail::monotonic_ns() - started) / 1e9;
        sink_("INFO", "log cleaner: cleaned " + name + " (dirty ratio " +
                          std::to_string(c.ratio).substr(0, 4) + "): read " +
                          megabytes(s.bytes_read) + ", wrote " + megabytes(s.bytes_written) +
                          ", kept " + std::to_string(s.records_kept) + " record(s), removed " +
                          std::to_string(s.records_removed) + " (" +
                          std::to_string(s.tombstones_removed) + " tombstone(s), " +
                          std::to_string(s.keyless_removed) + " without a key, " +
                          std::to_string(s.aborted_removed) + " of aborted transactions; " +
                          std::to_string(s.markers_removed) + " marker(s) removed) in " +
                          std::to_string(seconds).substr(0, 5) + " s");
        return s.groups_swapped > 0 || p.log().cleaned_to() > before;
    } catch (const std::exception& e) {
        std::lock_guard lock(p.spill_mutex());
        if (!p.retired())  // a topic deleted under the pass takes its files with it
            failures_.write(name, "WARN",
                            "log cleaner: the pass over " + name + " stopped: " + e.what() +
                                " (its log is as it was before the group under way; retried "
                                "later)",
                            detail::monotonic_ns());
        return false;
    }
}

}  // namespace kbus::bus
