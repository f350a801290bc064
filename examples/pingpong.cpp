// Round-trip latency between two processes pinned to different cores, with the baselines measured
// in the same run: a raw shared-memory cache-line ping-pong (the machine's limit) and a Unix
// domain socket; then a 1 -> 1 stream. The topics it makes (ping, pong, throughput) are deleted
// at the end, with their logs.
//   usage: pingpong [--iterations N] [--payload BYTES] [--records N]  (needs a running kbusd)
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <kbus/kbus.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int iterations = 200000;
long records = 20'000'000;
int warmup = 20000;
std::size_t payload = 64;

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % int(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))), &set);
    if (::sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");
}

struct Result {
    std::string name;
    std::vector<std::int64_t> ns;
    double pct(double p) const {
        return double(ns[std::min(ns.size() - 1, std::size_t(p * double(ns.size())))]);
    }
};

// Runs `echo` in a child pinned to core 1 and `ping` (one round trip) here on core 0.
Result measure(const std::string& name, const std::function<void()>& echo,
               const std::function<void()>& ping) {
    const pid_t child = ::fork();
    if (child == 0) {
        pin(1);
        echo();
        std::_Exit(0);
    }
    pin(0);
    Result r{name, {}};
    r.ns.reserve(std::size_t(iterations));
    for (int i = 0; i < warmup + iterations; ++i) {
        const auto t0 = Clock::now();
        ping();
        const auto t1 = Clock::now();
        if (i >= warmup)
            r.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    ::waitpid(child, nullptr, 0);
    std::sort(r.ns.begin(), r.ns.end());
    return r;
}

Result raw_cache_line() {
    struct alignas(64) Line {
        std::atomic<std::uint64_t> v;
    };
    auto* lines = static_cast<Line*>(
        ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    new (&lines[0]) Line{};
    new (&lines[1]) Line{};
    const int total = warmup + iterations;
    std::uint64_t seq = 0;
    return measure(
        "raw shm cache line",
        [&] {
            for (std::uint64_t i = 1; i <= std::uint64_t(total); ++i) {
                while (lines[0].v.load(std::memory_order_acquire) != i) {
                }
                lines[1].v.store(i, std::memory_order_release);
            }
        },
        [&] {
            ++seq;
            lines[0].v.store(seq, std::memory_order_release);
            while (lines[1].v.load(std::memory_order_acquire) != seq) {
            }
        });
}

Result unix_socket() {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    std::vector<char> buf(payload);
    auto xfer = [&](int fd, bool send_first) {
        if (send_first) (void)!::send(fd, buf.data(), payload, 0);
        std::size_t got = 0;
        while (got < payload)
            got +=
                std::size_t(std::max<ssize_t>(0, ::recv(fd, buf.data() + got, payload - got, 0)));
        if (!send_first) (void)!::send(fd, buf.data(), payload, 0);
    };
    const int total = warmup + iterations;
    return measure(
        "unix socket",
        [&] {
            for (int i = 0; i < total; ++i)
                xfer(sv[1], false);
        },
        [&] { xfer(sv[0], true); });
}

Result kbus_rtt(kbus::WaitMode mode, std::chrono::microseconds spin = 50us) {
    const int total = warmup + iterations;
    std::unique_ptr<kbus::Client> client;
    std::unique_ptr<kbus::Producer> producer;
    std::unique_ptr<kbus::Consumer> consumer;
    int ready[2];
    (void)!::pipe(ready);
    auto setup = [&](const char* in) {
        client = std::make_unique<kbus::Client>();
        producer = std::make_unique<kbus::Producer>(*client);
        consumer = std::make_unique<kbus::Consumer>(
            *client, kbus::ConsumerOptions{.wait = mode, .spin_before_sleep = spin});
        consumer->assign(in, 0, kbus::OffsetSpec::end());
    };
    auto one_way = [&](const char* out) {
        auto claim = producer->claim(out, nullptr, std::int32_t(payload));
        std::memset(claim.value().data(), 'p', std::min<std::size_t>(payload, 8));
        producer->commit(claim);
    };
    auto wait_one = [&] {
        for (;;)
            if (!consumer->poll(1s).empty()) return;
    };
    const char* name = mode == kbus::WaitMode::busy_poll ? "kbus busy-poll"
                       : spin.count() > 0                ? "kbus blocking"
                                                         : "kbus futex, no spin";
    bool parent_ready = false;
    return measure(
        name,
        [&] {
            setup("ping");
            char b = 1;
            (void)!::write(ready[1], &b, 1);
            for (int i = 0; i < total; ++i) {
                wait_one();
                one_way("pong");
            }
        },
        [&] {
            if (!parent_ready) {
                setup("pong");
                char b;
                (void)!::read(ready[0], &b, 1);
                parent_ready = true;
            }
            one_way("ping");
            wait_one();
        });
}

// One producer process -> one consumer process, 64-byte records, busy-poll consumer.
void throughput() {
    kbus::Client c;
    try {
        c.create_topic("throughput", 1, {{"ring.bytes", "16777216"}});
    } catch (const kbus::Error& e) {
        if (e.code() != kbus::ErrorCode::topic_exists) throw;
    }
    kbus::Consumer con(c, {.wait = kbus::WaitMode::busy_poll, .max_poll_records = 4096});
    con.assign("throughput", 0, kbus::OffsetSpec::end());
    const pid_t child = ::fork();
    if (child == 0) {
        pin(1);
        kbus::Client pc;
        kbus::Producer p(pc);
        char value[64] = {};
        kbus::SendOptions o;
        o.partition = 0;
        for (long i = 0; i < records; ++i)
            p.send("throughput", nullptr, kbus::BytesView(value, sizeof(value)), o);
        std::_Exit(0);
    }
    pin(0);
    long got = 0;
    auto t0 = Clock::now();
    bool started = false;
    while (got < records) {
        const auto& b = con.poll(1s);
        if (!started && !b.empty()) {
            started = true;
            t0 = Clock::now();
        }
        got += long(b.size());
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    ::waitpid(child, nullptr, 0);
    std::printf("throughput 1->1, 64 B: %.1f M records/s (%.0f MB/s of values)\n",
                double(records) / s / 1e6, double(records) * 64 / s / 1e6);
}

void print(const Result& r, const Result& base) {
    std::printf("%-20s p50 %8.0f ns  p99 %8.0f ns  p99.9 %8.0f ns  max %9.0f ns   p50/raw %.2fx\n",
                r.name.c_str(), r.pct(0.50), r.pct(0.99), r.pct(0.999), double(r.ns.back()),
                r.pct(0.50) / base.pct(0.50));
    std::fflush(stdout);
}

constexpr const char* usage =
    "usage: pingpong [--iterations N] [--payload BYTES] [--records N]\n"
    "  round trips of BYTES (default 64) between two processes on cores 0 and 1, N times\n"
    "  (default 200000) after a 10% warm-up: a raw shared-memory cache line, a Unix socket and\n"
    "  kbus in three wait modes; then a stream of N records (default 20000000) of 64 B.\n"
    "  Needs a running kbusd; makes topics ping, pong and throughput, and deletes them after.\n";

long flag_value(const std::string& flag, const char* text, long min) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min) {
        std::fprintf(stderr, "pingpong: %s takes a whole number >= %ld, not '%s'\n%s", flag.c_str(),
                     min, text, usage);
        std::exit(2);
    }
    return v;
}

void parse_flags(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc || (a != "--iterations" && a != "--payload" && a != "--records")) {
            std::fprintf(stderr, "pingpong: unknown or incomplete flag '%s'\n%s", a.c_str(), usage);
            std::exit(2);
        }
        const long v = flag_value(a, argv[++i], 1);
        if (a == "--iterations") iterations = int(std::min<long>(v, 100'000'000));
        if (a == "--payload") payload = std::size_t(std::min<long>(v, 1 << 20));
        if (a == "--records") records = v;
    }
}

}  // namespace

