// A member of consumer group "dashboard" on topic "hello": joins, reads what the group has not
// committed yet, commits it, and leaves once it has been idle for a second. Run two at once and
// the group splits the partitions between them. KBUS_BUS and KBUS_RUN_DIR pick the bus.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <kbus/kbus.hpp>
#include <vector>

// Told when the group hands partitions over: commit before giving them up.
class Rebalances : public kbus::RebalanceListener {
  public:
    void on_partitions_assigned(kbus::Consumer&,
                                const std::vector<kbus::group::TopicPartition>& parts) override {
        std::printf("assigned %zu partitions\n", parts.size());
    }
    void on_partitions_revoked(kbus::Consumer& consumer,
                               const std::vector<kbus::group::TopicPartition>&) override {
        consumer.commit_sync();
    }
};

int main(int argc, char** argv) {
    if (argc > 1) {
        std::puts("usage: group_member   (reads topic 'hello' as a member of group 'dashboard')");
        return std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    try {
        kbus::Client client;
        Rebalances rebalances;
        kbus::ConsumerOptions options;
        options.group_id = "dashboard";      // group.id
        options.enable_auto_commit = false;  // enable.auto.commit
        options.auto_offset_reset = kbus::OffsetReset::earliest;
        options.rebalance_listener = &rebalances;
        kbus::Consumer consumer(client, options);
        consumer.subscribe("hello");
        long read = 0;
        for (auto idle_since = std::chrono::steady_clock::now();
             std::chrono::steady_clock::now() - idle_since < std::chrono::seconds(1);) {
            const kbus::Batch& batch = consumer.poll(std::chrono::milliseconds(100));
            for (const kbus::Message& m : batch)
                std::printf("%d/%ld %.*s\n", m.partition(), long(m.offset()), int(m.key().size()),
                            m.key().str().data());
            if (!batch.empty() || !consumer.in_group())  // still joining, or busy
                idle_since = std::chrono::steady_clock::now();
            if (batch.empty()) continue;
            read += long(batch.size());
            consumer.commit_sync();  // or commit_async()
        }
        std::printf(
            "read %ld records; group 'dashboard' keeps its offsets (kbus group delete "
            "dashboard removes them)\n",
            read);
    } catch (const kbus::Error& e) {
        std::fprintf(stderr, "group_member: %s\n", e.what());
        return 1;
    }
}
