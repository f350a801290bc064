// kbus itself, through its public client: a claim/commit producer that writes the record in
// place (latency runs write 8 bytes of it, streams every byte, as with every system here) and a
// consumer that reads the records where they lie. The run's daemon is ring-only
// (kbus.spill.enable=false): none of the other systems keeps a copy on disk either.
#pragma once

#include <algorithm>
#include <cstring>
#include <kbus/kbus.hpp>
#include <memory>
#include <string>

#include "peer.hpp"

namespace kbus::compare {

class KbusPeer final : public Peer {
  public:
    // batch > 1: a throughput-only peer whose sender sends runs of `batch` records. exclusive:
    // each sender owns its partition (ProducerOptions::exclusive), claims without a locked
    // instruction. fetch_min_bytes > 1: a throughput-only peer whose consumer waits for that
    // many bytes a poll (ConsumerOptions::fetch_min_bytes; a round trip would wait its
    // fetch_max_wait each way).
    KbusPeer(std::string label, kbus::ClientOptions bus, kbus::WaitMode mode,
             std::chrono::microseconds spin, std::size_t batch = 1, bool exclusive = false,
             std::size_t fetch_min_bytes = 1)
        : label_(std::move(label)),
          bus_(std::move(bus)),
          mode_(mode),
          spin_(spin),
          batch_(batch),
          exclusive_(exclusive),
          fetch_min_bytes_(fetch_min_bytes) {}
    [[nodiscard]] std::string name() const override { return label_; }
    [[nodiscard]] bool measures_latency() const override {
        return batch_ == 1 && fetch_min_bytes_ == 1;
    }

    // One pair of topics per payload size, made once: each run's consumers start at their end.
    // The ring is kbus's default (4 MiB), or 16 records' worth for large ones. Bigger is slower
    // on this kind of machine: a ring that outgrows the caches turns every record into misses
    // (and, in a VM, two-level page walks).
    void prepare(const RunSpec& spec) override {
        kbus::Client client(bus_);
        const std::size_t ring = ring_bytes(spec.payload);
        for (const std::string& t : {topic("fwd", spec.payload), topic("back", spec.payload)}) {
            try {
                client.create_topic(t, 1,
                                    {{"ring.bytes", std::to_string(ring)},
                                     {"max.message.bytes", std::to_string(spec.payload + 4096)}});
            } catch (const kbus::Error& e) {
                if (e.code() != kbus::ErrorCode::topic_exists) throw;
            }
        }
    }

    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        const bool first = spec.role == Role::pinger || spec.role == Role::receiver;
        const std::string fwd = topic("fwd", spec.payload), back = topic("back", spec.payload);
        return std::make_unique<Side>(bus_, ConsumerSettings{mode_, spin_, fetch_min_bytes_},
                                      first ? fwd : back, first ? back : fwd, spec,
                                      run_length(batch_, spec.payload), exclusive_);
    }

  private:
    static std::size_t ring_bytes(std::size_t payload) {
        std::size_t ring = std::size_t(4) << 20;
        while (ring < 16 * payload)
            ring *= 2;
        return ring;
    }
    // A run may take a quarter of the ring at most (a claim may take half).
    static std::size_t run_length(std::size_t batch, std::size_t payload) {
        return std::clamp<std::size_t>(ring_bytes(payload) / 4 / (payload + 64), 1, batch);
    }

    static std::string topic(const char* direction, std::size_t payload) {
        return std::string("compare-") + direction + "-" + std::to_string(payload);
    }

    struct ConsumerSettings {
        kbus::WaitMode mode;
        std::chrono::microseconds spin;
        std::size_t fetch_min_bytes;
    };

    class Side final : public Endpoint {
      public:
        Side(const kbus::ClientOptions& bus, const ConsumerSettings& c, std::string out,
             const std::string& in, const RunSpec& spec, std::size_t batch, bool exclusive)
            : client_(bus),
              producer_(client_, {.exclusive = exclusive}),
              consumer_(client_, {.wait = c.mode,
                                  .max_poll_records = 4096,
                                  .spin_before_sleep = c.spin,
                                  .fetch_min_bytes = c.fetch_min_bytes,
                                  .fetch_max_wait = std::chrono::milliseconds(1)}),
              out_(std::move(out)),
              payload_(spec.payload),
              whole_(spec.writes_whole_payload()),
              source_(spec.payload, std::byte{'k'}),
              run_(batch, kbus::BatchRecord{{}, kbus::BytesView(source_.data(), source_.size())}) {
            options_.partition = 0;
            if (spec.role != Role::sender) consumer_.assign(in, 0, kbus::OffsetSpec::end());
            (void)producer_.partition_count(out_);  // maps the ring now, not on the first send
        }
        void send() override {
            if (run_.size() > 1) {  // a run of records, each written whole from the source
                if (++pending_ == run_.size()) flush();
                return;
            }
            auto claim = producer_.claim(out_, nullptr, std::int32_t(payload_), options_);
            std::byte* value = claim.value().data();
            std::memcpy(value, source_.data(),
                        whole_ ? payload_ : std::min<std::size_t>(payload_, 8));
            producer_.commit(claim);
        }
        void flush() override {
            if (pending_ == 0) return;
            (void)producer_.send_batch(out_, std::span(run_).first(pending_), options_);
            pending_ = 0;
        }
        void receive() override {
            while (next_ == batch_size_) {
                const auto& batch = consumer_.poll(std::chrono::seconds(1));
                batch_ = &batch;
                batch_size_ = batch.size();
                next_ = 0;
            }
            const auto& m = (*batch_)[next_++];
            // Look at the value where it lies, as a consumer would (no copy).
            sink_ =
                sink_ ^ (m.value().size() ? std::to_integer<unsigned>(m.value().data()[0]) : 0u);
        }

      private:
        kbus::Client client_;
        kbus::Producer producer_;
        kbus::Consumer consumer_;
        kbus::SendOptions options_;
        std::string out_;
        std::size_t payload_;
        bool whole_;
        std::vector<std::byte> source_;
        std::vector<kbus::BatchRecord> run_;
        std::size_t pending_ = 0;
        const kbus::Batch* batch_ = nullptr;
        std::size_t batch_size_ = 0;
        std::size_t next_ = 0;
        volatile unsigned sink_ = 0;
    };

    std::string label_;
    kbus::ClientOptions bus_;
    kbus::WaitMode mode_;
    std::chrono::microseconds spin_;
    std::size_t batch_;
    bool exclusive_;
    std::size_t fetch_min_bytes_;
};

}  // namespace kbus::compare
