// The Kafka listener's requests about a partition's log as a whole: DeleteRecords (the log start
// moves), OffsetForLeaderEpoch (one broker, one leader epoch: 0) and DescribeLogDirs (one log
// directory: kbusd's data directory).
#include "kafka_errors.hpp"
#include "kafka_listener.hpp"
#include "kbus/error.hpp"

namespace kbusd {

using namespace kbus::kafka;

namespace {

// Every partition's leader epoch, as Metadata reports it.
constexpr std::int32_t leader_epoch = 0;
constexpr std::int32_t no_leader_epoch = -1;  // a client's "no epoch to check"

}  // namespace

void KafkaListener::delete_records(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& t : q.body["Topics"].items()) {
        const std::string name(t["Name"].text());
        Value& out = r["Topics"].add();
        out["Name"].set_text(name);
        for (const Value& p : t["Partitions"].items()) {
            Value& result = out["Partitions"].add();
            const std::int32_t index = p["PartitionIndex"].i32();
            result["PartitionIndex"].set(index);
            result["LowWatermark"].set(std::int64_t(-1));
            try {
                result["LowWatermark"].set(
                    backend_.delete_records(name, index, p["Offset"].integer()));
            } catch (const kbus::Error& e) {
                warn("delete-records", std::string("DeleteRecords: ") + e.what());
                set_error(result, error_of(e));
            }
        }
    }
    respond_with(c, q, r);
}

// The end offset of the epoch asked for (Kafka's LeaderEpochFileCache.endOffsetFor with a single
// epoch): epoch 0 ends at the log end; any other epoch is unknown (-1, -1). A consumer that
// names a current leader epoch other than 0 is told it is fenced or ahead.
void KafkaListener::offset_for_leader_epoch(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& t : q.body["Topics"].items()) {
        const std::string name(t["Topic"].text());
        Value& out = r["Topics"].add();
        out["Topic"].set_text(name);
        for (const Value& p : t["Partitions"].items()) {
            Value& result = out["Partitions"].add();
            const std::int32_t index = p["Partition"].i32();
            const std::int32_t current = p["CurrentLeaderEpoch"].i32();
            result["Partition"].set(index);
            if (current > leader_epoch) {
                set_error(result, KafkaError::unknown_leader_epoch);
                continue;
            }
            if (current != no_leader_epoch && current < leader_epoch) {
                set_error(result, KafkaError::fenced_leader_epoch);
                continue;
            }
            try {
                const std::int64_t end = backend_.offset_for(name, index, -1).value_or(-1);
                if (p["LeaderEpoch"].i32() == leader_epoch) {
                    result["LeaderEpoch"].set(leader_epoch);
                    result["EndOffset"].set(end);
                }
            } catch (const kbus::Error& e) {
                set_error(result, error_of(e));
            }
        }
    }
    respond_with(c, q, r);
}

void KafkaListener::describe_log_dirs(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    const KafkaBackend::LogDir dir = backend_.log_dir();
    Value& result = r["Results"].add();
    result["LogDir"].set_text(dir.path);
    result["TotalBytes"].set(dir.total_bytes);
    result["UsableBytes"].set(dir.usable_bytes);
    // Null topics: every partition of every topic.
    std::vector<std::pair<std::string, std::vector<std::int32_t>>> wanted;
    if (q.body["Topics"].is_null()) {
        for (const auto& [name, count] : backend_.topics(std::nullopt, false)) {
            std::vector<std::int32_t> all;
            for (std::int32_t p = 0; p < count.value_or(0); ++p)
                all.push_back(p);
            wanted.emplace_back(name, std::move(all));
        }
    } else {
        for (const Value& t : q.body["Topics"].items()) {
            std::vector<std::int32_t> asked;
            for (const Value& p : t["Partitions"].items())
                asked.push_back(p.i32());
            wanted.emplace_back(t["Topic"].text(), std::move(asked));
        }
    }
    for (const auto& [name, partitions] : wanted) {
        Value& topic = result["Topics"].add();
        topic["Name"].set_text(name);
        for (const std::int32_t p : partitions) {
            try {
                const std::uint64_t bytes = backend_.log_bytes(name, p);
                Value& out = topic["Partitions"].add();
                out["PartitionIndex"].set(p);
                out["PartitionSize"].set(std::int64_t(bytes));
                out["OffsetLag"].set(std::int64_t(0));
                out["IsFutureKey"].set(false);
            } catch (const kbus::Error&) {
                // Not hosted here: Kafka leaves such partitions out of the answer.
            }
        }
        if (topic["Partitions"].items().empty()) result["Topics"].items().pop_back();
    }
    respond_with(c, q, r);
}

}  // namespace kbusd
