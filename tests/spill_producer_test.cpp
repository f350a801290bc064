// The spill and idempotent producers' stamps, in one process: batches cut where the producer,
// its epoch or its sequence changes, Kafka's producer fields written, a duplicate sequence and a
// fenced epoch not written again (gaps), a sequence that jumps ahead written, what the log holds
// learnt again by a restarted spill, and local producers' ring slots: numbered by the spill,
// reused only once the spill has passed a departed producer's records.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "bus/producer_slots.hpp"
#include "kbus/error.hpp"
#include "log_damage.hpp"
#include "segment_batches.hpp"
#include "spill/partition_spill.hpp"
#include "temp_dir.hpp"
#include "test_ring.hpp"

using namespace kbus;
using namespace kbus::testing;

namespace {

// One stamped record (or an unstamped one: producer_id < 0), committed.
void write_stamped(RingWriter& w, std::int64_t producer_id, std::int16_t epoch,
                   std::int32_t sequence) {
    const bool stamped = producer_id >= 0;
    const std::string value = "p" + std::to_string(producer_id) + "s" + std::to_string(sequence);
    const FramePlan plan = frame_plan(BytesView(), std::int32_t(value.size()), {}, stamped);
    RingClaim c;
    REQUIRE(w.try_claim(plan.layout, c) == ClaimStatus::claimed);
    write_data_frame(w.payload(c), c.position, plan, 1234, BytesView(), std::int32_t(value.size()),
                     {});
    ring::write_value(w.payload(c), plan, BytesView(value));
    if (stamped) write_stamp(w.payload(c), plan, {producer_id, sequence, epoch, 0});
    REQUIRE(w.commit(c));
}

struct Rig {
    TempDir dir{"spill-producers"};
    TestRing ring{64 * 1024};
    RingWriter writer{ring.ref};
    std::unique_ptr<control::ControlSegment> control = std::make_unique<control::ControlSegment>();
    std::unique_ptr<log::PartitionLog> log;
    std::unique_ptr<spill::PartitionSpill> spill;
    config::TopicConfig config;
    Rig() {
        ring.release_up_to(0);
        open();
    }
    // verify: the log's recovery checks every batch (an unclean stop), so damage is known.
    void open(bool verify = false) {
        spill.reset();
        log.reset();
        log = std::make_unique<log::PartitionLog>(dir.path, config, verify, sink());
        spill::SpillOptions o;
        o.fences = control.get();  // the bus's fence table, as kbusd's spills have it
        spill = std::make_unique<spill::PartitionSpill>(ring.ref, *log, config::Compression::none,
                                                        sink(), o);
        spill->position_at_log_end();
    }
    void drain() { REQUIRE(spill->drain(1, 1)); }
};

// A local idempotent producer's record: it names its ring slot, the spill numbers it.
void write_slot_record(RingWriter& w, std::uint32_t slot, const std::string& value) {
    FramePlan plan = frame_plan(BytesView(), std::int32_t(value.size()), {});
    plan.attributes = slot_stamp_attributes(slot);
    RingClaim c;
    REQUIRE(w.try_claim(plan.layout, c) == ClaimStatus::claimed);
    write_data_frame(w.payload(c), c.position, plan, 1234, BytesView(), std::int32_t(value.size()),
                     {});
    ring::write_value(w.payload(c), plan, BytesView(value));
    REQUIRE(w.commit(c));
}

}  // namespace

TEST_CASE("the spill writes one idempotent producer's consecutive records per batch, stamped",
          "[spill][idempotence]") {
    Rig rig;
    for (int i = 0; i < 3; ++i)
        write_stamped(rig.writer, 7, 0, i);  // offsets 0-2
    for (int i = 0; i < 2; ++i)
        write_stamped(rig.writer, 9, 1, i);  // 3-4: another producer
    write_stamped(rig.writer, -1, -1, 0);    // 5: no producer
    write_stamped(rig.writer, 7, 0, 3);      // 6: 7 goes on
    write_stamped(rig.writer, 7, 0, 5);      // 7: a sequence gap
    rig.drain();
    bool sound = false;
    const auto b = kbus::test::batches_on_disk(rig.dir.path, &sound);
    REQUIRE(sound);
    REQUIRE(b.size() == 5);
    CHECK((b[0].producer_id == 7 && b[0].base_sequence == 0 && b[0].records == 3));
    CHECK((b[1].producer_id == 9 && b[1].producer_epoch == 1 && b[1].base_sequence == 0));
    CHECK((b[2].producer_id == -1 && b[2].base_sequence == -1 && b[2].base_offset == 5));
    CHECK((b[3].producer_id == 7 && b[3].base_sequence == 3 && b[3].base_offset == 6));
    CHECK((b[4].producer_id == 7 && b[4].base_sequence == 5 && b[4].base_offset == 7));
    CHECK(rig.spill->dropped_records() == 0);
}

