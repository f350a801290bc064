// Boost.Interprocess message_queue: a bounded queue in shared memory guarded by a process-shared
// mutex and condition variable; send and receive copy the message.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <string>
#include <vector>

#include "peer.hpp"

namespace kbus::compare {

class BoostMessageQueuePeer final : public Peer {
  public:
    BoostMessageQueuePeer() : prefix_("kbus-compare-" + std::to_string(::getpid())) {}
    ~BoostMessageQueuePeer() override { remove_queues(); }
    [[nodiscard]] std::string name() const override { return "boost message_queue"; }
    void prepare(const RunSpec& spec) override {
        namespace ipc = boost::interprocess;
        remove_queues();
        // As deep as a socket's buffer would be, within 256 MiB of shared memory per queue.
        const std::size_t depth = std::clamp<std::size_t>((256u << 20) / spec.payload, 8, 1024);
        for (const char* q : {"fwd", "back"})
            ipc::message_queue(ipc::create_only, (prefix_ + q).c_str(), depth, spec.payload);
    }
    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        const bool first = spec.role == Role::pinger || spec.role == Role::receiver;
        const std::string fwd = prefix_ + "fwd", back = prefix_ + "back";
        // The first side sends forward and receives back; the second the other way round.
        return std::make_unique<Side>(first ? fwd : back, first ? back : fwd, spec.payload);
    }

  private:
    class Side final : public Endpoint {
      public:
        Side(const std::string& out, const std::string& in, std::size_t payload)
            : out_(boost::interprocess::open_only, out.c_str()),
              in_(boost::interprocess::open_only, in.c_str()),
              buffer_(payload, std::byte{'b'}) {}
        void send() override { out_.send(buffer_.data(), buffer_.size(), 0); }
        void receive() override {
            boost::interprocess::message_queue::size_type got = 0;
            unsigned priority = 0;
            in_.receive(buffer_.data(), buffer_.size(), got, priority);
        }

      private:
        boost::interprocess::message_queue out_;
        boost::interprocess::message_queue in_;
        std::vector<std::byte> buffer_;
    };
    void remove_queues() {
        for (const char* q : {"fwd", "back"})
            boost::interprocess::message_queue::remove((prefix_ + q).c_str());
    }
    std::string prefix_;
};

}  // namespace kbus::compare
