#include "bus/bus.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "kbus/error.hpp"
#include "kbus/names.hpp"
#include "topics/topic_store.hpp"

namespace kbus::bus {
namespace {

constexpr std::int32_t max_partitions_per_topic = 10000;

// `what`: "create topic 'x'" or "add partitions to 'x'".
[[noreturn]] void refuse(const std::string& what, const std::string& why) {
    throw Error(ErrorCode::resource_exhausted, "cannot " + what + ": " + why);
}

std::uint64_t ring_headers_bytes(const config::TopicConfig& tc, std::int64_t partitions) {
    return ring::ring_layout(tc.ring_bytes).journal_offset * std::uint64_t(partitions);
}

}  // namespace

Bus::Bus(std::string data_dir, config::BrokerConfig broker, RingStore rings, logging::LogSink sink)
    : data_dir_(std::move(data_dir)),
      broker_(std::move(broker)),
      rings_(std::move(rings)),
      sink_(std::move(sink)) {}

spill::SpillOptions Bus::spill_options() const {
    spill::SpillOptions o;
    o.write_to_log = broker_.spill_enable;
    o.claim_timeout_ns = std::uint64_t(broker_.claim_timeout_ms) * 1'000'000;
    o.fences = fences_;
    return o;
}

void Bus::restore(bool verify) {
    topics::TopicList list = topics::load_topics(data_dir_);
    {
        std::lock_guard lock(mutex_);
        next_topic_id_ = list.next_id;
    }
    for (topics::StoredTopic& st : list.topics) {
        try {
            protocol::TopicMetadata m;
            m.name = st.name;
            m.partitions = st.partitions;
            m.topic_id = st.id;
            m.config = st.settings;
            const config::TopicConfig tc =
                config::make_topic_config(broker_.topic_defaults, m.config);
            TopicPtr t = build(m, tc, verify);
            sink_("INFO", "restored topic '" + m.name + "'");
            std::lock_guard lock(mutex_);
            topics_.emplace(m.name, std::move(t));
        } catch (const std::exception& e) {
            sink_("ERROR", "cannot restore topic '" + st.name + "': " + e.what());
        }
    }
}

void Bus::save() const {
    std::lock_guard saving(save_mutex_);  // the snapshot and its write, one save at a time
    topics::TopicList list;
    {
        std::lock_guard lock(mutex_);
        list.next_id = next_topic_id_;
        for (const auto& [name, t] : topics_)
            list.topics.push_back({name, t->meta.topic_id, t->meta.partitions, t->meta.config});
    }
    topics::save_topics(data_dir_, list);
}

Bus::TopicPtr Bus::topic_named(const std::string& name) const {
    const auto it = topics_.find(name);
    if (it == topics_.end()) throw Error(ErrorCode::unknown_topic, "unknown topic '" + name + "'");
    return it->second;
}

// Everything that refuses a new topic; its config when nothing does.
config::TopicConfig Bus::check_new_locked(const protocol::TopicMetadata& m) const {
    config::TopicConfig tc = config::make_topic_config(broker_.topic_defaults, m.config);
    if (auto why = check_topic_name(m.name); !why.empty())
        throw Error(ErrorCode::invalid_argument, why);
    if (topics_.count(m.name) || creating_.count(m.name))
        throw Error(ErrorCode::topic_exists, "topic '" + m.name + "' already exists");
    if (m.partitions < 1 || m.partitions > max_partitions_per_topic)
        throw Error(ErrorCode::invalid_argument,
                    "partitions must be between 1 and " + std::to_string(max_partitions_per_topic));
    check_limits("create topic '" + m.name + "'", m.partitions, tc, true);
    return tc;
}

// kbus.max.topics, kbus.max.partitions and kbus.max.shared.memory.bytes, and the room the tmpfs
// has now: a topic (or `extra` more partitions of one) that would pass one is refused before
// anything is created.
void Bus::check_limits(const std::string& what, std::int32_t extra, const config::TopicConfig& tc,
                       bool new_topic) const {
    std::int64_t partitions = extra;
    for (const auto& [name, t] : topics_)
        partitions += t->meta.partitions;
    for (const auto& [name, reserved] : creating_)
        partitions += reserved.partitions;
    // A new ring is its header until a producer uses it (ring_reservation.cpp).
    const std::uint64_t in_use = ring_memory_in_use_locked();
    const std::uint64_t wanted = ring_headers_bytes(tc, extra);
    if (new_topic && std::int64_t(topics_.size() + creating_.size()) >= broker_.max_topics)
        refuse(what, "kbus.max.topics (" + std::to_string(broker_.max_topics) + ") reached");
    if (partitions > broker_.max_partitions)
        refuse(what, "its " + std::to_string(extra) + " partitions would pass " +
                         "kbus.max.partitions (" + std::to_string(broker_.max_partitions) + ")");
    check_file_descriptors(what, extra);
    if (broker_.max_shared_memory_bytes >= 0 &&
        std::int64_t(in_use + wanted) > broker_.max_shared_memory_bytes)
        refuse(what, "its rings' headers (" + std::to_string(wanted) + " bytes) would pass " +
                         "kbus.max.shared.memory.bytes (" +
                         std::to_string(broker_.max_shared_memory_bytes) + ", " +
                         std::to_string(in_use) + " in use)");
    if (const std::uint64_t free = rings_.free_bytes(); free < wanted)
        refuse(what, "its rings' headers need " + std::to_string(wanted) +
                         " bytes of shared memory and it has " + std::to_string(free) +
                         " free (shared memory full)");
}

// A partition holds its active segment's .log open once it has records (segment.hpp): a topic
// whose partitions, all in use, would run kbusd out of descriptors is refused whole, naming the
// limit, with a few hundred kept for connections and rolls.
void Bus::check_file_descriptors(const std::string& what, std::int32_t extra) {
    constexpr std::uint64_t per_partition = 1, kept_free = 256;
    rlimit fds{};
    if (::getrlimit(RLIMIT_NOFILE, &fds) != 0 || fds.rlim_cur == RLIM_INFINITY) return;
    std::uint64_t open = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec))
        ++open;
    const std::uint64_t wanted = per_partition * std::uint64_t(extra);
    if (open + wanted + kept_free > fds.rlim_cur)
        refuse(what, "its " + std::to_string(extra) + " partitions need " + std::to_string(wanted) +
                         " more open files and kbusd has " + std::to_string(open) +
                         " of its limit of " + std::to_string(fds.rlim_cur) +
                         " open (raise LimitNOFILE / ulimit -n, or use fewer partitions)");
}

