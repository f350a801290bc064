// Eclipse iceoryx 2.0 with its best documented settings for this: zero-copy loans, busy-polling
// take(), and a blocking producer policy so that a stream loses nothing (as with every system
// here). kbus_compare starts its own iox-roudi with a memory pool for each payload size, and
// stops it at the end; one already running is left alone and iceoryx is skipped.
#pragma once

#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "peer.hpp"

#ifdef KBUS_HAVE_ICEORYX
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#endif

namespace kbus::compare {

#ifdef KBUS_HAVE_ICEORYX
class IceoryxPeer final : public Peer {
  public:
    explicit IceoryxPeer(std::string dir)
        : dir_(std::move(dir)), runtime_prefix_(runtime_prefix()) {}
    ~IceoryxPeer() override {
        stop_roudi();
        remove_runtime_sockets();
    }
    [[nodiscard]] std::string name() const override { return "iceoryx"; }

    [[nodiscard]] std::string unavailable_reason() override {
        const std::string roudi = find_roudi();
        if (roudi.empty()) return "iox-roudi not found (Debian package iceoryx)";
        if (const int other = running_roudi(); other > 0)
            return "an iox-roudi is already running (pid " + std::to_string(other) +
                   "); kbus_compare starts its own, so stop that one to include iceoryx";
        return start_roudi(roudi);
    }

    void prepare(const RunSpec&) override { ++runs_; }  // fresh service names for every run

    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        const std::string runtime =
            runtime_prefix_ + std::to_string(runs_) +
            (spec.role == Role::pinger || spec.role == Role::receiver ? "a" : "b");
        iox::log::LogManager::GetLogManager().SetDefaultLogLevel(
            iox::log::LogLevel::kWarn, iox::log::LogLevelOutput::kHideLogLevel);
        iox::runtime::PoshRuntime::initRuntime(
            iox::RuntimeName_t(iox::cxx::TruncateToCapacity, runtime.c_str()));
        const bool first = spec.role == Role::pinger || spec.role == Role::receiver;
        const std::string fwd = "fwd" + std::to_string(runs_),
                          back = "back" + std::to_string(runs_);
        const bool sends = spec.role != Role::receiver, receives = spec.role != Role::sender;
        return std::make_unique<Side>(first ? fwd : back, first ? back : fwd, sends, receives,
                                      spec);
    }

  private:
    // Chunks of each size (payload plus iceoryx's chunk header); a subscriber queue takes at
    // most a quarter of its pool, so loans never run dry while a stream is held back.
    struct Pool {
        std::size_t size, count;
    };
    static constexpr Pool pools[] = {{128, 10000}, {1152, 5000}, {66560, 400}, {1049600, 64}};
    static std::uint64_t queue_capacity(std::size_t payload) {
        for (const Pool& p : pools)
            if (payload + 128 <= p.size) return std::clamp<std::uint64_t>(p.count / 4, 1, 256);
        return 1;
    }

