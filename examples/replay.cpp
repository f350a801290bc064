// Replays one partition from a point in time: the consumer seeks by timestamp (the log's time
// index), reads from the segments on disk while the records are behind the ring, and moves onto
// the ring when it catches up; it stops at the high watermark.
//
// usage: replay TOPIC [--partition N] [--from EPOCH_MS | --last SECONDS] [--count N]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <kbus/kbus.hpp>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

constexpr const char* usage_text =
    "usage: replay TOPIC [--partition N] [--from EPOCH_MS | --last SECONDS] [--count N]\n"
    "  replays one partition of TOPIC from a point in time (default: the beginning) to its\n"
    "  end, one line a record: offset, timestamp, key, value size\n";

[[noreturn]] void usage(const std::string& why = "") {
    if (!why.empty()) std::fprintf(stderr, "replay: %s\n", why.c_str());
    std::fputs(usage_text, stderr);
    std::exit(2);
}

std::int64_t number(const std::string& flag, const std::string& text) {
    std::size_t used = 0;
    long long v = -1;
    try {
        v = std::stoll(text, &used);
    } catch (const std::logic_error&) {
    }
    if (used != text.size() || v < 0) usage(flag + " takes a whole number, not '" + text + "'");
    return v;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::fputs(usage_text, stdout);
            return 0;
        }
    if (argc < 2 || argv[1][0] == '-') usage("which topic?");
    const std::string topic = argv[1];
    std::int32_t partition = 0;
    std::int64_t from_ms = 0;  // the beginning
    long long count = -1;
    for (int i = 2; i < argc; ++i) {
        if (i + 1 >= argc) usage(std::string(argv[i]) + " needs a value");
        const std::string flag = argv[i], value = argv[++i];
        if (flag == "--partition")
            partition = std::int32_t(number(flag, value));
        else if (flag == "--from")
            from_ms = number(flag, value);
        else if (flag == "--last")
            from_ms = now_ms() - number(flag, value) * 1000;
        else if (flag == "--count")
            count = number(flag, value);
        else
            usage("unknown flag '" + flag + "'");
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
