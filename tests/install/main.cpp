// A user's program against the installed client: produces N records to a topic it creates and
// reads them back. Prints "ok N" on success; the test checks it.
#include <cstdio>
#include <kbus/kbus.hpp>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: kbus_user BUS RUN_DIR TOPIC\n");
        return 2;
    }
    kbus::ClientOptions options;
    options.bus = argv[1];
    options.run_dir = argv[2];
    kbus::Client client(options);
    client.create_topic(argv[3], 1);
    kbus::Producer producer(client);
    constexpr int count = 1000;
    for (int i = 0; i < count; ++i)
        producer.send(argv[3], "key", "value-" + std::to_string(i));
    kbus::Consumer consumer(client);
    consumer.assign(argv[3], 0, kbus::OffsetSpec::beginning());
    int seen = 0;
    for (int idle = 0; seen < count && idle < 100;) {
        const auto& batch = consumer.poll(std::chrono::milliseconds(20));
        idle = batch.empty() ? idle + 1 : 0;
        for (const auto& m : batch) {
            if (m.value().str() != "value-" + std::to_string(seen)) {
                std::fprintf(stderr, "record %d: %s\n", seen, std::string(m.value().str()).c_str());
                return 1;
            }
            ++seen;
        }
    }
    std::printf("ok %d\n", seen);
    return seen == count ? 0 : 1;
}
