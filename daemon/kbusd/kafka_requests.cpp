// The Kafka listener's requests (kafka_listener.hpp has the connections and the event loop):
// each request is decoded by the schema codec at its version, served by one function per API
// (records here; groups in kafka_group_requests.cpp, topics in kafka_admin_requests.cpp), and
// its response built as a message of the API's response schema and encoded at the same version.
#include <algorithm>
#include <map>

#include <unistd.h>

#include "config/topic_config.hpp"
#include "kafka/api_schemas.hpp"
#include "kafka/legacy_message_set.hpp"
#include "kafka/schema_codec.hpp"
#include "kafka/topic_id.hpp"
#include "kafka_errors.hpp"
#include "kafka_listener.hpp"
#include "kbus/detail/clock.hpp"
#include "kbus/error.hpp"
#include "kbus/log/record_batch.hpp"

namespace kbusd {

using namespace kbus::kafka;

bool KafkaListener::serve(KafkaConnection& c, const RequestHeader& h, WireReader& body,
                          std::int64_t now_ms) {
    // ApiVersions of any version gets an answer (its body is not needed). Anything else not
    // served is handled as a Kafka broker handles it: its body's layout is unknown, and no
    // client can parse an answer it did not expect (a bare error code confused kafka-python and
    // sarama), so the replies already due are sent and the connection is closed.
    if (h.api_key == std::int16_t(ApiKey::api_versions)) {
        answer_api_versions(c, h);
        return true;
    }
    const schema::Api* api = schema::find_api(h.api_key);
    if (api == nullptr || !is_supported(h.api_key, h.api_version)) {
        close_after_answers(c, "API " + std::to_string(h.api_key) + " v" +
                                   std::to_string(h.api_version) +
                                   " is not served (UNSUPPORTED_VERSION)");
        return true;
    }
    KafkaRequest q;
    q.header = h;
    q.api = api;
    q.flexible = api->flexible(h.api_version);
    if (q.flexible) SchemaCodec::skip_tagged_fields(body);  // the request header v2's
    q.body = SchemaCodec::decode(body, *api->request, h.api_version, q.flexible);
    return dispatch(c, q, now_ms);
}

bool KafkaListener::dispatch(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms) {
    switch (ApiKey(q.api->key)) {
        // The requests that may wait (parked until records, a join or a sync complete).
        case ApiKey::produce:
            return produce(c, q, now_ms);
        case ApiKey::fetch:
            return fetch(c, q, now_ms);
        case ApiKey::join_group:
            return join_group(c, q, now_ms);
        case ApiKey::sync_group:
            return sync_group(c, q, now_ms);
        default:
            break;
    }
    using Handler = void (KafkaListener::*)(KafkaConnection&, const KafkaRequest&);
    static const std::map<ApiKey, Handler> answered_at_once{
        {ApiKey::metadata, &KafkaListener::metadata},
        {ApiKey::list_offsets, &KafkaListener::list_offsets},
        {ApiKey::find_coordinator, &KafkaListener::find_coordinator},
        {ApiKey::heartbeat, &KafkaListener::heartbeat},
        {ApiKey::leave_group, &KafkaListener::leave_group},
        {ApiKey::offset_commit, &KafkaListener::offset_commit},
        {ApiKey::offset_fetch, &KafkaListener::offset_fetch},
        {ApiKey::offset_delete, &KafkaListener::offset_delete},
        {ApiKey::create_topics, &KafkaListener::create_topics},
        {ApiKey::delete_topics, &KafkaListener::delete_topics},
        {ApiKey::create_partitions, &KafkaListener::create_partitions},
        {ApiKey::delete_records, &KafkaListener::delete_records},
        {ApiKey::list_groups, &KafkaListener::list_groups},
        {ApiKey::describe_groups, &KafkaListener::describe_groups},
        {ApiKey::delete_groups, &KafkaListener::delete_groups},
        {ApiKey::describe_configs, &KafkaListener::describe_configs},
        {ApiKey::alter_configs, &KafkaListener::alter_configs},
        {ApiKey::incremental_alter_configs, &KafkaListener::incremental_alter_configs},
        {ApiKey::describe_cluster, &KafkaListener::describe_cluster},
        {ApiKey::describe_log_dirs, &KafkaListener::describe_log_dirs},
        {ApiKey::offset_for_leader_epoch, &KafkaListener::offset_for_leader_epoch},
        {ApiKey::init_producer_id, &KafkaListener::init_producer_id},
        {ApiKey::add_partitions_to_txn, &KafkaListener::add_partitions_to_txn},
        {ApiKey::add_offsets_to_txn, &KafkaListener::add_offsets_to_txn},
        {ApiKey::end_txn, &KafkaListener::end_txn},
        {ApiKey::txn_offset_commit, &KafkaListener::txn_offset_commit},
    };
    const auto it = answered_at_once.find(ApiKey(q.api->key));
    if (it == answered_at_once.end()) {
        close_after_answers(c, "API " + std::string(q.api->name) + " is not served");
        return true;
    }
    (this->*(it->second))(c, q);
    return true;
}

Value KafkaListener::response_of(const KafkaRequest& q) const {
    return Value::object_of(*q.api->response);
}

void KafkaListener::respond_with(KafkaConnection& c, const KafkaRequest& q, const Value& r,
                                 std::vector<FileExtent> extents) {
    ResponseBuilder out;
    // Response header v1 (flexible versions): the correlation id, then no tagged fields.
    // ApiVersions keeps header v0 at every version, so that any client can read it.
    if (q.flexible && q.api->key != std::int16_t(ApiKey::api_versions)) out.bytes().uvarint(0);
    SchemaCodec::encode(out.bytes(), r, q.version(), q.flexible,
                        [&](const Value& e) { out.file(std::move(extents.at(e.extent_index()))); });
    respond(c, q.header, out);
}

// ApiVersions: every served API and its range. A version beyond ours gets error 35 and, in v0's
// layout, the one range the client needs to retry (librdkafka then retries within it).
void KafkaListener::answer_api_versions(KafkaConnection& c, const RequestHeader& h) {
    KafkaRequest q;
    q.header = h;
    q.api = &schema::api_versions_api;
    Value r = response_of(q);
    const bool served = is_supported(h.api_key, h.api_version);
    for (const VersionRange& range : supported_versions) {
        if (!served && range.key != ApiKey::api_versions) continue;
        Value& a = r["ApiKeys"].add();
        a["ApiKey"].set(std::int16_t(range.key));
        a["MinVersion"].set(range.min);
        a["MaxVersion"].set(range.max);
    }
    if (!served) {
        set_error(r, KafkaError::unsupported_version);
        q.header.api_version = 0;
    }
    q.flexible = q.api->flexible(q.header.api_version);
    respond_with(c, q, r);
}

std::optional<std::string> KafkaListener::topic_named_by(const Value::Uuid& id) {
    if (const auto it = topic_ids_.find(id); it != topic_ids_.end()) return it->second;
    topic_ids_.clear();
    for (const auto& [name, partitions] : backend_.topics(std::nullopt, false))
        topic_ids_.emplace(topic_id_of(name), name);
    if (const auto it = topic_ids_.find(id); it != topic_ids_.end()) return it->second;
    return std::nullopt;
}

void KafkaListener::metadata(KafkaConnection& c, const KafkaRequest& q) {
    const Value& asked = q.body["Topics"];
    const bool auto_create = q.body["AllowAutoTopicCreation"].boolean();
    Value r = response_of(q);
    Value& broker = r["Brokers"].add();
    broker["Host"].set_text(options_.advertised_host);
    broker["Port"].set(options_.advertised_port);
    r["ClusterId"].set_text(options_.cluster_id);
    r["ControllerId"].set(0);
    const auto add_topic = [&](const std::string& name, KafkaError error) -> Value& {
        Value& t = r["Topics"].add();
        t["Name"].set_text(name);
        if (error == KafkaError::none) t["TopicId"].set_uuid(topic_id_of(name));
        set_error(t, error);
        return t;
    };
    // v0 asks for every topic with an empty list; v1+ with null.
    std::optional<std::vector<std::string>> names;
    if (!asked.is_null() && !(q.version() == 0 && asked.items().empty())) {
        names.emplace();
        for (const Value& t : asked.items()) {
            if (!t["Name"].is_null()) {
                names->emplace_back(t["Name"].text());
            } else if (auto name = topic_named_by(t["TopicId"].uuid())) {
                names->push_back(*name);
            } else {
                Value& unknown = add_topic("", KafkaError::unknown_topic_id);
                unknown["Name"].set_null();
                unknown["TopicId"].set_uuid(t["TopicId"].uuid());
            }
        }
    }
    std::vector<std::pair<std::string, std::optional<std::int32_t>>> found;
    try {
        found = backend_.topics(names, auto_create);
    } catch (const kbus::Error&) {
        // A bad name among them: answer each name on its own.
        for (const std::string& name : names.value_or(std::vector<std::string>{})) {
            try {
                const auto one = backend_.topics(std::vector<std::string>{name}, auto_create);
                found.insert(found.end(), one.begin(), one.end());
            } catch (const kbus::Error&) {
                add_topic(name, KafkaError::invalid_topic);
            }
        }
    }
    for (const auto& [name, partitions] : found) {
        Value& t =
            add_topic(name, partitions ? KafkaError::none : KafkaError::unknown_topic_or_partition);
        for (std::int32_t p = 0; p < partitions.value_or(0); ++p) {
            Value& part = t["Partitions"].add();
            part["PartitionIndex"].set(p);
            part["LeaderId"].set(0);
            part["ReplicaNodes"].add().set(0);
            part["IsrNodes"].add().set(0);
        }
    }
    respond_with(c, q, r);
}

// One partition of a Produce: its result, or nothing while its ring is full and the request may
// still wait (until its timeout) for the spill or a slow consumer to move.
std::optional<ProducedPartition> KafkaListener::produce_partition(const KafkaRequest& q,
                                                                  const std::string& topic,
                                                                  const Value& partition,
                                                                  bool may_wait) {
    const Value& request = q.body;
    ProducedPartition result;
    result.index = partition["Index"].i32();
    const std::int16_t acks = request["Acks"].i16();
    const Value& records = partition["Records"];
    try {
        if (acks < -1 || acks > 1) {
            result.error = KafkaError::invalid_required_acks;
        } else if (records.is_null()) {
            result.error = KafkaError::corrupt_message;
        } else if (const DecodeResult d = decode_and_check(q, records.text(), topic);
                   d.error != KafkaError::none) {
            result.error = d.error;
            warn("produce refused " + topic, "Kafka produce to " + topic + "-" +
                                                 std::to_string(result.index) +
                                                 " refused: " + d.message);
        } else {
            return append_partition(topic, result, may_wait);
        }
    } catch (const kbus::Error& e) {
        // A fenced transactional producer: Produce's answer for it is INVALID_PRODUCER_EPOCH.
        result.error = e.code() == kbus::ErrorCode::producer_fenced
                           ? KafkaError::invalid_producer_epoch
                           : error_of(e);
        if (decoder_.transactional())
            warn("produce refused " + topic, "Kafka transactional produce to " + topic + "-" +
                                                 std::to_string(result.index) +
                                                 " refused: " + e.what());
    }
    return result;
}

// The decoded batch appended (or answered from the producer's state): its result, or nothing
// while the ring is full and the request may still wait.
std::optional<ProducedPartition> KafkaListener::append_partition(const std::string& topic,
                                                                 ProducedPartition result,
                                                                 bool may_wait) {
    const bool idempotent = decoder_.producer().id >= 0;
    const std::string key = idempotent ? topic + "-" + std::to_string(result.index) : std::string();
    if (idempotent)
        if (auto answered = check_producer(topic, key, result)) return answered;
    const ProduceOutcome o = backend_.produce(topic, result.index, decoder_);
    switch (o.status) {
        case ProduceStatus::appended:
            result.base_offset = o.base_offset;
            result.log_append_time_ms = o.log_append_time_ms;
            result.log_start_offset = o.log_start_offset;
            if (idempotent)
                producers_.appended(key, decoder_.producer(), o.base_offset,
                                    kbus::detail::wall_clock_ms());
            break;
        case ProduceStatus::too_large:
            result.error = KafkaError::record_list_too_large;
            break;
        case ProduceStatus::unknown_partition:
            result.error = KafkaError::unknown_topic_or_partition;
            break;
        case ProduceStatus::owned:  // not retriable: the owner may hold it for hours
            result.error = KafkaError::policy_violation;
            warn("produce refused " + topic,
                 "Kafka produce to " + topic + "-" + std::to_string(result.index) +
                     " refused: an exclusive local producer owns the partition");
            break;
        case ProduceStatus::full:
            if (may_wait) return std::nullopt;
            result.error = KafkaError::request_timed_out;
            break;
    }
    return result;
}

// The records decoded, then held to the topic's policy: a compacted topic takes no record without
// a key (Kafka's INVALID_RECORD, with the message Kafka gives).
DecodeResult KafkaListener::decode_and_check(const KafkaRequest& q, std::string_view records,
                                             const std::string& topic) {
    DecodeResult d = decode_records(q, records, topic);
    if (d.error != KafkaError::none || !backend_.keys_required(topic)) return d;
    for (const kbus::kafka::DecodedRecord& r : decoder_.records())
        if (r.key.is_null())
            return {KafkaError::invalid_record,
                    "Compacted topic cannot accept message without key in topic partition " +
                        topic + "."};
    return d;
}

// A partition's records into the batch decoder: a RecordBatch v2 as it is, a message set of
// magic 0/1 (Produce v0-2) converted to one first.
DecodeResult KafkaListener::decode_records(const KafkaRequest& q, std::string_view records,
                                           const std::string& topic) {
    const std::uint32_t max_record_bytes = backend_.max_record_bytes(topic);
    if (q.version() >= 3) {
        // zstd came with Produce v7 (KIP-110): Kafka refuses it in older requests.
        const kbus::log::BatchView header(
            {reinterpret_cast<const std::byte*>(records.data()), records.size()});
        if (q.version() < 7 && records.size() >= kbus::log::batch_header_bytes &&
            header.compression_codec() == int(kbus::config::Compression::zstd))
            return {KafkaError::unsupported_compression_type, "zstd needs Produce v7 or later"};
        return decoder_.decode(records, max_record_bytes);
    }
    const DecodeResult up =
        legacy::upconvert(records, kbus::detail::wall_clock_ms(),
                          records.size() * 64 + max_record_bytes, legacy_builder_, legacy_batch_);
    if (up.error != KafkaError::none) return up;
    return decoder_.decode(legacy_batch_, max_record_bytes);
}

bool KafkaListener::produce(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms) {
    const Value& topics = q.body["TopicData"];
    std::size_t count = 0;
    for (const Value& t : topics.items())
        count += t["PartitionData"].items().size();
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + std::max(q.body["TimeoutMs"].i32(), 0);
        c.parked->produced.resize(count);
    }
    ParkedRequest& state = *c.parked;
    if (state.produced.size() != count) throw KafkaDecodeError("request changed while parked");
    bool waiting = false;
    std::size_t i = 0;
    Value r = response_of(q);
    for (const Value& t : topics.items()) {
        const std::string name(t["Name"].text());
        Value& results = r["Responses"].add();
        results["Name"].set_text(name);
        for (const Value& p : t["PartitionData"].items()) {
            auto& done = state.produced[i++];
            if (!done) done = produce_partition(q, name, p, now_ms < state.deadline_ms);
            if (!done) {
                waiting = true;
                continue;
            }
            Value& result = results["PartitionResponses"].add();
            result["Index"].set(done->index);
            set_error(result, done->error);
            result["BaseOffset"].set(done->base_offset);
            result["LogAppendTimeMs"].set(done->log_append_time_ms);
            result["LogStartOffset"].set(done->log_start_offset);
        }
    }
    if (waiting) return false;
    if (q.body["Acks"].i16() == 0) return true;  // acks=0: the client expects no answer at all
    respond_with(c, q, r);
    return true;
}

