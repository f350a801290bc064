// Transactions: a transactional producer commits one invoice and its ledger entry together,
// then aborts a second pair; a read_committed consumer reads both topics and sees the first pair
// only. Needs a running kbusd; KBUS_BUS and KBUS_RUN_DIR pick the bus.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <kbus/kbus.hpp>

int main(int argc, char** argv) {
    if (argc > 1) {
        std::puts("usage: transactions   (commits a transaction, aborts one, reads committed)");
        return std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    try {
        kbus::Client client;  // KBUS_BUS / KBUS_RUN_DIR, or the defaults
        for (const char* topic : {"invoices", "ledger"})
            try {
                client.create_topic(topic, 1);
            } catch (const kbus::Error& e) {  // a second run finds them there
                if (e.code() != kbus::ErrorCode::topic_exists) throw;
            }
        kbus::Producer producer(client, {.transactional_id = "billing"});
        producer.begin_transaction();
        producer.send("invoices", "customer-7", "invoice 1001: 40.00");
        producer.send("ledger", "customer-7", "debit 40.00 (invoice 1001)");
        producer.commit_transaction();  // both, or neither

        producer.begin_transaction();
        producer.send("invoices", "customer-7", "invoice 1002: 15.00");
        producer.send("ledger", "customer-7", "debit 15.00 (invoice 1002)");
        producer.abort_transaction();  // no read_committed consumer sees these

        kbus::Consumer consumer(client, {.isolation_level = kbus::IsolationLevel::read_committed});
        consumer.subscribe("invoices", kbus::OffsetSpec::beginning());
        consumer.subscribe("ledger", kbus::OffsetSpec::beginning());
        while (!consumer.at_end())
            for (const kbus::Message& m : consumer.poll(std::chrono::milliseconds(100)))
                std::printf("%s offset %ld: %.*s\n", m.topic().c_str(), long(m.offset()),
                            int(m.value().size()), m.value().str().data());
        return 0;
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "transactions: %s\n", e.what());
        return 1;
    }
}