int main(int argc, char** argv) {
    parse_flags(argc, argv);
    warmup = std::max(1000, iterations / 10);
    kbus::Client c;
    auto cleanup = [&] {
        for (const char* t : {"ping", "pong", "throughput"}) {
            try {
                c.delete_topic(t);
            } catch (const kbus::Error&) {  // never made, or gone already
            }
        }
        std::printf("deleted topics ping, pong and throughput\n");
    };
    try {
        for (const char* t : {"ping", "pong"}) {
            try {
                c.create_topic(t, 1);
            } catch (const kbus::Error& e) {
                if (e.code() != kbus::ErrorCode::topic_exists) throw;
            }
        }
        std::printf("round trip, %zu-byte payload, %d samples after %d warm-up, cores 0 and 1\n",
                    payload, iterations, warmup);
        std::fflush(stdout);
        const Result raw = raw_cache_line();
        print(raw, raw);
        print(unix_socket(), raw);
        print(kbus_rtt(kbus::WaitMode::busy_poll), raw);
        print(kbus_rtt(kbus::WaitMode::blocking), raw);
        print(kbus_rtt(kbus::WaitMode::blocking, 0us), raw);
        throughput();
        cleanup();
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "pingpong: %s\n", e.what());
        cleanup();
        return 1;
    }
}
