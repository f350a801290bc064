// Transactions under faults, across processes: a transactional producer commits and aborts
// transactions over four partitions without pause while kbusd is SIGKILLed and restarted, the
// producer is SIGKILLed, or it is SIGSTOPped past its transaction timeout (kbusd's abort then
// races its commit). Afterwards, read at read_committed, every transaction is all or nothing:
// one whose commit returned is there whole, one whose abort returned or whose commit failed is
// not there at all, and one cut off by a fault is either. KBUS_FAULT_ROUNDS raises the rounds
// (ctest -L soak); KBUS_FAULT_SEED repeats a run.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"
#include "kbus/kbus.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int partitions = 4;
constexpr auto transaction_timeout = 300ms;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::stoull(v) : fallback;
}

void note(int fd, char outcome, std::uint64_t k) {
    const std::string line = std::string(1, outcome) + " " + std::to_string(k) + "\n";
    (void)!::write(fd, line.data(), line.size());
}

// One transaction: "k:p" to each partition p, then a commit (an abort for every fifth). Its
// outcome goes to `history` only once the call returned: C committed, A aborted, F failed.
void one_transaction(kbus::Producer& p, std::uint64_t k, int history) {
    p.begin_transaction();
    for (int partition = 0; partition < partitions; ++partition) {
        kbus::SendOptions o;
        o.partition = partition;
        (void)p.send("t", "k", std::to_string(k) + ":" + std::to_string(partition), o);
    }
    if (k % 5 == 0) {
        p.abort_transaction();
        note(history, 'A', k);
        return;
    }
    try {
        p.commit_transaction();
    } catch (const kbus::Error& e) {
        // Refused because kbusd aborted it first (its timeout, its restart): never there.
        if (e.code() == kbus::ErrorCode::producer_fenced ||
            e.code() == kbus::ErrorCode::invalid_txn_state)
            note(history, 'F', k);
        throw;
    }
    note(history, 'C', k);
}

// The producer's process: transactions numbered from `first`, riding out kbusd's restarts.
[[noreturn]] void produce_forever(const DaemonFixture& d, std::uint64_t first, int history) {
    for (std::uint64_t k = first;;) {
        try {
            kbus::Client c(d.options());
            kbus::Producer p(
                c, {.transactional_id = "faulty", .transaction_timeout = transaction_timeout});
            for (;; ++k)
                one_transaction(p, k, history);
        } catch (const kbus::Error&) {
            ++k;  // that one's fate is the faults'
            std::this_thread::sleep_for(20ms);
        }
    }
}

// What a read_committed consumer finds: transaction number -> the partitions holding its record.
std::map<std::uint64_t, std::set<int>> committed_records(kbus::Client& c) {
    kbus::ConsumerOptions o;
    o.isolation_level = kbus::IsolationLevel::read_committed;
    kbus::Consumer con(c, o);
    for (int p = 0; p < partitions; ++p)
        con.assign("t", p, kbus::OffsetSpec::beginning());
    std::map<std::uint64_t, std::set<int>> found;
    for (int idle = 0; idle < 50;) {
        const auto& batch = con.poll(20ms);
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            const std::string v(m.value().str());
            const auto k = std::stoull(v.substr(0, v.find(':')));
            CHECK(found[k].insert(m.partition()).second);  // never twice
        }
    }
    return found;
}

std::map<std::uint64_t, char> outcomes(const std::string& path) {
    std::map<std::uint64_t, char> out;
    std::ifstream in(path);
    char outcome = 0;
    std::uint64_t k = 0;
    while (in >> outcome >> k)
        out[k] = outcome;
    return out;
}

}  // namespace

TEST_CASE("transactions stay all or nothing across SIGKILLs of kbusd and of their producer",
          "[transactions][fault]") {
    DaemonFixture d("txn-faults");
    {
        kbus::Client c(d.options());
        c.create_topic("t", partitions);
    }
    const std::uint64_t seed = env_or("KBUS_FAULT_SEED", std::random_device{}());
    INFO("KBUS_FAULT_SEED=" << seed);
    std::mt19937_64 rng(seed);
    const std::string history_path = d.dir + "/history";
    const int history = ::open(history_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    REQUIRE(history >= 0);
    const std::uint64_t rounds = env_or("KBUS_FAULT_ROUNDS", 6);
    std::map<std::string, int> faults;
    for (std::uint64_t round = 0; round < rounds; ++round) {
        pid_t child = ::fork();
        if (child == 0) produce_forever(d, (round + 1) * 1'000'000, history);
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
        switch (rng() % 3) {
            case 0:  // kbusd dies under the producer, which rides on into the new one
                ++faults["kbusd"];
                d.kill_hard();
                d.restart();
                std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 200));
                break;
            case 1:  // stopped past its timeout: kbusd's abort races whatever it was doing
                ++faults["stop"];
                ::kill(child, SIGSTOP);
                std::this_thread::sleep_for(transaction_timeout * 3);
                ::kill(child, SIGCONT);
                std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 100));
                break;
            default:
                ++faults["producer"];
                break;
        }
        (void)end_child(child, SIGKILL);  // every round ends with the producer's death
    }
    ::close(history);
    INFO("faults: kbusd " << faults["kbusd"] << ", stop " << faults["stop"] << ", producer "
                          << faults["producer"]);

    kbus::Client c(d.options());
    const auto found = committed_records(c);
    const auto told = outcomes(history_path);
    std::size_t committed = 0;
    for (const auto& [k, where] : found) {
        INFO("transaction " << k);
        CHECK(where.size() == std::size_t(partitions));  // whole, or not there
        const auto o = told.find(k);
        if (o != told.end()) CHECK(o->second == 'C');  // never an aborted or a refused one
    }
    for (const auto& [k, outcome] : told) {
        INFO("transaction " << k << " told " << outcome);
        if (outcome == 'C') {
            ++committed;
            CHECK(found.count(k) == 1);  // a returned commit is kept
        }
    }
    CHECK(committed > 0);
}