// One partition of a Fetch: where its batches lie (nothing yet, for a partition the spill has
// not reached), or its error. `room`: what the response may still take.
KafkaListener::FetchPart KafkaListener::fetch_partition(const std::string& topic,
                                                        const Value& partition, std::uint64_t room,
                                                        bool first, bool read_committed) {
    FetchPart part;
    const std::int32_t max_bytes = partition["PartitionMaxBytes"].i32();
    try {
        if (max_bytes <= 0) {
            part.error = KafkaError::invalid_fetch_size;
        } else if (room > 0 || first) {
            const std::uint32_t limit =
                std::uint32_t(std::min<std::uint64_t>({std::uint64_t(max_bytes), room, 1u << 30}));
            PartitionRead read = backend_.read(topic, partition["Partition"].i32(),
                                               partition["FetchOffset"].integer(),
                                               std::max<std::uint32_t>(limit, 1), read_committed);
            part.high_watermark = read.high_watermark;
            part.last_stable_offset = read.last_stable_offset;
            part.aborted = std::move(read.aborted);
            part.log_start_offset = read.log_start_offset;
            part.extent = std::move(read.extent);
        }
    } catch (const kbus::Error& e) {
        part.error = error_of(e);
    }
    return part;
}

// One partition's answer into `result`: its error, bounds and records (a file extent sent as it
// is stored, or for v0-3 a converted message set), counted into `progress`.
void KafkaListener::answer_fetch_partition(const KafkaRequest& q,
                                           const std::optional<std::string>& topic, const Value& p,
                                           Value& result, FetchProgress& progress) {
    result["PartitionIndex"].set(p["Partition"].i32());
    result["HighWatermark"].set(-1);
    result["Records"].set_view("");
    result["AbortedTransactions"].set_null();
    if (!topic) {
        set_error(result, KafkaError::unknown_topic_id);
        progress.any_error = true;
        return;
    }
    const std::uint64_t room =
        progress.total >= progress.response_max ? 0 : progress.response_max - progress.total;
    const bool read_committed = q.version() >= 4 && q.body["IsolationLevel"].integer() == 1;
    FetchPart part = fetch_partition(*topic, p, room, progress.total == 0, read_committed);
    set_error(result, part.error);
    progress.any_error = progress.any_error || part.error != KafkaError::none;
    if (part.error == KafkaError::none) {
        Value& aborted = result["AbortedTransactions"];
        aborted.set_array();
        for (const auto& [producer_id, first_offset] : part.aborted) {
            Value& a = aborted.add();
            a["ProducerId"].set(producer_id);
            a["FirstOffset"].set(first_offset);
        }
    }
    result["HighWatermark"].set(part.high_watermark);
    result["LastStableOffset"].set(part.last_stable_offset);
    result["LogStartOffset"].set(part.log_start_offset);
    if (!part.extent) return;
    if (q.version() < 4) {
        // Fetch v0-3 read message sets of magic 0 (v0-1) or 1 (v2-3): converted here.
        const auto limit = std::size_t(std::min<std::uint64_t>(
            std::uint64_t(std::max(p["PartitionMaxBytes"].i32(), 1)), room));
        std::string converted =
            downconverted(*part.extent, q.version() < 2 ? 0 : 1, p["FetchOffset"].integer(), limit);
        progress.total += converted.size();
        result["Records"].set_text(std::move(converted));
        return;
    }
    progress.total += part.extent->length;
    result["Records"].set_extent(part.extent->length, progress.extents.size());
    progress.extents.push_back(std::move(*part.extent));
}

