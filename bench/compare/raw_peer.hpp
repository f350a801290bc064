// The physical limit: two processes passing a counter through one cache line each way, with
// nothing else on the path. Not a messaging system: measured for latency at one cache line only.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "peer.hpp"

namespace kbus::compare {

class RawCacheLinePeer final : public Peer {
  public:
    RawCacheLinePeer() {
        void* m = ::mmap(nullptr, sizeof(Lines), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
        lines_ = new (m) Lines{};
    }
    ~RawCacheLinePeer() override { ::munmap(lines_, sizeof(Lines)); }
    [[nodiscard]] std::string name() const override { return "raw cache line"; }
    [[nodiscard]] bool measures_throughput() const override { return false; }
    void prepare(const RunSpec&) override {
        lines_->forward.value.store(0, std::memory_order_relaxed);  // before the fork
        lines_->back.value.store(0, std::memory_order_relaxed);
    }
    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        if (spec.role == Role::pinger) return std::make_unique<Side>(lines_->forward, lines_->back);
        return std::make_unique<Side>(lines_->back, lines_->forward);
    }

  private:
    struct alignas(64) Line {
        std::atomic<std::uint64_t> value{0};
    };
    struct Lines {
        Line forward;  // pinger -> echoer
        Line back;
    };
    class Side final : public Endpoint {
      public:
        Side(Line& out, Line& in) : out_(out), in_(in) {}
        // Release: the "message" is the counter itself, nothing else to publish.
        void send() override { out_.value.store(++sent_, std::memory_order_release); }
        void receive() override {
            ++expected_;
            // Acquire: pairs with the other side's release store.
            while (in_.value.load(std::memory_order_acquire) != expected_) {
            }
        }

      private:
        Line& out_;
        Line& in_;
        std::uint64_t sent_ = 0;
        std::uint64_t expected_ = 0;
    };
    Lines* lines_ = nullptr;
};

}  // namespace kbus::compare
