// Aeron over `aeron:ipc`, the peer low-latency users weigh kbus against, measured when an Aeron
// build or install is given (`--aeron-dir DIR` or KBUS_AERON_DIR; DIR holds the C media driver
// `aeronmd` in bin/ or binaries/ and the C client `libaeron.so` in lib/). Aeron is not in
// Debian: without it the peer is skipped with a line saying how to get it.
//
// kbus_compare runs its own aeronmd (shared threading mode: one driver thread, which on two
// cores has to share them with the two pinned processes, as kbusd does), each run on fresh stream
// ids, during Aeron's runs only (AeronDriver). Each side uses Aeron as its samples do: a client
// with its own conductor thread, publications that offer (streams: every byte copied in) or
// try_claim and commit (latency runs, 8 bytes written in place, as kbus's claim/commit), and a
// subscription busy-polled through a fragment assembler (messages over the MTU arrive in
// fragments). The term is 4 MiB, kbus's default ring, or larger where a message needs it (at most
// an eighth).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "aeron_library.hpp"
#include "die_with_parent.hpp"
#include "peer.hpp"

namespace kbus::compare {

// The Aeron install and its media driver, shared by both Aeron peers. The driver runs only
// during Aeron's own runs (started by each run's prepare, stopped by its finish): an idle aeronmd
// still wakes about 900 times a second, which would show in every other system's tail. Its
// directory is in /dev/shm, Aeron's default on Linux, and it dies with kbus_compare
// (PR_SET_PDEATHSIG) if kbus_compare is killed.
class AeronDriver {
  public:
    AeronDriver(std::string install, std::string scratch)
        : install_(std::move(install)),
          dir_("/dev/shm/" + std::filesystem::path(scratch).filename().string() + "-aeron"),
          log_(std::move(scratch) + "/aeronmd.log") {
        if (install_.empty())
            if (const char* env = std::getenv("KBUS_AERON_DIR")) install_ = env;
    }
    ~AeronDriver() { stop(); }
    AeronDriver(const AeronDriver&) = delete;
    AeronDriver& operator=(const AeronDriver&) = delete;

