#include "bus/transaction_markers.hpp"

#include <thread>

#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "kbus/record_frame.hpp"
#include "kbus/ring_writer.hpp"

namespace kbus::bus {

std::int64_t write_transaction_marker(Partition& p, const TransactionMarker& m,
                                      const std::function<void()>& wake_spill,
                                      std::int64_t max_wait_ms) {
    ring::RingWriter writer(p.ring());
    // A Kafka client's producer has no slot: its stamp alone names it, as on its records.
    const ring::FramePlan plan = ring::control_frame_plan(
        m.slot == no_marker_slot
            ? ring::stamped_attribute
            : std::uint16_t(ring::slot_stamp_attributes(m.slot) | ring::stamped_attribute));
    const ring::RecordStamp stamp{m.producer_id, -1, m.epoch, 0};
    const std::uint64_t deadline_ns =
        detail::monotonic_ns() + std::uint64_t(max_wait_ms) * 1'000'000ULL;
    for (;;) {
        ring::RingClaim c;
        switch (writer.try_claim(plan.layout, c)) {
            case ring::ClaimStatus::claimed:
                ring::write_control_frame(writer.payload(c), c.position, plan,
                                          detail::wall_clock_ms(), m.type, 0, &stamp);
                // A claim the repairer aborted (we stalled past the claim timeout) is a gap:
                // the marker is written again.
                if (writer.commit(c)) return std::int64_t(c.offset);
                continue;
            case ring::ClaimStatus::deleted:
                return -1;
            case ring::ClaimStatus::owned:
                throw Error(ErrorCode::partition_owned,
                            "an exclusive producer owns the ring: no transaction marker can be "
                            "written there");
            case ring::ClaimStatus::too_large:  // a marker is 80 bytes: never
                throw Error(ErrorCode::unknown, "the ring refuses a transaction marker");
            case ring::ClaimStatus::full:
                break;
        }
        if (p.request_flush()) wake_spill();
        if (detail::monotonic_ns() > deadline_ns)
            throw Error(ErrorCode::timed_out,
                        "the ring stayed full: the transaction marker was not written");
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

}  // namespace kbus::bus
