// The fault harness's state workers (issue 20), beside the plain ones of harness/workers.hpp:
// a transactional producer and a writer to a compacted topic. Like every worker they ride
// through kbusd's restarts and note in their history only what is certain:
//
//   C <key> <records>                 a transaction whose commit returned (its records all carry
//                                     <key>, one value "i/records" each)
//   R <key>                           a transaction whose abort returned, or whose commit kbusd
//                                     refused (it had aborted it first)
//   K <key> <offset> <hash>|null      a compacted-topic write acknowledged (null: a tombstone)
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "harness/workers.hpp"

namespace kbus::harness {

// The topics and settings the state workers write to, created by the harness before the run.
inline const std::string transactional_topic = "htx";
inline const std::string compacted_topic = "hkv";
inline constexpr int transactional_partitions = 3;
inline constexpr int compacted_keys = 48;
// Every transactional worker, and its replacement, is this one producer: a new instance fences
// the one the nemesis killed (and aborts what it left open). A SIGSTOP longer than the timeout
// has kbusd abort the transaction under the stopped producer instead.
inline const std::string transactional_id = "hz-transactional";
inline constexpr auto harness_transaction_timeout = std::chrono::milliseconds(1000);

// One transaction: 1 to 3 records to each partition, all keyed `key`, then a commit (an abort
// for one in six). Its outcome goes to the history only once the call returned.
inline void one_transaction(kbus::Producer& p, const std::string& key, std::mt19937_64& rng,
                            const HistoryFile& history) {
    p.begin_transaction();
    int counts[transactional_partitions];
    int records = 0;
    for (int& n : counts)
        records += (n = 1 + int(rng() % 3));
    for (int partition = 0, i = 0; partition < transactional_partitions; ++partition)
        for (int n = 0; n < counts[partition]; ++n, ++i) {
            kbus::SendOptions where;
            where.partition = partition;
            const std::string value = std::to_string(i) + "/" + std::to_string(records);
            (void)p.send(transactional_topic, key, value, where);
        }
    if (rng() % 6 == 0) {
        p.abort_transaction();
        history.write("R " + key + "\n");
        return;
    }
    try {
        p.commit_transaction();
    } catch (const kbus::Error& e) {
        // Refused because kbusd aborted it first (its timeout, a newer instance): never there.
        if (e.code() == kbus::ErrorCode::producer_fenced ||
            e.code() == kbus::ErrorCode::invalid_txn_state)
            history.write("R " + key + "\n");
        throw;
    }
    history.write("C " + key + " " + std::to_string(records) + "\n");
}

inline int transactional_producer(const WorkerEnv& env) {
    const HistoryFile history(env.history_path);
    std::mt19937_64 rng(env.seed);
    Pacer pace(env.rate);
    for (std::uint64_t seq = 0; env.stop->load() == 0; ++seq) {
        std::unique_ptr<kbus::Client> client = connect(env, history);
        if (!client) return 0;
        try {
            kbus::Producer producer(*client, {.max_block = 5s,
                                              .transactional_id = transactional_id,
                                              .transaction_timeout = harness_transaction_timeout});
            for (; env.stop->load() == 0; ++seq) {
                one_transaction(producer, record_key(env.writer, seq), rng, history);
                pace.wait();
            }
        } catch (const kbus::Error& e) {  // fenced, kbusd away, its timeout: a new instance
            history.error(record_key(env.writer, seq) + ": " + e.what());
            std::this_thread::sleep_for(20ms);
        }
    }
    return 0;
}

// Writes the few keys of the compacted topic over and over, a tombstone now and then, so the
// cleaner always has work while the nemesis strikes.
inline int compacting_writer(const WorkerEnv& env) {
    const HistoryFile history(env.history_path);
    std::unique_ptr<kbus::Client> client = connect(env, history);
    if (!client) return 0;
    kbus::Producer producer(*client, {.max_block = 20s});
    std::mt19937_64 rng(env.seed);
    Pacer pace(env.rate);
    for (std::uint64_t seq = 0; env.stop->load() == 0; ++seq) {
        const std::string key = "kv-" + std::to_string(rng() % compacted_keys);
        const bool tombstone = rng() % 10 == 0;
        const std::string value = record_value(key, seq, 16 + rng() % 200) + env.writer;
        try {
            const kbus::RecordMetadata md = tombstone ? producer.send(compacted_topic, key, nullptr)
                                                      : producer.send(compacted_topic, key, value);
            history.write("K " + key + " " + std::to_string(md.offset) + " " +
                          (tombstone ? "null" : std::to_string(content_hash(key, value))) + "\n");
        } catch (const kbus::Error& e) {
            history.error(key + ": " + e.what());
            std::this_thread::sleep_for(20ms);
        }
        pace.wait();
    }
    return 0;
}

}  // namespace kbus::harness
