#include "groups/offset_store.hpp"

#include <sstream>

#include "kbus/error.hpp"

namespace kbus::groups {
namespace {

// Commit metadata is any bytes: kept as hex, one token of the line.
std::string to_hex(const std::string& bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// Damage (a digit that is none) costs the metadata, never the offset.
std::string from_hex(const std::string& hex) {
    const auto value = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        const int hi = value(hex[i]), lo = value(hex[i + 1]);
        if (hi < 0 || lo < 0) return {};
        out += char(hi * 16 + lo);
    }
    return out;
}

std::string commit_line(const std::string& group, const group::TopicPartition& tp,
                        std::int64_t offset, const std::string& metadata) {
    return "commit " + group + " " + tp.topic + " " + std::to_string(tp.partition) + " " +
           std::to_string(offset) + (metadata.empty() ? "" : " " + to_hex(metadata)) + "\n";
}

}  // namespace

namespace {
// Past this size the file is rewritten with only the live offsets.
constexpr std::uint64_t compact_above_bytes = 64ULL << 20;
}  // namespace

OffsetStore::OffsetStore(const std::string& data_dir, logging::LogSink sink)
    : path_(data_dir + "/__kbus_offsets"), sink_(std::move(sink)) {
    load();
    try {
        compact();
    } catch (const Error& e) {
        // Compacting is housekeeping: a full data disk must not keep kbusd from starting. The
        // file as it is serves; appends go after its last whole line.
        sink_("WARN", "cannot compact " + path_ + " (" + e.what() + "); appending to it as it is");
        file_ = log::File(path_, true);
        file_.truncate(whole_lines_bytes_);
        file_size_ = whole_lines_bytes_;
    }
}

void OffsetStore::load() {
    std::string text;
    if (!log::read_whole_file(path_, text)) return;  // no file yet: no offsets
    whole_lines_bytes_ = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    std::istringstream in(text);
    std::string line;
    std::size_t number = 0, skipped = 0;
    while (std::getline(in, line)) {
        ++number;
        std::istringstream fields(line);
        std::string op, group, topic;
        std::int32_t partition = 0;
        std::int64_t offset = 0;
        fields >> op;
        if (op == "commit" && (fields >> group >> topic >> partition >> offset) && partition >= 0 &&
            offset >= 0) {
            offsets_[group][{topic, partition}] = offset;
            std::string hex;
            if (fields >> hex)
                metadata_[{group, {topic, partition}}] = from_hex(hex);
            else
                metadata_.erase({group, {topic, partition}});
        } else if (op == "delete-group" && (fields >> group)) {
            offsets_.erase(group);
            std::erase_if(metadata_, [&](const auto& e) { return e.first.first == group; });
        } else if (op == "delete-offset" && (fields >> group >> topic >> partition)) {
            if (auto it = offsets_.find(group); it != offsets_.end())
                it->second.erase({topic, partition});
            metadata_.erase({group, {topic, partition}});
        } else if (op == "delete-topic" && (fields >> topic)) {
            std::erase_if(metadata_, [&](const auto& e) { return e.first.second.topic == topic; });
            for (auto& [g, m] : offsets_)
                std::erase_if(m, [&](const auto& e) { return e.first.topic == topic; });
        } else {
            ++skipped;  // a torn last line after a crash, or damage: the older value stands
            sink_("WARN", path_ + ":" + std::to_string(number) + ": unreadable line skipped");
        }
    }
    std::erase_if(offsets_, [](const auto& e) { return e.second.empty(); });
}

void OffsetStore::compact() {
    std::string text;
    for (const auto& [group, m] : offsets_)
        for (const auto& [tp, offset] : m)
            text += commit_line(group, tp, offset, metadata(group, tp));
    // The old file stays open until its replacement is in place: a compaction that fails (a
    // full disk) leaves the store appending where it was, not closed.
    log::write_file_durably(path_, text);
    file_ = log::File(path_, false);
    file_size_ = text.size();
}

void OffsetStore::append(const std::string& line) {
    file_.write_at(file_size_, line);
    file_size_ += line.size();
    if (file_size_ > compact_above_bytes) compact();
}

std::string OffsetStore::metadata(const std::string& group, const group::TopicPartition& tp) const {
    const auto it = metadata_.find({group, tp});
    return it == metadata_.end() ? std::string() : it->second;
}

void OffsetStore::commit(const std::string& group, const group::TopicPartition& tp,
                         std::int64_t offset, const std::string& metadata) {
    append(commit_line(group, tp, offset, metadata));
    offsets_[group][tp] = offset;
    if (metadata.empty())
        metadata_.erase({group, tp});
    else
        metadata_[{group, tp}] = metadata;
}

void OffsetStore::erase_group(const std::string& group) {
    std::erase_if(metadata_, [&](const auto& e) { return e.first.first == group; });
    if (offsets_.erase(group) != 0) append("delete-group " + group + "\n");
}

void OffsetStore::erase_offset(const std::string& group, const group::TopicPartition& tp) {
    const auto it = offsets_.find(group);
    metadata_.erase({group, tp});
    if (it == offsets_.end() || it->second.erase(tp) == 0) return;
    if (it->second.empty()) offsets_.erase(it);
    append("delete-offset " + group + " " + tp.topic + " " + std::to_string(tp.partition) + "\n");
}

void OffsetStore::erase_topic(const std::string& topic) {
    std::erase_if(metadata_, [&](const auto& e) { return e.first.second.topic == topic; });
    bool any = false;
    for (auto& [g, m] : offsets_)
        any |= std::erase_if(m, [&](const auto& e) { return e.first.topic == topic; }) != 0;
    std::erase_if(offsets_, [](const auto& e) { return e.second.empty(); });
    if (any) append("delete-topic " + topic + "\n");
}

std::optional<std::int64_t> OffsetStore::committed(const std::string& group,
                                                   const group::TopicPartition& tp) const {
    const OffsetMap* m = offsets_of(group);
    if (m == nullptr) return std::nullopt;
    const auto it = m->find(tp);
    if (it == m->end()) return std::nullopt;
    return it->second;
}

const OffsetMap* OffsetStore::offsets_of(const std::string& group) const {
    const auto it = offsets_.find(group);
    return it == offsets_.end() ? nullptr : &it->second;
}

std::vector<std::string> OffsetStore::groups() const {
    std::vector<std::string> out;
    for (const auto& [g, m] : offsets_)
        out.push_back(g);
    return out;
}

}  // namespace kbus::groups
