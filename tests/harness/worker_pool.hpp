// The fault harness's children: a fixed cast of workers (harness/workers.hpp) in forked
// processes, each with its own history file and stderr log, that the nemesis kills, stops and
// replaces. Whatever happens to the test, the pool's end kills and reaps every child it started.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "harness/state_workers.hpp"
#include "harness/workers.hpp"

namespace kbus::harness {

enum class Role { shm_producer, kafka_producer, consumer, member, transactional, compacting };

inline const char* role_letter(Role r) {
    switch (r) {
        case Role::shm_producer:
            return "s";
        case Role::kafka_producer:
            return "k";
        case Role::consumer:
            return "c";
        case Role::member:
            return "g";
        case Role::transactional:
            return "x";
        case Role::compacting:
            return "w";
    }
    return "?";
}

struct Worker {
    Role role;
    pid_t pid = -1;
    std::string writer;
};

class WorkerPool {
  public:
    // `base` is every worker's environment but for its writer, seed and history; `kafka` is the
    // path of kbus_harness_kafka_producer and `broker` kbusd's listener.
    WorkerPool(WorkerEnv base, std::string dir, std::string kafka, std::string broker)
        : base_(std::move(base)),
          dir_(std::move(dir)),
          kafka_(std::move(kafka)),
          broker_(std::move(broker)) {}
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    ~WorkerPool() {
        for (Worker& w : workers_)
            reap(w, SIGKILL);
    }

    void start(Role role) { workers_.push_back(launch(role)); }
    [[nodiscard]] std::vector<Worker>& workers() noexcept { return workers_; }

    // SIGKILLs the worker and starts a new one in its place (a new writer, a new history).
    void replace(Worker& w) {
        reap(w, SIGKILL);
        w = launch(w.role);
    }

    // A producer that dies in its claim: the child claims, tells on `ready`, waits to be killed.
    [[nodiscard]] pid_t launch_victim(int ready, std::string& writer) {
        WorkerEnv env = next_env("v", writer);
        return fork_child(writer, [env, ready] { return claim_victim(env, ready); });
    }

    // Ends every worker as a run ends: the stop flag, SIGTERM for the Kafka producer, SIGCONT for
    // any still stopped; returns the workers that had not exited within `patience` (then killed).
    std::vector<std::string> finish(std::chrono::seconds patience) {
        for (Worker& w : workers_) {
            if (w.role == Role::kafka_producer) ::kill(w.pid, SIGTERM);
            ::kill(w.pid, SIGCONT);
        }
        std::vector<std::string> hung;
        const auto deadline = std::chrono::steady_clock::now() + patience;
        for (Worker& w : workers_) {
            int status = 0;
            while (::waitpid(w.pid, &status, WNOHANG) == 0) {
                if (std::chrono::steady_clock::now() > deadline) {
                    hung.push_back(w.writer);
                    ::kill(w.pid, SIGKILL);
                    ::waitpid(w.pid, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(20ms);
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                failed_.push_back(w.writer + " exited with " + std::to_string(WEXITSTATUS(status)));
            w.pid = -1;
        }
        return hung;
    }
    // The readers (consumer, members) whose history did not grow over `window` while producers
    // kept sending: a reader stuck for good (waiting in a ring for an offset that never comes,
    // say) shows here, where the check of what it saw cannot tell.
    std::vector<std::string> stalled_readers(std::chrono::seconds window) const {
        std::map<std::string, std::uintmax_t> before;
        for (const Worker& w : workers_)
            if (w.role == Role::consumer || w.role == Role::member)
                before[w.writer] = history_size(w.writer);
        std::this_thread::sleep_for(window);
        std::vector<std::string> stalled;
        for (const auto& [writer, size] : before)
            if (history_size(writer) == size) stalled.push_back(writer);
        return stalled;
    }

    // Workers that died on their own (an exception, a crash) rather than by the nemesis.
    [[nodiscard]] const std::vector<std::string>& failed() const noexcept { return failed_; }

    // Notes workers that died without being told to (then starts replacements).
    void check_alive() {
        for (Worker& w : workers_) {
            int status = 0;
            if (::waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
            failed_.push_back(w.writer + " died on its own (status " + std::to_string(status) +
                              ")");
            w.pid = -1;
            w = launch(w.role);
        }
    }

  private:
    [[nodiscard]] std::uintmax_t history_size(const std::string& writer) const {
        std::error_code ec;
        const std::uintmax_t size = std::filesystem::file_size(dir_ + "/history/" + writer, ec);
        return ec ? 0 : size;
    }
    WorkerEnv next_env(const char* letter, std::string& writer) {
        writer = letter + std::to_string(++count_);
        WorkerEnv env = base_;
        env.writer = writer;
        env.seed = base_.seed * 1000003 + count_;
        env.history_path = dir_ + "/history/" + writer;
        return env;
    }
    Worker launch(Role role) {
        Worker w{role, -1, ""};
        WorkerEnv env = next_env(role_letter(role), w.writer);
        switch (role) {
            case Role::shm_producer:
                w.pid = fork_child(w.writer, [env] { return shm_producer(env); });
                break;
            case Role::kafka_producer:
                w.pid = exec_kafka(env);
                break;
            case Role::consumer:
                w.pid = fork_child(w.writer, [env] { return plain_consumer(env); });
                break;
            case Role::member:
                w.pid = fork_child(w.writer, [env] { return group_member(env); });
                break;
            case Role::transactional:
                w.pid = fork_child(w.writer, [env] {
                    WorkerEnv slower = env;
                    slower.rate = 20;  // transactions a second
                    return transactional_producer(slower);
                });
                break;
            case Role::compacting:
                w.pid = fork_child(w.writer, [env] { return compacting_writer(env); });
                break;
        }
        return w;
    }
    void redirect_stderr(const std::string& writer) const {
        const int fd =
            ::open((dir_ + "/logs/" + writer).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) ::dup2(fd, 2);
    }
    pid_t fork_child(const std::string& writer, const std::function<int()>& body) const {
        const pid_t pid = ::fork();
        if (pid != 0) return pid;
        redirect_stderr(writer);
        int rc = 100;
        try {
            rc = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", writer.c_str(), e.what());
        }
        ::_exit(rc);
    }
    pid_t exec_kafka(const WorkerEnv& env) const {
        const pid_t pid = ::fork();
        if (pid != 0) return pid;
        redirect_stderr(env.writer);
        const std::string seed = std::to_string(env.seed), rate = std::to_string(env.rate);
        ::execl(kafka_.c_str(), kafka_.c_str(), broker_.c_str(), env.topic.c_str(),
                env.history_path.c_str(), env.writer.c_str(), seed.c_str(), rate.c_str(), nullptr);
        ::_exit(127);
    }
    static void reap(Worker& w, int signal) {
        if (w.pid <= 0) return;
        ::kill(w.pid, signal);
        ::kill(w.pid, SIGCONT);
        ::waitpid(w.pid, nullptr, 0);
        w.pid = -1;
    }

    WorkerEnv base_;
    std::string dir_, kafka_, broker_;
    std::vector<Worker> workers_;
    std::vector<std::string> failed_;
    int count_ = 0;
};

}  // namespace kbus::harness