void Bus::check_new(const protocol::CreateTopicRequest& request) const {
    protocol::TopicMetadata m;
    m.name = request.name;
    m.partitions = request.partitions;
    m.config = request.config;
    std::lock_guard lock(mutex_);
    (void)check_new_locked(m);
}

Bus::TopicPtr Bus::build(protocol::TopicMetadata m, const config::TopicConfig& tc,
                         bool verify) const {
    m.ring_bytes = tc.ring_bytes;
    m.max_message_bytes = tc.max_message_bytes;
    m.timestamp_type = tc.log_append_time ? 1 : 0;
    m.hold_timeout_ms = tc.consumer_hold_timeout_ms;
    m.ring_path_prefix = rings_.topic_prefix(m.topic_id);
    auto t = std::make_shared<Topic>();
    t->meta = m;
    t->config = tc;
    t->partitions = build_partitions(m, tc, 0, m.partitions, verify);
    return t;
}

std::vector<std::shared_ptr<Partition>> Bus::build_partitions(const protocol::TopicMetadata& m,
                                                              const config::TopicConfig& tc,
                                                              std::int32_t from, std::int32_t to,
                                                              bool verify) const {
    std::vector<std::shared_ptr<Partition>> built;
    PartitionSetup setup{"", verify, spill_options(), sink_};
    for (std::int32_t p = from; p < to; ++p) {
        setup.dir = topics::partition_dir(data_dir_, m.name, p);
        built.push_back(std::make_shared<Partition>(m, p, tc, rings_, setup));
    }
    return built;
}

// The rings and partition directories of a topic that is not (or no longer) there.
void Bus::remove_files(const protocol::TopicMetadata& m) const {
    for (std::int32_t p = 0; p < m.partitions; ++p) {
        rings_.remove(m.topic_id, p);
        std::error_code ec;
        std::filesystem::remove_all(topics::partition_dir(data_dir_, m.name, p), ec);
    }
}

