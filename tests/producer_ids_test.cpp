// kbusd's producer id registry: new ids unique and increasing, a transactional id's epoch bumped
// at each grant and kept across a restart (the file), its fence slot in the control segment
// showing the newest epoch, and a damaged file costing only its bad lines.
#include "bus/producer_ids.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "kbus/error.hpp"
#include "temp_dir.hpp"

using kbus::bus::ProducerIdRegistry;
using kbus::testing::logged;
using kbus::testing::sink;
using kbus::testing::TempDir;

TEST_CASE("producer ids are unique, and a transactional id's epoch grows and survives a restart",
          "[idempotence]") {
    TempDir dir("producer-ids", true);
    auto control = std::make_unique<kbus::control::ControlSegment>();
    std::int64_t txn_id = -1, plain = -1;
    std::int32_t slot = -1;
    {
        ProducerIdRegistry r(dir.path, control.get(), sink());
        const auto a = r.grant_new(), b = r.grant_new();
        CHECK(a.epoch == 0);
        CHECK(a.fence_slot == -1);
        CHECK(b.producer_id > a.producer_id);
        plain = b.producer_id;
        const auto t0 = r.grant_for("orders-app"), t1 = r.grant_for("orders-app");
        CHECK(t1.producer_id == t0.producer_id);
        CHECK(t1.epoch == t0.epoch + 1);
        CHECK(t1.fence_slot == t0.fence_slot);
        REQUIRE(t1.fence_slot >= 0);
        CHECK(control->fences[t1.fence_slot].epoch.load() == t1.epoch);
        CHECK(control->fences[t1.fence_slot].producer_id.load() == t1.producer_id);
        const auto other = r.grant_for(std::string("with\0nul and space", 18));
        CHECK(other.fence_slot != t1.fence_slot);
        CHECK(other.producer_id != t1.producer_id);
        txn_id = t1.producer_id;
        slot = t1.fence_slot;
    }
    // A new registry over the same file (a restarted kbusd), with a fresh control segment.
    control = std::make_unique<kbus::control::ControlSegment>();
    ProducerIdRegistry r(dir.path, control.get(), sink());
    CHECK(r.transactional_ids() == 2);
    CHECK(control->fences[slot].epoch.load() == 1);  // published at start, before any grant
    const auto t2 = r.grant_for("orders-app");
    CHECK(t2.producer_id == txn_id);
    CHECK(t2.epoch == 2);
    CHECK(t2.fence_slot == slot);
    CHECK(r.grant_for(std::string("with\0nul and space", 18)).epoch == 1);
    CHECK(r.grant_new().producer_id > std::max(plain, txn_id));
    CHECK_THROWS_AS(r.grant_for(std::string(40000, 'x')), kbus::Error);
}

TEST_CASE("a damaged producer id file costs only its bad lines", "[idempotence]") {
    TempDir dir("producer-ids-damaged", true);
    {
        std::ofstream out(dir.path + "/__kbus_producer_ids");
        out << "61 5000 3 7\n"      // "a": id 5000, epoch 3, slot 7
            << "zz 1 1 1\n"         // not hex
            << "62 6000 1 7\n"      // slot 7 taken twice
            << "63 7000 99999 8\n"  // epoch out of range
            << "64 8000 0\n";       // a field short
    }
    logged.clear();
    ProducerIdRegistry r(dir.path, nullptr, sink());
    CHECK(r.transactional_ids() == 1);
    CHECK(logged.size() == 4);
    const auto a = r.grant_for("a");
    CHECK(a.producer_id == 5000);
    CHECK(a.epoch == 4);
    CHECK(a.fence_slot == 7);
    CHECK(r.grant_for("b").producer_id != 6000);  // new ids start past every id in the file
}

TEST_CASE("with every fence slot taken, a new transactional id takes the longest unused one's",
          "[idempotence]") {
    TempDir dir("producer-ids-full", true);
    auto control = std::make_unique<kbus::control::ControlSegment>();
    ProducerIdRegistry r(dir.path, control.get(), sink());
    constexpr std::int64_t t0 = 1'000'000;
    std::vector<ProducerIdRegistry::Grant> first;
    for (std::uint32_t i = 0; i < kbus::control::producer_fence_slots; ++i)
        first.push_back(r.grant_for("app-" + std::to_string(i), t0 + i));
    // All taken, all used within the minute: refused, naming why.
    const std::int64_t soon = t0 + ProducerIdRegistry::reuse_after_ms / 2;
    CHECK_THROWS_WITH(r.grant_for("newcomer", soon), Catch::Contains("transactional ids is taken"));
    // A minute on: the longest unused gives its slot, unless its transaction is open (app-0's)
    // or it was used since (app-1 began a transaction).
    control->fences[first[0].fence_slot].transaction.store(
        kbus::control::transaction_word(first[0].epoch, kbus::control::TransactionState::open));
    const std::int64_t later = t0 + ProducerIdRegistry::reuse_after_ms + 10;
    r.touch(first[1].producer_id, later - 1);
    const auto newcomer = r.grant_for("newcomer", later);
    CHECK(newcomer.fence_slot == first[2].fence_slot);
    CHECK(r.transactional_ids() == kbus::control::producer_fence_slots);
    CHECK(std::any_of(logged.begin(), logged.end(), [](const std::string& line) {
        return line.find("transactional id 'app-2' forgotten") != std::string::npos;
    }));
    // Any instance of the forgotten id is fenced: its slot names another producer now.
    CHECK(control->fences[first[2].fence_slot].producer_id.load() != first[2].producer_id);
    // The forgotten id comes back as a new producer (it takes app-3's slot in turn).
    const auto back = r.grant_for("app-2", later + 1);
    CHECK(back.producer_id != first[2].producer_id);
    CHECK(back.epoch == 0);
    CHECK(back.fence_slot == first[3].fence_slot);
    // An id still known is unaffected.
    CHECK(r.grant_for("app-1", later + 2).producer_id == first[1].producer_id);
}