    class Side final : public Endpoint {
      public:
        Side(const std::string& out, const std::string& in, bool sends, bool receives,
             const RunSpec& spec)
            : payload_(spec.payload),
              whole_(spec.writes_whole_payload()),
              source_(spec.payload, 'i') {
            using namespace iox;
            if (receives) {
                popo::SubscriberOptions o;
                o.queueCapacity = queue_capacity(spec.payload);
                o.queueFullPolicy = popo::QueueFullPolicy::BLOCK_PRODUCER;
                subscriber_.emplace(service(in), o);
            }
            if (sends) {
                popo::PublisherOptions o;
                o.subscriberTooSlowPolicy = popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
                publisher_.emplace(service(out), o);
            }
            // Subscriptions go through RouDi: wait until both directions are connected.
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while ((publisher_ && !publisher_->hasSubscribers()) ||
                   (subscriber_ &&
                    subscriber_->getSubscriptionState() != SubscribeState::SUBSCRIBED)) {
                if (std::chrono::steady_clock::now() > until)
                    throw std::runtime_error("iceoryx: no connection through RouDi within 10 s");
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        void send() override {
            for (;;) {
                auto loan = publisher_->loan(std::uint32_t(payload_));
                if (!loan.has_error()) {
                    void* chunk = loan.value();
                    std::memcpy(chunk, source_.data(),
                                whole_ ? payload_ : std::min<std::size_t>(payload_, 8));
                    publisher_->publish(chunk);
                    return;
                }
                std::this_thread::yield();  // every chunk is in flight: wait for one back
            }
        }
        void receive() override {
            for (;;) {  // busy-poll, as iceoryx's own latency benchmark does
                auto taken = subscriber_->take();
                if (!taken.has_error()) {
                    sink_ = sink_ ^ static_cast<const unsigned char*>(taken.value())[0];
                    subscriber_->release(taken.value());
                    return;
                }
            }
        }

      private:
        static iox::capro::ServiceDescription service(const std::string& event) {
            using iox::capro::IdString_t;
            return {IdString_t("kbus"), IdString_t("compare"),
                    IdString_t(iox::cxx::TruncateToCapacity, event.c_str())};
        }
        std::size_t payload_;
        bool whole_;
        std::string source_;
        iox::cxx::optional<iox::popo::UntypedPublisher> publisher_;
        iox::cxx::optional<iox::popo::UntypedSubscriber> subscriber_;
        volatile unsigned sink_ = 0;
    };

    // Each run's two processes end with _Exit, so their runtimes never remove the sockets
    // iceoryx made for them in /tmp; named after this process, they are removed at the end.
    static std::string runtime_prefix() {
        return "kbus-compare-" + std::to_string(::getpid()) + "-";
    }
    void remove_runtime_sockets() const noexcept {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator("/tmp", ec))
            if (e.path().filename().string().rfind(runtime_prefix_, 0) == 0)
                std::filesystem::remove(e.path(), ec);
    }

    static std::string find_roudi() {
        for (const char* d : {"/usr/bin", "/usr/local/bin", "/opt/iceoryx/bin"})
            if (std::filesystem::exists(std::string(d) + "/iox-roudi"))
                return std::string(d) + "/iox-roudi";
        return {};
    }
    static int running_roudi() {
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            std::ifstream comm(e.path() / "comm");
            std::string name;
            if (comm >> name && name == "iox-roudi") return std::atoi(e.path().filename().c_str());
        }
        return 0;
    }

    std::string start_roudi(const std::string& roudi) {
        const std::string config = dir_ + "/roudi.toml", log = dir_ + "/roudi.log";
        std::ofstream c(config);
        c << "[general]\nversion = 1\n\n[[segment]]\n";
        for (const Pool& p : pools)
            c << "\n[[segment.mempool]]\nsize = " << p.size << "\ncount = " << p.count << "\n";
        c.close();
        roudi_ = ::fork();
        if (roudi_ == 0) {
            std::freopen(log.c_str(), "w", stdout);
            std::freopen(log.c_str(), "a", stderr);
            ::execl(roudi.c_str(), "iox-roudi", "-c", config.c_str(), nullptr);
            std::_Exit(127);
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            std::ifstream in(log);
            std::stringstream s;
            s << in.rdbuf();
            if (s.str().find("RouDi is ready for clients") != std::string::npos) return {};
            if (::waitpid(roudi_, nullptr, WNOHANG) == roudi_) {
                roudi_ = -1;
                return "iox-roudi exited at start: " + s.str().substr(0, 300);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        stop_roudi();
        return "iox-roudi did not report ready within 10 s (see " + log + ")";
    }
    // RouDi 2.0 leaves its two shared-memory segments behind when it stops (about 170 MB here):
    // its management segment and the payload segment named after the user. They are this
    // RouDi's, as none other was running when it started (unavailable_reason).
    void stop_roudi() {
        if (roudi_ <= 0) return;
        ::kill(roudi_, SIGTERM);
        ::waitpid(roudi_, nullptr, 0);
        roudi_ = -1;
        ::shm_unlink("/iceoryx_mgmt");
        if (const passwd* user = ::getpwuid(::geteuid()); user != nullptr)
            ::shm_unlink(("/" + std::string(user->pw_name)).c_str());
    }

    std::string dir_;
    std::string runtime_prefix_;
    pid_t roudi_ = -1;
    int runs_ = 0;
};
#endif

}  // namespace kbus::compare
