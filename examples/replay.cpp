// Replays one partition from a point in time: the consumer seeks by timestamp (the log's time
// index), reads from the segments on disk while the records are behind the ring, and moves onto
// the ring when it catches up; it stops at the high watermark.
//
// usage: replay TOPIC [--partition N] [--from EPOCH_MS | --last SECONDS] [--count N]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <kbus/kbus.hpp>
#include <string>

using namespace std::chrono_literals;

namespace {

[[noreturn]] void usage() {
    std::fputs(
        "usage: replay TOPIC [--partition N] [--from EPOCH_MS | --last SECONDS] [--count N]\n",
        stderr);
    std::exit(2);
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') usage();
    const std::string topic = argv[1];
    std::int32_t partition = 0;
    std::int64_t from_ms = 0;  // the beginning
    long long count = -1;
    for (int i = 2; i < argc; ++i) {
        if (i + 1 >= argc) usage();
        const std::string flag = argv[i], value = argv[++i];
        if (flag == "--partition")
            partition = std::stoi(value);
        else if (flag == "--from")
            from_ms = std::stoll(value);
        else if (flag == "--last")
            from_ms = now_ms() - std::stoll(value) * 1000;
        else if (flag == "--count")
            count = std::stoll(value);
        else
            usage();
    }
    try {
        kbus::Client client;
        kbus::Consumer consumer(client);
        consumer.assign(topic, partition, kbus::OffsetSpec::at_timestamp(from_ms));
        const std::int64_t start = consumer.position(topic, partition);
        std::printf("replaying %s/%d from offset %lld (first record at or after %lld ms)\n",
                    topic.c_str(), partition, static_cast<long long>(start),
                    static_cast<long long>(from_ms));
        long long seen = 0, from_disk = 0;
        while ((count < 0 || seen < count) && !consumer.at_end()) {
            for (const kbus::Message& m : consumer.poll(100ms)) {
                std::printf("%lld\t%lld\t%.*s\t%zu bytes\n", static_cast<long long>(m.offset()),
                            static_cast<long long>(m.timestamp()), int(m.key().size()),
                            m.key().str().data(), m.value().size());
                from_disk += m.from_ring() ? 0 : 1;
                if (++seen == count) break;
            }
        }
        std::printf("replayed %lld records (%lld from disk, %lld from the ring)\n", seen, from_disk,
                    seen - from_disk);
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "replay: %s\n", e.what());
        return 1;
    }
    return 0;
}
