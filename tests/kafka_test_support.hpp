// What the Kafka tests and benchmarks share: librdkafka handles, librdkafka's mock cluster
// (Debian's 2.0.2, in the calling process), and `kbus mirror` run as its own process against a
// DaemonFixture's bus. Failures throw std::runtime_error: a test fails with the message, a
// benchmark stops with it.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "daemon_fixture.hpp"

namespace kbus::test {

struct KafkaDeleter {
    void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

using DeliveryCallback = void (*)(rd_kafka_t*, const rd_kafka_message_t*, void*);

// A client of `bootstrap` (none: no bootstrap.servers) with these settings, and optionally a
// delivery report callback with its opaque.
inline KafkaHandle kafka_client(rd_kafka_type_t type, const std::string& bootstrap,
                                std::map<std::string, std::string> settings = {},
                                DeliveryCallback on_delivery = nullptr, void* opaque = nullptr) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    if (!bootstrap.empty()) settings["bootstrap.servers"] = bootstrap;
    for (const auto& [k, v] : settings)
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error("librdkafka refused " + k + "=" + v + ": " + err);
        }
    if (on_delivery) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (opaque) rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t* k = rd_kafka_new(type, conf, err, sizeof err);
    if (!k) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("rd_kafka_new: ") + err);
    }
    return KafkaHandle(k);
}

// A mock cluster of `brokers` brokers; destroyed before the handle that owns it (librdkafka's
// rule). It has no CreateTopics: topics are made here, or by its auto-creation (4 partitions).
struct MockKafka {
    KafkaHandle owner;
    rd_kafka_mock_cluster_t* cluster = nullptr;
    std::string bootstrap;

    explicit MockKafka(int brokers = 1) : owner(kafka_client(RD_KAFKA_PRODUCER, "")) {
        cluster = rd_kafka_mock_cluster_new(owner.get(), brokers);
        if (!cluster) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
        bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
    }
    MockKafka(const MockKafka&) = delete;
    MockKafka& operator=(const MockKafka&) = delete;
    ~MockKafka() { rd_kafka_mock_cluster_destroy(cluster); }

    void create_topic(const std::string& name, int partitions, int replicas = 1) const {
        if (rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, replicas) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            throw std::runtime_error("the mock did not create " + name);
    }
};

// Queues a copy of key and value for topic/partition (plain, no headers or timestamp).
inline rd_kafka_resp_err_t produce_copy(rd_kafka_t* producer, const char* topic,
                                        std::int32_t partition, const std::string& key,
                                        const std::string& value) {
    return rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
}

#ifdef KBUS_CLI_PATH
// The kbus CLI against the fixture's bus: its output (stderr too) and exit code.
struct CliRun {
    std::string output;
    int exit_code = -1;
};
inline CliRun cli_run(const DaemonFixture& d, const std::string& args) {
    const std::string cmd = std::string(KBUS_CLI_PATH) + " --bus " + d.bus + " --run-dir " + d.dir +
                            "/run " + args + " 2>&1";
    FILE* f = ::popen(cmd.c_str(), "r");
    CliRun run;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        run.output.append(buf, n);
    const int status = ::pclose(f);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}
inline std::string cli_output(const DaemonFixture& d, const std::string& args) {
    return cli_run(d, args).output;
}

// `kbus mirror --config` as its own process, with the fixture's bus added to its config and
// its log in the fixture's dir (shown when a test throws).
struct MirrorProcess {
    std::string config, log;
    pid_t pid = -1;

    MirrorProcess(const DaemonFixture& d, const std::string& text,
                  const std::string& name = "mirror") {
        config = d.dir + "/" + name + ".properties";
        log = d.dir + "/" + name + ".log";
        std::ofstream(config) << text << "\nkbus.bus=" << d.bus << "\nkbus.run.dir=" << d.dir
                              << "/run\n";
        start();
    }
    void start() {
        pid = ::fork();
        if (pid == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            ::dup2(fd, 2);
            ::execl(KBUS_CLI_PATH, KBUS_CLI_PATH, "mirror", "--config", config.c_str(), nullptr);
            ::_exit(127);
        }
    }
    void kill_hard() { (void)end_child(pid, SIGKILL); }
    int stop() { return end_child(pid, SIGTERM); }
    [[nodiscard]] std::string log_text() const {
        std::ifstream in(log);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    ~MirrorProcess() {
        kill_hard();
        if (std::uncaught_exceptions() > 0)
            std::fprintf(stderr, "--- mirror log ---\n%s", log_text().c_str());
    }
};
#endif

}  // namespace kbus::test
