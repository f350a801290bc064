// A producer and a consumer: sends four records to topic "hello" (made if missing), one
// copied, one built in place in the ring (zero copy) and a run of two in one claim, then reads
// the topic from the beginning. Needs a running kbusd; KBUS_BUS and KBUS_RUN_DIR pick the bus.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <kbus/kbus.hpp>
#include <new>
#include <vector>

struct Position {  // a fixed-size value, written straight into the ring
    double lat, lon;
};

int main(int argc, char** argv) {
    if (argc > 1) {
        std::puts("usage: hello   (sends 4 records to topic 'hello', reads it back)");
        return std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    try {
        kbus::Client client;  // KBUS_BUS / KBUS_RUN_DIR, or the defaults
        try {
            client.create_topic("hello", 1);
        } catch (const kbus::Error& e) {  // a second run finds it there
            if (e.code() != kbus::ErrorCode::topic_exists) throw;
        }
        kbus::Producer producer(client);
        producer.send("hello", "truck-17", "52.52,13.40");

        auto claim = producer.claim("hello", "truck-17", sizeof(Position));  // zero copy
        new (claim.value().data()) Position{52.52, 13.40};
        producer.commit(claim);

        std::vector<kbus::BatchRecord> run{{"truck-17", "52.53,13.41"},
                                           {"truck-17", "52.54,13.42"}};
        producer.send_batch("hello", run);  // one claim, consecutive offsets

        kbus::Consumer consumer(client);
        consumer.subscribe("hello", kbus::OffsetSpec::beginning());
        while (!consumer.at_end()) {
            for (const kbus::Message& m : consumer.poll(std::chrono::milliseconds(100))) {
                if (m.value().size() == sizeof(Position)) {
                    Position p;
                    std::memcpy(&p, m.value().data(), sizeof p);
                    std::printf("offset %ld: %.2f,%.2f (in place)\n", long(m.offset()), p.lat,
                                p.lon);
                } else {
                    std::printf("offset %ld: %.*s\n", long(m.offset()), int(m.value().size()),
                                m.value().str().data());
                }
            }
        }
        std::puts("topic 'hello' stays on the bus: kbus topic delete hello removes it");
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "hello: %s\n", e.what());
        return 1;
    }
}