bool KafkaListener::fetch(KafkaConnection& c, const KafkaRequest& q, std::int64_t now_ms) {
    if (!c.parked) {
        c.parked.emplace();
        c.parked->deadline_ms = now_ms + std::clamp(q.body["MaxWaitMs"].i32(), 0, 60'000);
    }
    Value r = response_of(q);
    FetchProgress progress;
    progress.response_max = std::uint64_t(std::max(q.body["MaxBytes"].i32(), 1));
    const bool by_id = q.version() >= 13;  // KIP-516: topics named by their ids
    for (const Value& t : q.body["Topics"].items()) {
        Value& out = r["Responses"].add();
        std::optional<std::string> name;
        if (by_id) {
            name = topic_named_by(t["TopicId"].uuid());
            out["TopicId"].set_uuid(t["TopicId"].uuid());
        } else {
            name = std::string(t["Topic"].text());
            out["Topic"].set_text(*name);
        }
        for (const Value& p : t["Partitions"].items())
            answer_fetch_partition(q, name, p, out["Partitions"].add(), progress);
    }
    // Long poll: wait for min_bytes (or for anything, when it asks for at least one) until the
    // request's max wait, unless something needs telling now.
    if (!progress.any_error &&
        progress.total < std::uint64_t(std::max(q.body["MinBytes"].i32(), 1)) &&
        now_ms < c.parked->deadline_ms)
        return false;
    respond_with(c, q, r, std::move(progress.extents));
    return true;
}

std::string KafkaListener::downconverted(const FileExtent& extent, std::int8_t magic,
                                         std::int64_t from_offset, std::size_t max_bytes) const {
    std::string batches(extent.length, '\0');
    std::size_t got = 0;
    while (got < batches.size()) {
        const ssize_t n = ::pread(*extent.fd, batches.data() + got, batches.size() - got,
                                  off_t(extent.position + got));
        if (n <= 0) break;  // a segment cut short: what was read is converted
        got += std::size_t(n);
    }
    batches.resize(got);
    return legacy::downconvert(batches, magic, std::size_t(64) << 20, from_offset, max_bytes);
}

std::int64_t KafkaListener::timestamp_at(const std::string& topic, std::int32_t partition,
                                         std::int64_t offset) {
    try {
        const PartitionRead read = backend_.read(topic, partition, offset, 1);
        if (!read.extent) return -1;
        // The batch holding `offset`, as magic 1 messages: the first one is the record.
        const std::string one = downconverted(*read.extent, 1, offset, 1);
        if (one.size() < legacy::log_overhead + legacy::timestamp_offset + 8) return -1;
        return kbus::detail::load_be<std::int64_t>(one.data() + legacy::log_overhead +
                                                   legacy::timestamp_offset);
    } catch (const kbus::Error&) {
        return -1;
    }
}

// ListOffsets' timestamp -3 (KIP-734, v7+): the record with the newest timestamp.
constexpr std::int64_t max_timestamp_spec = -3;
constexpr std::int64_t latest_tiered_spec = -5;

void KafkaListener::list_offsets(KafkaConnection& c, const KafkaRequest& q) {
    Value r = response_of(q);
    for (const Value& t : q.body["Topics"].items()) {
        const std::string name(t["Name"].text());
        Value& out = r["Topics"].add();
        out["Name"].set_text(name);
        for (const Value& p : t["Partitions"].items()) {
            Value& result = out["Partitions"].add();
            const std::int32_t index = p["PartitionIndex"].i32();
            std::int64_t timestamp = p["Timestamp"].integer();
            result["PartitionIndex"].set(index);
            // -4 (earliest local, KIP-1005): every segment is local, so the log start. -5 (latest
            // tiered) is answered below: nothing is tiered.
            if (timestamp == -4) timestamp = -2;
            try {
                if (timestamp == latest_tiered_spec) {
                    result["Offset"].set(-1);
                } else if (timestamp == max_timestamp_spec) {
                    const auto found = backend_.max_timestamp(name, index);
                    result["Offset"].set(found ? found->offset : -1);
                    result["Timestamp"].set(found ? found->timestamp : -1);
                } else if (const auto o = backend_.offset_for(name, index, timestamp)) {
                    result["Offset"].set(*o);
                    // By time: the found record's own timestamp, as Kafka answers.
                    if (timestamp >= 0) result["Timestamp"].set(timestamp_at(name, index, *o));
                    result["OldStyleOffsets"].add().set(*o);  // v0
                }
            } catch (const kbus::Error& e) {
                set_error(result, error_of(e));
            }
        }
    }
    respond_with(c, q, r);
}

}  // namespace kbusd
