// kbus topic create | alter | list | describe | delete | delete-records.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <kbus/kbus.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "commands.hpp"

namespace kbus::cli {
namespace {

using Settings = std::map<std::string, std::string>;

// Runs `request` (creating or growing a topic: thousands of partitions take seconds); on a
// terminal a line on stderr says what kbusd is doing and for how long, redrawn 4 times a second
// and cleared at the end. kbusd's answer is waited for, however long it takes.
template <class Request>
void with_progress_line(const std::string& what, Request&& request) {
    if (::isatty(STDERR_FILENO) == 0) return request();
    std::mutex m;
    std::condition_variable done_cv;
    bool done = false;
    std::thread line([&] {
        const auto start = std::chrono::steady_clock::now();
        std::unique_lock lock(m);
        while (!done_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return done; })) {
            const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
            std::fprintf(stderr, "\r%s ... %.1f s", what.c_str(), took.count());
            std::fflush(stderr);
        }
        std::fputs("\r\033[K", stderr);
    });
    const auto finish = [&] {
        {
            std::lock_guard lock(m);
            done = true;
        }
        done_cv.notify_one();
        line.join();
    };
    try {
        request();
    } catch (...) {
        finish();
        throw;
    }
    finish();
}

std::string partitions_text(int n) {
    return std::to_string(n) + (n == 1 ? " partition" : " partitions");
}

// --partitions and --config k=v flags after the topic's name.
Settings topic_flags(Args& a, int& partitions) {
    Settings config;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--partitions") {
            partitions = int(a.number(f, 1, 10000));
        } else if (f == "--config") {
            const std::string kv = a.next("k=v after --config");
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                a.error("--config takes key=value, got '" + kv + "'");
            config[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else {
            a.unknown_flag(f);
        }
    }
    return config;
}

void describe(Client& c, const std::string& name) {
    const auto d = c.describe_topic(name);
    std::printf("topic %s  partitions %d  ring.bytes %llu  max.message.bytes %u\n",
                d.metadata.name.c_str(), d.metadata.partitions,
                (unsigned long long)d.metadata.ring_bytes, d.metadata.max_message_bytes);
    for (const auto& [k, v] : d.metadata.config)
        std::printf("  config %s=%s\n", k.c_str(), v.c_str());
    const bool compacted =
        std::any_of(d.metadata.config.begin(), d.metadata.config.end(), [](const auto& kv) {
            return kv.first == "cleanup.policy" && kv.second.find("compact") != std::string::npos;
        });
    std::printf("%9s %16s %16s %12s %10s %8s%s\n", "partition", "log-start", "high-watermark",
                "ring-bytes", "ring-fill", "readers", compacted ? "  dirty-ratio" : "");
    for (const auto& p : d.partitions) {
        std::printf("%9d %16lld %16lld %12llu %9.1f%% %8u", p.partition,
                    (long long)p.log_start_offset, (long long)p.high_watermark,
                    (unsigned long long)p.ring_bytes,
                    100.0 * double(p.ring_fill_bytes) / double(p.ring_bytes), p.attached_readers);
        if (compacted)  // dirty bytes of the closed segments, as min.cleanable.dirty.ratio counts
            std::printf(" %12.2f", p.cleanable_bytes == 0
                                       ? 0.0
                                       : double(p.dirty_bytes) / double(p.cleanable_bytes));
        std::printf("\n");
    }
}

void no_more(Args& a) {
    if (a.more()) a.error("unexpected argument '" + a.peek() + "'");
}

void alter(Client& c, Args& a, const std::string& name) {
    int partitions = 0;  // unchanged
    const Settings config = topic_flags(a, partitions);
    if (config.empty() && partitions == 0)
        a.error("alter needs --partitions N or at least one --config k=v");
    if (!config.empty()) c.alter_topic(name, config);
    if (partitions != 0)
        with_progress_line("growing topic " + name + " to " + partitions_text(partitions),
                           [&] { c.add_partitions(name, partitions); });
    std::printf("altered topic %s", name.c_str());
    if (partitions != 0) std::printf(" (now %d partitions)", partitions);
    std::printf("\n");
}

// kbus topic delete-records NAME --before OFFSET|end [--partition P]: Kafka's DeleteRecords.
void delete_records(Client& c, Args& a, const std::string& name) {
    std::optional<std::int64_t> before;
    std::optional<std::int32_t> partition;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--before") {
            if (a.more() && a.peek() == "end") {
                (void)a.next("end");
                before = -1;
            } else {
                before = a.number(f, 0, INT64_MAX);
            }
        } else if (f == "--partition") {
            partition = std::int32_t(a.number(f, 0, 9999));
        } else {
            a.unknown_flag(f);
        }
    }
    if (!before) a.error("delete-records needs --before OFFSET (or --before end)");
    const std::int32_t count = c.describe_topic(name).metadata.partitions;
    if (partition && *partition >= count)
        a.error("topic " + name + " has " + std::to_string(count) + " partitions");
    for (std::int32_t p = partition.value_or(0); p < (partition ? *partition + 1 : count); ++p)
        std::printf("%s-%d: log start now %lld\n", name.c_str(), p,
                    (long long)c.delete_records(name, p, *before));
}

}  // namespace

int topic_command(Client& c, Args& a) {
    const std::string sub =
        a.next("topic subcommand (create, alter, list, describe, delete, delete-records)");
    a.set_help("kbus topic " + sub);
    if (sub == "list") {
        no_more(a);
        for (const auto& n : c.list_topics())
            std::printf("%s\n", n.c_str());
    } else if (sub == "create") {
        const std::string name = a.next("topic name");
        int partitions = 1;
        const Settings config = topic_flags(a, partitions);
        with_progress_line("creating topic " + name + " with " + partitions_text(partitions),
                           [&] { c.create_topic(name, partitions, config); });
        std::printf("created topic %s with %s\n", name.c_str(),
                    partitions_text(partitions).c_str());
    } else if (sub == "alter") {
        alter(c, a, a.next("topic name"));
    } else if (sub == "delete-records") {
        delete_records(c, a, a.next("topic name"));
    } else if (sub == "describe" || sub == "delete") {
        const std::string name = a.next("topic name");
        no_more(a);
        if (sub == "describe") {
            describe(c, name);
        } else {
            c.delete_topic(name);
            std::printf("deleted topic %s\n", name.c_str());
        }
    } else {
        a.set_help("kbus topic");
        a.error("unknown topic subcommand '" + sub + "'");
    }
    return 0;
}

}  // namespace kbus::cli