protocol::TopicMetadata Bus::create(protocol::CreateTopicRequest request) {
    protocol::TopicMetadata m;
    m.name = std::move(request.name);
    m.partitions = request.partitions;
    m.config = std::move(request.config);
    config::TopicConfig tc;
    {
        std::lock_guard lock(mutex_);
        tc = check_new_locked(m);
        for (auto& [k, v] : m.config)  // stored as shown: one spelling, no spaces
            v = config::canonical_value(k, v);
        m.topic_id = next_topic_id_++;
        m.ring_bytes = tc.ring_bytes;
        creating_[m.name] = m;  // the name and the room are taken while it is built
    }
    // A directory left by an earlier topic of this name must not leak old records into it.
    for (std::int32_t p = 0; p < m.partitions; ++p)
        std::filesystem::remove_all(topics::partition_dir(data_dir_, m.name, p));
    TopicPtr t;
    try {
        t = build(m, tc, false);
    } catch (const std::exception&) {
        remove_files(m);  // nothing of a topic that was refused half-way stays behind
        std::lock_guard lock(mutex_);
        creating_.erase(m.name);
        throw;
    }
    {
        std::lock_guard lock(mutex_);
        creating_.erase(m.name);
        topics_.emplace(m.name, t);
    }
    try {
        save();
    } catch (const std::exception&) {
        // Not durable, so not created: the topic goes again, rings and directories with it (a
        // full data disk must not leave them behind for good).
        {
            std::lock_guard lock(mutex_);
            topics_.erase(m.name);
        }
        for (const auto& p : t->partitions)
            p->retire();
        remove_files(m);
        throw;
    }
    sink_("INFO", "created topic '" + m.name + "' with " + std::to_string(m.partitions) +
                      (m.partitions == 1 ? " partition" : " partitions"));
    return t->meta;
}

// Marks the rings deleted (producers stop), removes them and the partition directories. Clients
// that still map a ring keep their mapping; partitions stay valid for whoever holds them.
void Bus::remove(const std::string& name) {
    TopicPtr t;
    {
        std::lock_guard lock(mutex_);
        t = topic_named(name);
        topics_.erase(name);
    }
    for (const auto& p : t->partitions) {
        // Release: a producer that sees "deleted" stops claiming in this ring.
        p->ring().header().claim.state.store(std::uint32_t(ring::RingState::deleted),
                                             std::memory_order_release);
        p->retire();
        rings_.remove(t->meta.topic_id, p->index());
    }
    save();
    for (std::int32_t p = 0; p < t->meta.partitions; ++p) {
        const std::string dir = topics::partition_dir(data_dir_, name, p);
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
        if (ec) sink_("WARN", "cannot remove " + dir + ": " + ec.message());
    }
    if (on_topic_deleted_) on_topic_deleted_(name);
    sink_("INFO", "deleted topic '" + name + "'");
}

void Bus::alter(const std::string& name, const std::vector<protocol::Setting>& changes) {
    for (const auto& [k, v] : changes)
        if (config::is_fixed_at_creation(k))
            throw Error(ErrorCode::invalid_argument, k + " cannot be altered after creation");
    config::TopicConfig tc;
    std::vector<std::shared_ptr<Partition>> parts;
    {
        std::lock_guard lock(mutex_);
        TopicPtr t = topic_named(name);
        tc = config::make_topic_config(t->config, changes);
        t->config = tc;
        for (const auto& change : changes) {  // no structured binding: clang 14's lambdas
            const std::string& key = change.first;
            std::erase_if(t->meta.config, [&](const auto& kv) { return kv.first == key; });
            t->meta.config.emplace_back(key, config::canonical_value(key, change.second));
        }
        t->meta.hold_timeout_ms = tc.consumer_hold_timeout_ms;
        parts = t->partitions;
    }
    for (const auto& p : parts)
        p->apply_config(tc);
    save();
    sink_("INFO", "altered topic '" + name + "'");
}

void Bus::replace_config(const std::string& name, const std::vector<protocol::Setting>& overrides,
                         bool validate_only) {
    std::vector<protocol::Setting> changes = overrides;
    {
        std::lock_guard lock(mutex_);
        const TopicPtr t = topic_named(name);
        const auto value_in = [](const std::vector<protocol::Setting>& list, const std::string& k) {
            const auto it = std::find_if(list.begin(), list.end(),
                                         [&](const auto& kv) { return kv.first == k; });
            return it == list.end() ? std::optional<std::string>() : it->second;
        };
        // Settings fixed at creation keep their value whether or not the list names them.
        for (const auto& [k, v] : overrides)
            if (config::is_fixed_at_creation(k) && value_in(t->meta.config, k) != v)
                throw Error(ErrorCode::invalid_argument, k + " cannot be altered after creation");
        std::erase_if(changes,
                      [](const auto& kv) { return config::is_fixed_at_creation(kv.first); });
        // What the topic overrides now and the list leaves out goes back to its default.
        const auto defaults = config::to_settings(broker_.topic_defaults);
        for (const auto& [k, v] : t->meta.config)
            if (const auto d = defaults.find(k);
                d != defaults.end() && !config::is_fixed_at_creation(k) && !value_in(overrides, k))
                changes.emplace_back(k, d->second);
        (void)config::make_topic_config(t->config, changes);  // throws for a bad value
    }
    if (validate_only) return;
    alter(name, changes);
    // The defaults put back are no longer overrides.
    std::lock_guard lock(mutex_);
    const TopicPtr t = topic_named(name);
    std::erase_if(t->meta.config, [&](const auto& kv) {
        return !config::is_fixed_at_creation(kv.first) &&
               std::none_of(overrides.begin(), overrides.end(),
                            [&](const auto& o) { return o.first == kv.first; });
    });
}

