#include "log/transaction_index.hpp"

#include <algorithm>
#include <filesystem>

#include "kbus/detail/big_endian.hpp"
#include "kbus/log/record_batch_descriptor.hpp"
#include "log/file.hpp"
#include "log/segment.hpp"

namespace kbus::log {

std::string TransactionIndex::path_of(std::int64_t segment_base) const {
    return segment_file_name(dir_, segment_base, ".txnindex");
}

namespace {

std::string encoded(const AbortedTransaction& t) {
    char e[txnindex_entry_bytes];
    detail::store_be<std::int16_t>(e + txnindex_version_offset, 0);
    detail::store_be<std::int64_t>(e + txnindex_producer_id_offset, t.producer_id);
    detail::store_be<std::int64_t>(e + txnindex_first_offset_offset, t.first_offset);
    detail::store_be<std::int64_t>(e + txnindex_last_offset_offset, t.last_offset);
    detail::store_be<std::int64_t>(e + txnindex_last_stable_offset_offset, t.last_stable_offset);
    return std::string(e, sizeof e);
}

}  // namespace

std::size_t TransactionIndex::load(std::int64_t log_end) {
    by_segment_.clear();
    std::size_t dropped = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        const std::int64_t base = segment_base_of(entry.path().filename().string(), ".txnindex");
        if (base < 0) continue;
        File f(entry.path().string(), false);
        std::string bytes(f.size(), '\0');
        bytes.resize(f.read_at(0, bytes.data(), bytes.size()));
        std::vector<AbortedTransaction>& kept = by_segment_[base];
        std::string rewritten;
        for (std::size_t at = 0; at + txnindex_entry_bytes <= bytes.size();
             at += txnindex_entry_bytes) {
            const char* e = bytes.data() + at;
            const AbortedTransaction t{
                detail::load_be<std::int64_t>(e + txnindex_producer_id_offset),
                detail::load_be<std::int64_t>(e + txnindex_first_offset_offset),
                detail::load_be<std::int64_t>(e + txnindex_last_offset_offset),
                detail::load_be<std::int64_t>(e + txnindex_last_stable_offset_offset)};
            // An entry no abort can have is dropped alone; one past the log's end was cut with
            // its marker (the spill writes it again with the marker).
            if (detail::load_be<std::int16_t>(e + txnindex_version_offset) != 0 ||
                t.producer_id < 0 || t.first_offset < 0 || t.first_offset > t.last_offset ||
                t.last_offset >= log_end) {
                dropped += t.last_offset >= log_end && t.first_offset <= t.last_offset ? 0 : 1;
                continue;
            }
            kept.push_back(t);
            rewritten += encoded(t);
        }
        if (rewritten.size() != bytes.size()) {
            f.write_at(0, rewritten);
            f.truncate(rewritten.size());
        }
    }
    return dropped;
}

void TransactionIndex::append(std::int64_t segment_base, const AbortedTransaction& t) {
    for (const auto& [base, noted] : by_segment_)  // a retried append notes its abort again
        if (!noted.empty() && noted.back().last_offset >= t.last_offset) return;
    std::vector<AbortedTransaction>& entries = by_segment_[segment_base];
    File f(path_of(segment_base), true);
    // At the end of the entries we know: a torn entry a crash left is written over.
    f.write_at(entries.size() * txnindex_entry_bytes, encoded(t));
    entries.push_back(t);
}

std::vector<AbortedTransaction> TransactionIndex::overlapping(std::int64_t from,
                                                              std::int64_t to) const {
    std::vector<AbortedTransaction> out;
    for (const auto& [base, entries] : by_segment_)
        for (const AbortedTransaction& t : entries)
            if (t.last_offset >= from && t.first_offset <= to) out.push_back(t);
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first_offset < b.first_offset; });
    return out;
}

void TransactionIndex::remove(const std::vector<AbortedTransaction>& gone) {
    const auto is_gone = [&](const AbortedTransaction& t) {
        return std::any_of(gone.begin(), gone.end(), [&](const AbortedTransaction& g) {
            return g.producer_id == t.producer_id && g.last_offset == t.last_offset;
        });
    };
    for (auto it = by_segment_.begin(); it != by_segment_.end();) {
        std::vector<AbortedTransaction>& entries = it->second;
        if (std::none_of(entries.begin(), entries.end(), is_gone)) {
            ++it;
            continue;
        }
        std::erase_if(entries, is_gone);
        if (entries.empty()) {
            std::filesystem::remove(path_of(it->first));
            it = by_segment_.erase(it);
            continue;
        }
        std::string bytes;
        for (const AbortedTransaction& t : entries)
            bytes += encoded(t);
        write_file_durably(path_of(it->first), bytes);
        ++it;
    }
}

void TransactionIndex::drop_below(std::int64_t base) {
    for (auto it = by_segment_.begin(); it != by_segment_.end() && it->first < base;) {
        std::error_code ignored;
        std::filesystem::remove(path_of(it->first), ignored);
        it = by_segment_.erase(it);
    }
}

}  // namespace kbus::log
