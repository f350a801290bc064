// The fault harness's workers, each the body of a forked child process the nemesis may kill,
// stop or outlive: shared-memory producers (send and claim/commit), a plain consumer, group
// members and a producer that dies inside its claim. Each rides through daemon restarts and
// errors on its own and records what it did in its history file (harness/history_file.hpp).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "harness/history_file.hpp"
#include "harness/read_log.hpp"
#include "harness/record_content.hpp"
#include "kbus/kbus.hpp"

namespace kbus::harness {

using namespace std::chrono_literals;

struct WorkerEnv {
    kbus::ClientOptions client;
    std::string topic;
    std::string history_path;
    std::string writer;  // unique per child: "s3" (producer), "c2" (consumer), "g1" (member)
    std::uint64_t seed = 0;
    double rate = 200;  // records a second, for producers
    const std::atomic<int>* stop = nullptr;
    std::string group = "hz-group";
};

// Keeps a loop at `rate` iterations a second (and does not try to catch up after a stall).
class Pacer {
  public:
    explicit Pacer(double rate)
        : step_(std::chrono::nanoseconds(std::int64_t(1e9 / rate))),
          next_(std::chrono::steady_clock::now()) {}
    void wait() {
        next_ += step_;
        const auto now = std::chrono::steady_clock::now();
        if (next_ < now - 1s) next_ = now;
        std::this_thread::sleep_until(next_);
    }

