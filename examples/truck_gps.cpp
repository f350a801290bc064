// The Kafka story: 50 trucks send GPS positions keyed by truck id into a 10-partition topic.
// A location dashboard and a notification service, two separate processes, each see every record.
// The topic is deleted at the end unless it was there before (or --keep is given).
//   usage: truck_gps [--keep]   (needs a running kbusd; KBUS_BUS and KBUS_RUN_DIR pick the bus)
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <kbus/kbus.hpp>
#include <set>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {
constexpr int trucks = 50;
constexpr int positions_per_truck = 200;
constexpr int total = trucks * positions_per_truck;

int run_consumer(const char* role, int ready_fd) {
    kbus::Client client;
    kbus::Consumer consumer(client, {.wait = kbus::WaitMode::blocking});
    consumer.subscribe("truck_gps", kbus::OffsetSpec::end());
    std::printf("%s: listening on all 10 partitions\n", role);
    std::fflush(stdout);
    char b = 1;
    (void)!::write(ready_fd, &b, 1);
    int seen = 0;
    std::set<std::string> trucks_seen;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (seen < total && std::chrono::steady_clock::now() < deadline) {
        for (const kbus::Message& m : consumer.poll(100ms)) {
            ++seen;
            trucks_seen.insert(std::string(m.key().str()));
            if (seen % 2500 == 0)
                std::printf("%s: %d positions, last %.*s at %.*s (partition %d, offset %ld)\n",
                            role, seen, int(m.key().size()), m.key().str().data(),
                            int(m.value().size()), m.value().str().data(), m.partition(),
                            long(m.offset()));
        }
    }
    std::printf("%s: saw %d of %d positions from %zu trucks\n", role, seen, total,
                trucks_seen.size());
    return seen == total ? 0 : 1;
}
}  // namespace

constexpr const char* usage =
    "usage: truck_gps [--keep]\n"
    "  50 trucks send 200 GPS positions each to topic truck_gps (10 partitions, keyed by truck);\n"
    "  two consumer processes, a dashboard and a notification service, each read all of them.\n"
    "  The topic is deleted at the end unless it was there before, or --keep is given.\n";

int main(int argc, char** argv) {
    const std::string flag = argc > 1 ? argv[1] : "";
    if (flag == "--help" || flag == "-h") {
        std::fputs(usage, stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && flag != "--keep" && flag != "--probe")) {
        std::fprintf(stderr, "truck_gps: unknown argument '%s'\n%s", argv[argc - 1], usage);
        return 2;
    }
    try {
        kbus::Client client;
        if (flag == "--probe") return 0;  // is the daemon up? (scripts/demo.sh)
        bool created = true;
        try {
            client.create_topic("truck_gps", 10);
        } catch (const kbus::Error& e) {
            if (e.code() != kbus::ErrorCode::topic_exists) throw;
            created = false;
        }
        std::printf(
            "truck_gps: %d trucks, %d positions each, to topic truck_gps (10 partitions); "
            "two consumers read them all\n",
            trucks, positions_per_truck);
        int ready[2];
        if (::pipe(ready) != 0) return 1;
        pid_t consumers[2];
        const char* roles[2] = {"location-dashboard", "notification-service"};
        for (int i = 0; i < 2; ++i) {
            consumers[i] = ::fork();
            if (consumers[i] == 0) {
                ::close(ready[0]);
                // The consumer attaches at the end, then tells the producer it is ready.
                const int rc = run_consumer(roles[i], ready[1]);
                std::fflush(stdout);
                std::_Exit(rc);
            }
        }
        ::close(ready[1]);
        char b;
        for (int i = 0; i < 2; ++i)
            (void)!::read(ready[0], &b, 1);
        kbus::Producer producer(client);
        for (int n = 0; n < positions_per_truck; ++n)
            for (int t = 0; t < trucks; ++t) {
                const std::string key = "truck-" + std::to_string(t);
                const std::string pos = std::to_string(52.0 + t * 0.01 + n * 0.0001) + "," +
                                        std::to_string(13.0 + t * 0.01);
                producer.send("truck_gps", key, pos);
            }
        std::printf("trucks: sent %d positions from %d trucks\n", total, trucks);
        int failures = 0;
        for (pid_t pid : consumers) {
            int status = 0;
            ::waitpid(pid, &status, 0);
            failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        if (created && flag != "--keep") {
            client.delete_topic("truck_gps");
            std::printf("trucks: deleted topic truck_gps (--keep keeps it)\n");
        } else {
            std::printf("trucks: topic truck_gps stays on the bus (kbus topic delete truck_gps)\n");
        }
        return failures == 0 ? 0 : 1;
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "truck_gps: %s\n", e.what());
        return 1;
    }
}