protocol::TopicMetadata Bus::add_partitions(const std::string& name, std::int32_t count,
                                            bool validate_only) {
    std::lock_guard growing(grow_mutex_);
    protocol::TopicMetadata m;
    config::TopicConfig tc;
    {
        std::lock_guard lock(mutex_);
        const TopicPtr t = topic_named(name);
        m = t->meta;
        tc = t->config;
        if (count <= m.partitions)
            throw Error(ErrorCode::invalid_argument,
                        "topic '" + name + "' has " + std::to_string(m.partitions) +
                            " partitions: the count can only grow (asked for " +
                            std::to_string(count) + ")");
        if (count > max_partitions_per_topic)
            throw Error(ErrorCode::invalid_argument, "partitions must be between 1 and " +
                                                         std::to_string(max_partitions_per_topic));
        check_limits("add partitions to '" + name + "'", count - m.partitions, tc, false);
    }
    if (validate_only) return m;
    const protocol::TopicMetadata before = m;
    m.partitions = count;
    // A directory left by an earlier topic of this name must not leak old records into it.
    for (std::int32_t p = before.partitions; p < count; ++p)
        std::filesystem::remove_all(topics::partition_dir(data_dir_, name, p));
    std::vector<std::shared_ptr<Partition>> added;
    try {
        added = build_partitions(m, tc, before.partitions, count, false);
        publish_partitions(name, m.topic_id, added);
        save();
    } catch (const std::exception& e) {
        added.clear();  // unmapped before their rings go
        unpublish_partitions(name, before, count);
        sink_("WARN",
              "cannot add partitions to '" + name + "': " + e.what() + " (nothing of it is left)");
        throw;
    }
    sink_("INFO", "topic '" + name + "' grew from " + std::to_string(before.partitions) + " to " +
                      std::to_string(count) + " partitions");
    std::lock_guard lock(mutex_);
    return topic_named(name)->meta;
}

void Bus::publish_partitions(const std::string& name, std::uint64_t topic_id,
                             const std::vector<std::shared_ptr<Partition>>& added) {
    std::lock_guard lock(mutex_);
    const auto it = topics_.find(name);
    if (it == topics_.end() || it->second->meta.topic_id != topic_id)
        throw Error(ErrorCode::unknown_topic, "topic '" + name + "' was deleted meanwhile");
    Topic& t = *it->second;
    t.partitions.insert(t.partitions.end(), added.begin(), added.end());
    t.meta.partitions = std::int32_t(t.partitions.size());
}

// Undoes a growth that failed part-way (a ring or a directory it could not make, or a topic
// list it could not write): every ring and directory of the partitions it meant to add goes.
void Bus::unpublish_partitions(const std::string& name, const protocol::TopicMetadata& before,
                               std::int32_t count) {
    std::vector<std::shared_ptr<Partition>> published;
    {
        std::lock_guard lock(mutex_);
        const auto it = topics_.find(name);
        if (it != topics_.end() && it->second->meta.topic_id == before.topic_id &&
            it->second->partitions.size() > std::size_t(before.partitions)) {
            auto& parts = it->second->partitions;
            published.assign(parts.begin() + before.partitions, parts.end());
            parts.resize(std::size_t(before.partitions));
            it->second->meta.partitions = before.partitions;
        }
    }
    for (const auto& p : published)
        p->retire();
    published.clear();
    for (std::int32_t p = before.partitions; p < count; ++p) {
        rings_.remove(before.topic_id, p);
        std::error_code ec;
        std::filesystem::remove_all(topics::partition_dir(data_dir_, name, p), ec);
    }
}

