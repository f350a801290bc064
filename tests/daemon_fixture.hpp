// Starts a kbusd of its own for one test: a unique bus name, run dir and data dir, stopped with
// SIGTERM when the fixture goes away, and its shared memory removed (a clean stop leaves it in
// place while some process still maps it, and a SIGKILL always does).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "die_with_parent.hpp"
#include "kbus/kbus.hpp"

// Sends `signal` to a child the test started and reaps it; returns its wait status (0 if there
// was none) and forgets the pid.
inline int end_child(pid_t& pid, int signal) {
    int status = 0;
    if (pid > 0) {
        ::kill(pid, signal);
        ::waitpid(pid, &status, 0);
    }
    pid = -1;
    return status;
}

struct DaemonFixture {
    std::string bus;
    std::string dir;
    pid_t pid = -1;

    std::vector<std::string> extra_args;  // e.g. {"--override", "kbus.spill.enable=false"}
    int pin_cpu = -1;  // benchmarks pin the daemon (all its threads) away from the client

    std::string kbusd_path = KBUSD_PATH;

    explicit DaemonFixture(const std::string& name, std::vector<std::string> extra = {},
                           int cpu = -1, std::string kbusd = KBUSD_PATH)
        : extra_args(std::move(extra)), pin_cpu(cpu), kbusd_path(std::move(kbusd)) {
        bus = "t" + std::to_string(::getpid()) + "-" + name;
        dir = dir_for(bus);
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        pid = start();
        wait_ready();
    }
    pid_t start() const {
        const pid_t parent = ::getpid();
        const pid_t p = ::fork();
        if (p == 0) {
            // A test or benchmark killed outright (SIGKILL, a CI time-out) takes its kbusd with
            // it: SIGTERM, so that it removes its shared memory as on a clean stop.
            kbus::testing::die_with_parent(SIGTERM, parent);
            // Set before exec, so every thread the daemon starts inherits it.
            if (pin_cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(pin_cpu, &set);
                ::sched_setaffinity(0, sizeof set, &set);
            }
            // The daemon's log goes to a file the test can read (and dumps on a failed REQUIRE).
            const int log =
                ::open((dir + "/kbusd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (log >= 0) ::dup2(log, 2);
            const std::string run = dir + "/run", data = dir + "/data";
            std::vector<std::string> args = wrapper_args();
            args.insert(args.end(),
                        {kbusd_path, "--bus", bus, "--run-dir", run, "--data-dir", data});
            args.insert(args.end(), extra_args.begin(), extra_args.end());
            std::vector<const char*> argv;
            for (const std::string& a : args)
                argv.push_back(a.c_str());
            argv.push_back(nullptr);
            ::execvp(argv[0], const_cast<char* const*>(argv.data()));
            ::_exit(127);
        }
        return p;
    }
    // KBUS_TEST_DAEMON_UNDER=valgrind runs kbusd under valgrind's memcheck (each start logs to
    // its own file in the test's dir); the fixture fails the test on any error it reports.
    [[nodiscard]] static bool under_valgrind() {
        const char* v = std::getenv("KBUS_TEST_DAEMON_UNDER");
        return v && std::string(v) == "valgrind";
    }
    [[nodiscard]] std::vector<std::string> wrapper_args() const {
        if (!under_valgrind()) return {};
        return {"valgrind",
                "--tool=memcheck",
                "--error-exitcode=99",
                "--track-fds=no",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--log-file=" + dir + "/valgrind.%p.log"};
    }
    // Every memcheck report of this fixture's daemons with errors in it (empty: clean).
    [[nodiscard]] std::string valgrind_errors() const {
        std::string found;
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            const std::string name = e.path().filename().string();
            if (name.rfind("valgrind.", 0) != 0) continue;
            std::ifstream in(e.path());
            std::stringstream s;
            s << in.rdbuf();
            const std::string log = s.str();
            if (log.find("ERROR SUMMARY: 0 errors") == std::string::npos &&
                log.find("ERROR SUMMARY:") != std::string::npos)
                found += log;
        }
        return found;
    }
    void wait_ready() const {
        // Under valgrind the daemon starts tens of times slower.
        for (int i = 0; i < (under_valgrind() ? 6000 : 500); ++i) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid)
                throw std::runtime_error("kbusd exited at start (status " + std::to_string(status) +
                                         "); its log:\n" + log_text());
            try {
                kbus::Client c(options());
                return;
            } catch (const kbus::Error&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        throw std::runtime_error("kbusd did not start");
    }
    // SIGKILL: the daemon dies at once, leaving its shared memory (as a crash would).
    void kill_hard() { (void)end_child(pid, SIGKILL); }
    // SIGTERM: a clean shutdown (drains to disk, removes shared memory). Returns the wait status.
    int stop() { return end_child(pid, SIGTERM); }
    void restart() {
        pid = start();
        wait_ready();
    }
    [[nodiscard]] std::string data_dir() const { return dir + "/data"; }
    [[nodiscard]] std::string log_text() const {
        std::ifstream in(dir + "/kbusd.log");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    // The rest of the first log line with `marker` in it, once the daemon has written it (a
    // port it chose, say); empty if it does not within two seconds.
    [[nodiscard]] std::string logged_after(const std::string& marker) const {
        for (int i = 0; i < 200; ++i) {
            const std::string log = log_text();
            if (const auto at = log.find(marker); at != std::string::npos) {
                const auto start = at + marker.size();
                return log.substr(start, log.find('\n', start) - start);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return "";
    }
    // host:port of the Kafka listener (started with listeners=PLAINTEXT://127.0.0.1:0).
    [[nodiscard]] std::string kafka_broker() const { return logged_after("Kafka listener on "); }
    [[nodiscard]] kbus::ClientOptions options() const {
        kbus::ClientOptions o;
        o.bus = bus;
        o.run_dir = dir + "/run";
        return o;
    }
    // The bus's shared-memory directories (/dev/shm/kbus.<uid>.<bus>.XXXXXX).
    [[nodiscard]] std::vector<std::string> shared_memory_dirs() const {
        return shared_memory_dirs_of(bus);
    }
    [[nodiscard]] static std::vector<std::string> shared_memory_dirs_of(const std::string& bus) {
        std::vector<std::string> found;
        const std::string prefix = "kbus." + std::to_string(::geteuid()) + "." + bus + ".";
        for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
            if (e.path().filename().string().rfind(prefix, 0) == 0)
                found.push_back(e.path().string());
        return found;
    }
    // The scratch directory (run dir, data dir, kbusd's log) of the fixture of `bus`.
    [[nodiscard]] static std::string dir_for(const std::string& bus) {
        return (std::filesystem::temp_directory_path() / ("kbus-test-" + bus)).string();
    }
    ~DaemonFixture() {
        if (std::uncaught_exceptions() > 0)
            std::fprintf(stderr, "--- kbusd log of %s ---\n%s", bus.c_str(), log_text().c_str());
        (void)end_child(pid, SIGTERM);
        for (const std::string& d : shared_memory_dirs())
            std::filesystem::remove_all(d);
        if (under_valgrind()) {
            if (const std::string errors = valgrind_errors(); !errors.empty()) {
                std::fprintf(stderr, "--- memcheck found errors in kbusd ---\n%s", errors.c_str());
                std::_Exit(99);  // fail the test, whatever it asserted
            }
        }
        std::filesystem::remove_all(dir);
    }
};