    // Empty if Aeron can be measured here (its library loads and its driver starts and takes a
    // client, then stops again); else why not. Found out once, the same for every peer.
    [[nodiscard]] const std::string& unavailable_reason() {
        if (!checked_) {
            checked_ = true;
            reason_ = check();
        }
        return reason_;
    }
    // For a run: the driver, started if it is not running. Throws if it cannot start.
    void start() {
        if (driver_ > 0) return;
        if (std::string why = start_driver(); !why.empty()) throw std::runtime_error(why);
    }
    // Stops the driver (SIGINT: it deletes its directory), and removes what it left.
    void stop() noexcept {
        if (driver_ <= 0) return;
        ::kill(driver_, SIGINT);
        bool reaped = false;
        for (int i = 0; i < 100 && !(reaped = ::waitpid(driver_, nullptr, WNOHANG) == driver_); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!reaped) {
            ::kill(driver_, SIGKILL);
            ::waitpid(driver_, nullptr, 0);
        }
        driver_ = -1;
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    [[nodiscard]] const aeron_c::Library& library() const { return library_; }
    [[nodiscard]] const std::string& dir() const { return dir_; }

  private:
    std::string check() {
        if (install_.empty())
            return "no Aeron given (--aeron-dir DIR or KBUS_AERON_DIR: a build or install of "
                   "real-logic/aeron's C driver and client, e.g. by scripts/build_aeron.sh; "
                   "Aeron is not in Debian)";
        driver_path_ = find({"bin/aeronmd", "binaries/aeronmd", "aeronmd"});
        const std::string library = find({"lib/libaeron.so", "libaeron.so"});
        if (driver_path_.empty() || library.empty())
            return "no aeronmd or libaeron.so under " + install_ +
                   " (looked in bin/, binaries/ and lib/)";
        try {
            library_ = aeron_c::Library::load(library);
        } catch (const std::exception& e) {
            return e.what();
        }
        std::string why = start_driver();
        stop();
        return why;
    }

    [[nodiscard]] std::string find(std::initializer_list<const char*> candidates) const {
        for (const char* c : candidates)
            if (std::filesystem::exists(std::filesystem::path(install_) / c))
                return (std::filesystem::path(install_) / c).string();
        return {};
    }
    // Starts aeronmd on its directory, and waits until a client can connect to it. Empty on
    // success, else the reason with what aeronmd printed.
    std::string start_driver() {
        const std::vector<std::string> args{
            driver_path_,
            "-Daeron.dir=" + dir_,
            "-Daeron.dir.delete.on.start=true",
            "-Daeron.dir.delete.on.shutdown=true",
            "-Daeron.threading.mode=SHARED",
        };
        const pid_t parent = ::getpid();
        driver_ = ::fork();
        if (driver_ == 0) {
            kbus::testing::die_with_parent(SIGINT, parent);  // SIGINT: aeronmd's clean stop
            std::freopen(log_.c_str(), "w", stdout);
            std::freopen(log_.c_str(), "a", stderr);
            std::vector<char*> argv;
            for (const auto& a : args)
                argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(driver_path_.c_str(), argv.data());
            std::_Exit(127);
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            if (int status = 0; ::waitpid(driver_, &status, WNOHANG) == driver_) {
                driver_ = -1;
                return "aeronmd exited at start (" + describe(status) + ")" + printed();
            }
            if (std::filesystem::exists(dir_ + "/cnc.dat") && client_connects()) return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        const std::string what = printed();
        stop();
        return "aeronmd did not take a client within 10 s" + what;
    }
    static std::string describe(int status) {
        if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
        return "status " + std::to_string(status);
    }
    // What aeronmd printed, for a message: the scratch dir with its log is gone by the time
    // anyone reads it.
    std::string printed() const {
        std::ifstream in(log_);
        std::stringstream s;
        s << in.rdbuf();
        std::string text = s.str().substr(0, 300);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
            text.pop_back();
        return text.empty() ? std::string(", printing nothing") : ": " + text;
    }
    // A client started and closed in this process (no thread of it survives into the forks).
    bool client_connects() {
        aeron_c::Context* context = nullptr;
        aeron_c::Client* client = nullptr;
        const bool ok = library_.context_init(&context) == 0 &&
                        library_.context_set_dir(context, dir_.c_str()) == 0 &&
                        library_.init(&client, context) == 0 && library_.start(client) == 0;
        if (client != nullptr) library_.close(client);
        if (context != nullptr) library_.context_close(context);
        return ok;
    }

    std::string install_;
    std::string dir_;
    std::string log_;
    std::string driver_path_;
    bool checked_ = false;
    std::string reason_;
    aeron_c::Library library_{};
    pid_t driver_ = -1;
};

class AeronPeer final : public Peer {
  public:
    // exclusive: each sender uses an exclusive publication (one publisher, no atomic claim);
    // streams only.
    AeronPeer(std::shared_ptr<AeronDriver> driver, bool exclusive)
        : driver_(std::move(driver)), exclusive_(exclusive) {}
    [[nodiscard]] std::string name() const override {
        return exclusive_ ? "aeron exclusive" : "aeron ipc";
    }
    [[nodiscard]] bool measures_latency() const override { return !exclusive_; }
    [[nodiscard]] std::string unavailable_reason() override {
        return driver_->unavailable_reason();
    }

    void prepare(const RunSpec&) override {
        ++runs_;  // fresh stream ids for every run
        driver_->start();
    }
    void finish() override { driver_->stop(); }

    [[nodiscard]] std::unique_ptr<Endpoint> open(const RunSpec& spec) override {
        const bool first = spec.role == Role::pinger || spec.role == Role::receiver;
        const std::int32_t forward = (exclusive_ ? 500000 : 1000) + 2 * runs_, back = forward + 1;
        return std::make_unique<Side>(driver_->library(), driver_->dir(), first ? forward : back,
                                      first ? back : forward, spec, exclusive_);
    }

  private:
    class Side final : public Endpoint {
      public:
        Side(const aeron_c::Library& lib, const std::string& dir, std::int32_t out, std::int32_t in,
             const RunSpec& spec, bool exclusive)
            : lib_(lib),
              publication_api_(lib.publication_api(exclusive)),
              payload_(spec.payload),
              claims_(!spec.writes_whole_payload() && spec.payload <= max_claim),
              source_(spec.payload, 'a') {
            aeron_c::Context* context = nullptr;
            if (lib_.context_init(&context) < 0 || lib_.context_set_dir(context, dir.c_str()) < 0 ||
                lib_.init(&client_, context) < 0 || lib_.start(client_) < 0)
                fail("client");
            const bool sends = spec.role != Role::receiver, receives = spec.role != Role::sender;
            if (sends) add_publication(out, term_length(spec.payload));
            if (receives) add_subscription(in);
            wait_connected();
        }
        void send() override {
            for (;;) {
                const std::int64_t r = claims_ ? claim_and_commit() : offer();
                if (r >= 0) return;
                if (r != aeron_c::back_pressured && r != aeron_c::admin_action &&
                    r != aeron_c::not_connected)
                    fail("offer");
            }
        }
        void receive() override {
            while (delivered_ == taken_)  // busy-poll, as Aeron's own samples do
                if (lib_.subscription_poll(subscription_, lib_.fragment_assembler_handler,
                                           assembler_, fragment_limit) < 0)
                    fail("poll");
            ++taken_;
        }

      private:
        static constexpr std::size_t max_claim = 1376;  // the IPC MTU (1408) less the header
        static constexpr std::size_t fragment_limit = 10;

        static std::string term_length(std::size_t payload) {
            std::size_t term = std::size_t(4) << 20;
            while (term < 8 * payload)
                term *= 2;
            return std::to_string(term);
        }

        std::int64_t claim_and_commit() {
            aeron_c::BufferClaim claim{};
            const std::int64_t r = publication_api_.try_claim(publication_, payload_, &claim);
            if (r < 0) return r;
            std::memcpy(claim.data, source_.data(), std::min<std::size_t>(payload_, 8));
            lib_.buffer_claim_commit(&claim);
            return r;
        }
        std::int64_t offer() {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(source_.data());
            return publication_api_.offer(publication_, bytes, payload_, nullptr, nullptr);
        }

        static void on_message(void* clientd, const std::uint8_t* buffer, std::size_t length,
                               aeron_c::Header*) {
            auto* self = static_cast<Side*>(clientd);
            self->sink_ = self->sink_ ^ (length ? buffer[0] : 0u);  // look at it where it lies
            ++self->delivered_;
        }

        void add_publication(std::int32_t stream, const std::string& term) {
            const std::string uri = "aeron:ipc?term-length=" + term;
            aeron_c::AsyncAdd* async = nullptr;
            if (publication_api_.async_add(&async, client_, uri.c_str(), stream) < 0)
                fail("add publication");
            await([&] { return publication_api_.async_add_poll(&publication_, async); });
        }
        void add_subscription(std::int32_t stream) {
            if (lib_.fragment_assembler_create(&assembler_, &Side::on_message, this) < 0)
                fail("fragment assembler");
            aeron_c::AsyncAdd* async = nullptr;
            if (lib_.async_add_subscription(&async, client_, "aeron:ipc", stream, nullptr, nullptr,
                                            nullptr, nullptr) < 0)
                fail("add subscription");
            await([&] { return lib_.async_add_subscription_poll(&subscription_, async); });
        }
        // Polls an asynchronous add until it completes (1) or fails (-1).
        template <typename Poll>
        void await(Poll poll) {
            for (const auto until = deadline();;) {
                const int r = poll();
                if (r > 0) return;
                if (r < 0) fail("add");
                if (std::chrono::steady_clock::now() > until) fail("add (no answer within 10 s)");
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        }
        // Both directions have their other end before the first message.
        void wait_connected() {
            for (const auto until = deadline();;) {
                const bool out =
                    publication_ == nullptr || publication_api_.is_connected(publication_);
                const bool in =
                    subscription_ == nullptr || lib_.subscription_is_connected(subscription_);
                if (out && in) return;
                if (std::chrono::steady_clock::now() > until)
                    throw std::runtime_error("aeron: no connection within 10 s");
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        static std::chrono::steady_clock::time_point deadline() {
            return std::chrono::steady_clock::now() + std::chrono::seconds(10);
        }
        [[noreturn]] void fail(const char* what) const {
            throw std::runtime_error(std::string("aeron: ") + what + ": " + lib_.errmsg());
        }

        const aeron_c::Library& lib_;
        aeron_c::PublicationApi publication_api_;  // the concurrent or the exclusive kind
        std::size_t payload_;
        bool claims_;  // latency runs write 8 bytes in place where the message fits a frame
        std::string source_;
        aeron_c::Client* client_ = nullptr;
        void* publication_ = nullptr;
        aeron_c::Subscription* subscription_ = nullptr;
        aeron_c::FragmentAssembler* assembler_ = nullptr;
        std::uint64_t delivered_ = 0, taken_ = 0;
        volatile unsigned sink_ = 0;
    };

    std::shared_ptr<AeronDriver> driver_;
    bool exclusive_;
    int runs_ = 0;
};

}  // namespace kbus::compare
