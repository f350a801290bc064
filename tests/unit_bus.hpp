// A Bus for one unit test, without a kbusd process: a data dir of its own (TempDir), a
// shared-memory prefix of its own (per process and test, so parallel runs never share a ring),
// small rings, and a log sink that keeps its lines. Every ring the test made is removed from
// /dev/shm when it ends, also when it fails.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "config/broker_config.hpp"
#include "kbus/error.hpp"
#include "kbus/ring_writer.hpp"
#include "temp_dir.hpp"

namespace kbus::testing {

// A shared-memory directory of this test process alone (as the daemon's SharedMemoryDirectory):
// `prefix` is its path, and a topic's rings are the files `prefix`/t<id>.<partition>.
struct ShmPrefix {
    std::string prefix;
    explicit ShmPrefix(const std::string& name)
        : prefix("/dev/shm/kbus-unit-" + std::to_string(::getpid()) + "-" + name) {
        std::filesystem::remove_all(prefix);
        std::filesystem::create_directory(prefix);
        std::filesystem::permissions(prefix, std::filesystem::perms::owner_all);
    }
    ~ShmPrefix() {
        std::error_code ec;
        std::filesystem::remove_all(prefix, ec);
    }
    ShmPrefix(const ShmPrefix&) = delete;
    ShmPrefix& operator=(const ShmPrefix&) = delete;

    // The paths of the files now in the directory.
    [[nodiscard]] std::vector<std::string> objects() const {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(prefix, ec))
            out.push_back(e.path().string());
        return out;
    }
    void remove_all() const {
        for (const std::string& path : objects())
            SharedMapping::remove(path);
    }
};

// Log lines kept in memory; safe from any thread.
struct LogLines {
    mutable std::mutex mutex;
    std::vector<std::string> lines;

    [[nodiscard]] logging::LogSink sink() {
        return [this](const std::string& level, const std::string& message) {
            std::lock_guard lock(mutex);
            lines.push_back(level + " " + message);
        };
    }
    // Lines at `level` that contain `part`.
    [[nodiscard]] std::size_t count(const std::string& level, const std::string& part) const {
        std::lock_guard lock(mutex);
        std::size_t n = 0;
        for (const std::string& l : lines)
            if (l.rfind(level + " ", 0) == 0 && l.find(part) != std::string::npos) ++n;
        return n;
    }
};

// The code of the kbus::Error that f throws (ok if none).
template <class F>
ErrorCode code_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return ErrorCode::ok;
}

// A broker whose topics get 64 KiB rings unless they say otherwise.
inline config::BrokerConfig small_broker() {
    config::BrokerConfig b;
    b.topic_defaults.ring_bytes = 64 * 1024;
    return b;
}

struct TestBus {
    LogLines log;
    TempDir dir;
    ShmPrefix shm;
    config::BrokerConfig broker;
    std::unique_ptr<bus::Bus> bus;

    explicit TestBus(const std::string& name, config::BrokerConfig b = small_broker())
        : dir(name, true), shm(name), broker(std::move(b)) {
        open();
    }
    ~TestBus() { bus.reset(); }  // unmapped before ShmPrefix removes the objects

    // A Bus over the data dir and prefix (as a restarted daemon's): the old one goes first.
    void open(bool restore = false) {
        bus.reset();
        bus = std::make_unique<bus::Bus>(dir.path, broker, bus::RingStore(shm.prefix, 0600, -1),
                                         log.sink());
        if (restore) bus->restore(false);
    }

    protocol::TopicMetadata create(const std::string& name, std::int32_t partitions = 1,
                                   std::vector<protocol::Setting> config = {}) {
        return bus->create({name, partitions, std::move(config)});
    }
};

// Writes `count` committed records ("<prefix><i>", padded with '.' to at least `min_bytes`) into
// a partition's ring, as a producer does; timestamps 1000, 1001, ...
inline void produce(bus::Partition& p, int count, const std::string& prefix = "v",
                    std::size_t min_bytes = 0) {
    p.reserve_ring();  // as a producer's first use has the daemon do
    ring::RingWriter w(p.ring());
    for (int i = 0; i < count; ++i) {
        std::string value = prefix + std::to_string(i);
        if (value.size() < min_bytes) value.resize(min_bytes, '.');
        const ring::FramePlan plan = ring::frame_plan(BytesView(), std::int32_t(value.size()), {});
        ring::RingClaim c;
        REQUIRE(w.try_claim(plan.layout, c) == ring::ClaimStatus::claimed);
        ring::write_data_frame(w.payload(c), c.position, plan, 1000 + i, BytesView(),
                               std::int32_t(value.size()), {});
        ring::write_value(w.payload(c), plan, BytesView(value));
        REQUIRE(w.commit(c));
    }
}

}  // namespace kbus::testing