TEST_CASE(
    "the spill does not write a duplicate sequence or a fenced epoch again, even after a "
    "restart",
    "[spill][idempotence]") {
    Rig rig;
    for (int i = 0; i < 4; ++i)
        write_stamped(rig.writer, 7, 2, i);  // offsets 0-3
    rig.drain();
    rig.open();  // a restarted daemon: the spill learns producer 7 from the log
    rig.control->fences[5].producer_id = 7;  // producer 7's transactional id is at epoch 3 now
    rig.control->fences[5].epoch = 3;
    write_stamped(rig.writer, 7, 2, 2);  // 4: a duplicate
    write_stamped(rig.writer, 7, 2, 3);  // 5: a duplicate
    write_stamped(rig.writer, 7, 1, 4);  // 6: an older epoch, fenced
    write_stamped(rig.writer, 7, 2, 4);  // 7: the next one
    write_stamped(rig.writer, 7, 3, 0);  // 8: a newer epoch starts afresh
    write_stamped(rig.writer, 7, 2, 5);  // 9: the old epoch is now fenced
    rig.drain();
    CHECK(rig.spill->dropped_records() == 4);
    CHECK(rig.spill->cursor().offset == 10);
    CHECK(rig.log->log_end_offset() == 9);  // the dropped last record is a gap at the end
    std::vector<std::int64_t> offsets;
    for (const auto& f : kbus::test::batches_on_disk(rig.dir.path))
        for (std::int64_t o = f.base_offset; o <= f.last_offset; ++o)
            offsets.push_back(o);
    CHECK(offsets == std::vector<std::int64_t>{0, 1, 2, 3, 7, 8});
    bool logged_duplicate = false, logged_fenced = false;
    for (const std::string& line : logged) {
        logged_duplicate |= line.find("a duplicate of producer 7") != std::string::npos;
        logged_fenced |= line.find("was fenced") != std::string::npos;
    }
    CHECK(logged_duplicate);
    CHECK(logged_fenced == false);  // within the second of the first drop: rate-limited
}

TEST_CASE(
    "an older epoch is dropped only when the fence table shows a newer one, never on a "
    "stamp's word",
    "[spill][idempotence]") {
    Rig rig;
    write_stamped(rig.writer, 8, 0, 0);  // 0: the real producer
    write_stamped(rig.writer, 8, 5, 0);  // 1: anyone naming its id at a later epoch
    write_stamped(rig.writer, 8, 0, 1);  // 2: the real producer goes on: written
    rig.drain();
    CHECK(rig.spill->dropped_records() == 0);
    std::vector<std::int64_t> offsets;
    for (const auto& f : kbus::test::batches_on_disk(rig.dir.path))
        for (std::int64_t o = f.base_offset; o <= f.last_offset; ++o)
            offsets.push_back(o);
    CHECK(offsets == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE("a local idempotent producer's records name its ring slot, and the spill numbers them",
          "[spill][idempotence]") {
    Rig rig;
    ring::RingHeader& h = rig.ring.ref.header();
    const std::uint32_t slot = bus::take_producer_slot(h, 42, 3, ::getpid());
    CHECK(bus::take_producer_slot(h, 42, 3, ::getpid()) == slot);  // the same producer again
    const std::uint32_t other = bus::take_producer_slot(h, 43, 0, ::getpid());
    CHECK(other != slot);
    const auto write_slotted = [&](std::uint32_t s, const std::string& value) {
        write_slot_record(rig.writer, s, value);
    };
    for (int i = 0; i < 3; ++i)
        write_slotted(slot, "a");  // 0-2
    write_slotted(other, "b");     // 3
    write_slotted(slot, "a");      // 4
    rig.drain();
    rig.open();                // a restart: producer 42 goes on from the log's sequence 4
    write_slotted(slot, "a");  // 5
    rig.drain();
    const auto b = kbus::test::batches_on_disk(rig.dir.path);
    REQUIRE(b.size() == 4);
    CHECK((b[0].producer_id == 42 && b[0].producer_epoch == 3 && b[0].base_sequence == 0 &&
           b[0].records == 3));
    CHECK((b[1].producer_id == 43 && b[1].base_sequence == 0));
    CHECK((b[2].producer_id == 42 && b[2].base_sequence == 3));
    CHECK((b[3].producer_id == 42 && b[3].base_sequence == 4 && b[3].base_offset == 5));

    // A slot whose producer left is free again only once the spill has passed its records.
    write_slotted(other, "b");  // 6, not yet spilled
    bus::retire_producer_slot(h, other);
    std::vector<std::uint32_t> taken;
    for (std::uint32_t i = 0; i + 2 < ring::producer_slot_count; ++i)
        taken.push_back(bus::take_producer_slot(h, 100 + i, 0, ::getpid()));
    CHECK(std::find(taken.begin(), taken.end(), other) == taken.end());
    CHECK_THROWS_AS(bus::take_producer_slot(h, 999, 0, ::getpid()), Error);  // all taken
    rig.drain();                                                             // passes offset 6
    CHECK(bus::take_producer_slot(h, 999, 0, ::getpid()) == other);
    const auto last = kbus::test::batches_on_disk(rig.dir.path).back();
    CHECK((last.producer_id == 43 && last.base_sequence == 1));  // read before the slot went
}

TEST_CASE("a restarted spill learns past a damaged batch in an old segment",
          "[spill][idempotence]") {
    Rig rig;
    rig.config.segment_bytes = 1;  // a segment a batch: the damage is in an old segment
    rig.open();
    ring::RingHeader& h = rig.ring.ref.header();
    const std::uint32_t slot = bus::take_producer_slot(h, 42, 0, ::getpid());
    const std::string value(100, 'v');  // batches big enough to flip bytes inside their records
    const auto write_slotted = [&] { write_slot_record(rig.writer, slot, value); };
    for (int batch = 0; batch < 4; ++batch) {  // sequences 0-2, 3-5, 6-8, 9-11
        for (int i = 0; i < 3; ++i)
            write_slotted();
        rig.drain();
    }
    const auto logs = segment_logs(rig.dir.path);
    REQUIRE(logs.size() >= 4);
    damage_middle_batch(logs[1]);  // sequences 3-5, in the second of four segments
    rig.open(true);                // an unclean restart: recovery finds the damage
    write_slotted();
    rig.drain();
    // Learnt from the batches after the damage too: producer 42 goes on at 12, not at 3.
    const auto last = kbus::test::batches_on_disk(rig.dir.path).back();
    CHECK((last.producer_id == 42 && last.base_sequence == 12));
}