std::int64_t Bus::delete_records(const std::string& topic, std::int32_t partition,
                                 std::int64_t offset, const std::function<void()>& wake_spill) {
    const std::shared_ptr<Partition> p = this->partition(topic, partition);
    const auto hw = std::int64_t(p->high_watermark());
    if (offset == -1) offset = hw;
    if (offset < 0 || offset > hw)
        throw Error(ErrorCode::offset_out_of_range,
                    "cannot delete records of " + topic + "-" + std::to_string(partition) +
                        " before offset " + std::to_string(offset) + ": the high watermark is " +
                        std::to_string(hw));
    // The log start must not pass the log's end: the records on the ring go to disk first.
    if (!wait_for_log(*p, offset, wake_spill))
        throw Error(ErrorCode::timed_out, "the records of " + topic + "-" +
                                              std::to_string(partition) + " before offset " +
                                              std::to_string(offset) +
                                              " did not reach the log within a second");
    return p->log().delete_records_before(offset);
}

bool Bus::wait_for_log(Partition& p, std::int64_t offset,
                       const std::function<void()>& wake_spill) const {
    if (!broker_.spill_enable) return p.log().log_end_offset() >= offset;  // it never will
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (p.log().log_end_offset() < offset) {
        if (p.request_flush()) wake_spill();
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

std::vector<std::string> Bus::names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, t] : topics_)
        out.push_back(name);
    return out;
}

protocol::TopicMetadata Bus::metadata(const std::string& name, bool auto_create) {
    if (auto_create && broker_.auto_create_topics) {
        bool missing = false;
        {
            std::lock_guard lock(mutex_);
            missing = topics_.count(name) == 0;
        }
        if (missing) {
            try {
                (void)create({name, broker_.num_partitions, {}});
            } catch (const Error& e) {  // another caller created it meanwhile: fine
                if (e.code() != ErrorCode::topic_exists) throw;
            }
        }
    }
    std::lock_guard lock(mutex_);
    return topic_named(name)->meta;
}

config::TopicConfig Bus::config_of(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return topic_named(name)->config;
}

protocol::TopicDescription Bus::describe(const std::string& name) const {
    std::vector<std::shared_ptr<Partition>> parts;  // copied: add_partitions may grow the list
    protocol::TopicDescription d;
    {
        std::lock_guard lock(mutex_);
        const TopicPtr t = topic_named(name);
        d.metadata = t->meta;
        parts = t->partitions;
    }
    for (const auto& p : parts)
        d.partitions.push_back(p->state());
    return d;
}

std::shared_ptr<Partition> Bus::partition(const std::string& topic, std::int32_t p) const {
    std::lock_guard lock(mutex_);
    TopicPtr t = topic_named(topic);
    if (p < 0 || p >= t->meta.partitions)
        throw Error(ErrorCode::partition_out_of_range,
                    "partition " + std::to_string(p) + " of '" + topic + "'");
    return t->partitions[std::size_t(p)];
}

std::shared_ptr<Partition> Bus::partition(std::uint64_t topic_id, std::int32_t p) const {
    std::lock_guard lock(mutex_);
    for (const auto& [name, t] : topics_) {
        if (t->meta.topic_id != topic_id) continue;
        if (p < 0 || p >= t->meta.partitions)
            throw Error(ErrorCode::partition_out_of_range,
                        "partition " + std::to_string(p) + " out of range");
        return t->partitions[std::size_t(p)];
    }
    throw Error(ErrorCode::unknown_topic, "unknown topic id " + std::to_string(topic_id));
}

std::vector<std::shared_ptr<Partition>> Bus::partitions() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Partition>> out;
    for (const auto& [name, t] : topics_)
        out.insert(out.end(), t->partitions.begin(), t->partitions.end());
    return out;
}

std::optional<groups::PartitionBounds> Bus::bounds(const group::TopicPartition& tp) const {
    std::shared_ptr<Partition> p;
    try {
        p = partition(tp.topic, tp.partition);
    } catch (const Error&) {
        return std::nullopt;
    }
    return groups::PartitionBounds{p->log().log_start_offset(), std::int64_t(p->high_watermark())};
}

groups::SlotHost Bus::slot_host(const std::shared_ptr<Partition>& p) {
    return {{p->topic(), p->index()}, &p->ring().header(), &p->persisted_commits, p};
}

void Bus::for_each(const std::function<void(groups::SlotHost&)>& visit) {
    for (const auto& p : partitions()) {
        groups::SlotHost host = slot_host(p);
        visit(host);
    }
}

std::optional<groups::SlotHost> Bus::find(const group::TopicPartition& tp) {
    try {
        return slot_host(partition(tp.topic, tp.partition));
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace kbus::bus
