// What each control request does: one handler per request message (control_messages.hpp,
// group_messages.hpp), registered by type. Topic requests go to the bus, reader requests to the
// partition's producer gate, group requests to the group service.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "bus/bus.hpp"
#include "bus/producer_ids.hpp"
#include "bus/transaction_coordinator.hpp"
#include "groups/group_service.hpp"
#include "kbus/bus_stats.hpp"
#include "kbus/control_messages.hpp"
#include "kbus/group_messages.hpp"

namespace kbusd {

// Who this daemon is, as hello answers it.
struct DaemonIdentity {
    std::string bus;
    std::function<std::uint64_t()> epoch;
    std::string shm_dir;  // the bus's shared-memory directory
};

class ControlHandlers {
  public:
    ControlHandlers(kbus::bus::Bus& bus, kbus::groups::GroupService& groups,
                    DaemonIdentity identity, std::function<kbus::stats::BusStats()> stats);

    // The reply's fields; throws kbus::Error.
    [[nodiscard]] std::string answer(kbus::protocol::RequestType type, std::string_view payload,
                                     std::uint32_t connection);
    // A client is gone: its reader slots are freed and its group memberships end.
    void connection_closed(std::uint32_t connection);
    // How a request that needs the ring's records on disk now wakes the spill.
    void on_wake_spill(std::function<void()> f) { wake_spill_ = std::move(f); }
    // Where InitProducerIdRequest gets its grants (the daemon's registry, shared with the Kafka
    // listener). Until set, the request is refused.
    void serve_producer_ids(kbus::bus::ProducerIdRegistry& ids) { producer_ids_ = &ids; }
    // Where transaction requests go. Until set, they are refused.
    void serve_transactions(kbus::bus::TransactionCoordinator& t) { transactions_ = &t; }
    // Who is at a connection's other end (the kernel's pid, not the client's word).
    void on_peer_pid(std::function<pid_t(std::uint32_t)> f) { peer_pid_ = std::move(f); }

  private:
    // Registers the handler of one request message: decode, handle, encode.
    template <class Request, class Handler>
    void on(Handler handler) {
        table_[static_cast<std::uint16_t>(Request::type)] = [handler](std::string_view payload,
                                                                      std::uint32_t connection) {
            const auto request = kbus::codec::decoded<Request>(payload);
            return kbus::codec::encoded(handler(request, connection));
        };
    }
    void register_topic_requests();
    void register_reader_requests();
    void register_group_requests();

    static void check_hello_version(std::string_view payload);
    kbus::protocol::HelloReply hello(const kbus::protocol::HelloRequest& request) const;
    kbus::protocol::ReaderAttachment attach(const kbus::protocol::AttachReaderRequest& request,
                                            std::uint32_t connection);

    kbus::bus::Bus& bus_;
    kbus::groups::GroupService& groups_;
    DaemonIdentity identity_;
    std::function<kbus::stats::BusStats()> stats_;
    std::function<void()> wake_spill_ = [] {};
    kbus::bus::ProducerIdRegistry* producer_ids_ = nullptr;
    kbus::bus::TransactionCoordinator* transactions_ = nullptr;
    void register_producer_requests();
    void register_transaction_requests();
    std::function<pid_t(std::uint32_t)> peer_pid_ = [](std::uint32_t) { return pid_t(0); };
    // The producer slots each connection took (RegisterProducerRequest): retired when it closes.
    struct TakenSlot {
        std::weak_ptr<kbus::bus::Partition> partition;
        std::uint32_t slot = 0;
    };
    std::map<std::uint32_t, std::vector<TakenSlot>> slots_by_;
    std::map<std::uint16_t, std::function<std::string(std::string_view, std::uint32_t)>> table_;
    // The partitions each connection attached readers to: its slots are freed there when it
    // closes, not by a walk over every partition of the bus (a client's exit would otherwise cost
    // the control thread milliseconds on a bus of 10,000 partitions, and the next client waits).
    using PartitionSet = std::set<std::weak_ptr<kbus::bus::Partition>,
                                  std::owner_less<std::weak_ptr<kbus::bus::Partition>>>;
    std::map<std::uint32_t, PartitionSet> attached_by_;
};

}  // namespace kbusd