  private:
    std::chrono::nanoseconds step_;
    std::chrono::steady_clock::time_point next_;
};

// A client, retried while the daemon is away (restarting); null once told to stop.
inline std::unique_ptr<kbus::Client> connect(const WorkerEnv& env, const HistoryFile& history) {
    while (env.stop->load() == 0) {
        try {
            return std::make_unique<kbus::Client>(env.client);
        } catch (const kbus::Error& e) {
            history.error(std::string("connect: ") + e.what());
            std::this_thread::sleep_for(100ms);
        }
    }
    return nullptr;
}

// One record sent as a copy (send) or written in place (claim, then commit).
inline kbus::RecordMetadata send_one(kbus::Producer& p, const WorkerEnv& env,
                                     const std::string& key, const std::string& value,
                                     bool in_place) {
    if (!in_place) return p.send(env.topic, key, value);
    kbus::ProducerClaim claim = p.claim(env.topic, key, std::int32_t(value.size()));
    std::memcpy(claim.value().data(), value.data(), value.size());
    return p.commit(claim);
}

inline int shm_producer(const WorkerEnv& env) {
    const HistoryFile history(env.history_path);
    std::unique_ptr<kbus::Client> client = connect(env, history);
    if (!client) return 0;
    kbus::Producer producer(*client, {.max_block = 20s});
    std::mt19937_64 rng(env.seed);
    Pacer pace(env.rate);
    for (std::uint64_t seq = 0; env.stop->load() == 0; ++seq) {
        const std::string key = record_key(env.writer, seq);
        const std::string value = record_value(key, seq, 16 + rng() % 300);
        try {
            const kbus::RecordMetadata md = send_one(producer, env, key, value, rng() % 3 == 0);
            history.write("A " + std::to_string(md.partition) + " " + std::to_string(md.offset) +
                          " " + key + " " + std::to_string(content_hash(key, value)) + "\n");
        } catch (const kbus::Error& e) {  // held back past max_block, a claim aborted, ...
            history.error(key + ": " + e.what());
            std::this_thread::sleep_for(20ms);
        }
        pace.wait();
    }
    return 0;
}

// Claims a record, writes half of it, notes the claim and tells the harness (one byte on
// `ready`), then waits to be SIGKILLed: a producer dead inside its claim.
inline int claim_victim(const WorkerEnv& env, int ready) {
    const HistoryFile history(env.history_path);
    std::unique_ptr<kbus::Client> client = connect(env, history);
    if (!client) return 0;
    kbus::Producer producer(*client, {.max_block = 5s});
    std::mt19937_64 rng(env.seed);
    const std::string key = record_key(env.writer, 0);
    const std::string value = record_value(key, 0, 64 + rng() % 200);
    kbus::SendOptions where;
    where.partition = std::int32_t(rng() % 3);
    kbus::ProducerClaim claim = producer.claim(env.topic, key, std::int32_t(value.size()), where);
    std::memcpy(claim.value().data(), value.data(), value.size() / 2);
    history.write("D " + std::to_string(claim.partition()) + " " + std::to_string(claim.offset()) +
                  " " + key + "\n");
    const char b = 1;
    (void)!::write(ready, &b, 1);
    for (;;)
        ::pause();
}

// One poll of a reading worker, its outcome noted in `reads`; false on an error it rode through.
inline bool poll_once(kbus::Consumer& con, ReadLog& reads, const HistoryFile& history) {
    try {
        reads.polled(con.poll(50ms));
        return true;
    } catch (const kbus::OffsetOutOfRange& e) {
        reads.poll_failed(e);
        if (e.code() != kbus::ErrorCode::corrupt_record)  // (a corrupt batch is stepped past)
            con.seek(e.topic(), e.partition(), kbus::OffsetSpec::at(e.resume_offset()));
        if (e.code() != kbus::ErrorCode::batch_invalidated) history.error(e.what());
        return true;
    } catch (const kbus::Error& e) {
        reads.poll_failed();
        history.error(std::string("poll: ") + e.what());
        std::this_thread::sleep_for(20ms);
        return false;
    }
}

// A consumer of every partition, from the beginning or the end (chosen by its seed).
inline int plain_consumer(const WorkerEnv& env) {
    const HistoryFile history(env.history_path);
    std::unique_ptr<kbus::Client> client = connect(env, history);
    if (!client) return 0;
    kbus::Consumer con(*client, {.wait = kbus::WaitMode::blocking, .max_poll_records = 200});
    con.subscribe(env.topic,
                  env.seed % 2 ? kbus::OffsetSpec::beginning() : kbus::OffsetSpec::end());
    ReadLog reads(history);
    while (env.stop->load() == 0)
        (void)poll_once(con, reads, history);
    return 0;
}

// Commits what the member has confirmed of each partition it owns now; notes it once acknowledged.
inline void commit_confirmed(kbus::Consumer& con, const ReadLog& reads,
                             const HistoryFile& history) {
    kbus::group::OffsetList offsets;
    for (const auto& tp : con.assignment())
        if (const auto next = reads.next(tp.partition)) offsets.push_back({tp, *next});
    if (offsets.empty()) return;
    try {
        con.commit_sync(offsets);
    } catch (const kbus::Error& e) {  // fenced by a rebalance, daemon away, disk full
        history.error(std::string("commit: ") + e.what());
        return;
    }
    std::string lines;
    for (const auto& [tp, offset] : offsets)
        lines += "G " + std::to_string(tp.partition) + " " + std::to_string(offset) + "\n";
    history.write(lines);
}

// What a member confirmed of a partition counts only while it owns the partition: every
// rebalance that moves one (revoked, lost, assigned) forgets it, so that a member never commits
// a position from an earlier ownership over a newer owner's commit.
class ForgetOnRebalance final : public kbus::RebalanceListener {
  public:
    explicit ForgetOnRebalance(ReadLog& reads) : reads_(&reads) {}
    void on_partitions_assigned(kbus::Consumer&,
                                const std::vector<kbus::group::TopicPartition>& parts) override {
        forget(parts);
    }
    void on_partitions_revoked(kbus::Consumer&,
                               const std::vector<kbus::group::TopicPartition>& parts) override {
        forget(parts);
    }

  private:
    void forget(const std::vector<kbus::group::TopicPartition>& parts) {
        for (const auto& tp : parts)
            reads_->forget(tp.partition);
    }
    ReadLog* reads_;
};

// A group member: reads its share, commits what it confirmed every ~200 ms (never more than it
// confirmed, and only of its current ownership, so its commits only go forward).
inline int group_member(const WorkerEnv& env) {
    const HistoryFile history(env.history_path);
    std::unique_ptr<kbus::Client> client = connect(env, history);
    if (!client) return 0;
    ReadLog reads(history);
    ForgetOnRebalance listener(reads);
    kbus::ConsumerOptions options{.wait = kbus::WaitMode::blocking, .max_poll_records = 200};
    options.group_id = env.group;
    options.session_timeout = 1500ms;
    options.enable_auto_commit = false;
    options.rebalance_listener = &listener;
    kbus::Consumer con(*client, options);
    con.subscribe(std::vector<std::string>{env.topic});
    auto last_commit = std::chrono::steady_clock::now();
    while (env.stop->load() == 0) {
        (void)poll_once(con, reads, history);
        if (std::chrono::steady_clock::now() - last_commit > 200ms) {
            commit_confirmed(con, reads, history);
            last_commit = std::chrono::steady_clock::now();
        }
    }
    return 0;
}

}  // namespace kbus::harness
