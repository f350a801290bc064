#include "kafka/legacy_message_set.hpp"

#include <zlib.h>

#include <span>

#include "kbus/detail/big_endian.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/compression.hpp"

namespace kbus::kafka::legacy {

namespace {

std::uint32_t crc32_of(std::string_view bytes) {
    return std::uint32_t(
        ::crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
}

DecodeResult corrupt(std::string why) {
    return {KafkaError::corrupt_message, "legacy message set: " + std::move(why)};
}

struct Message {
    std::int8_t magic = 0;
    std::uint8_t attributes = 0;
    std::int64_t timestamp = -1;
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
};

// One message's fields, its CRC checked; nullopt (with `why`) when it does not parse.
std::optional<Message> parse_message(std::string_view m, std::string& why) {
    if (m.size() < min_message_bytes(0)) {
        why = "a message of " + std::to_string(m.size()) + " bytes";
        return std::nullopt;
    }
    const auto stored = detail::load_be<std::uint32_t>(m.data() + crc_offset);
    if (stored != crc32_of(m.substr(magic_offset))) {
        why = "CRC mismatch";
        return std::nullopt;
    }
    Message out;
    out.magic = std::int8_t(m[magic_offset]);
    out.attributes = std::uint8_t(m[attributes_offset]);
    if (out.magic > 1 || out.magic < 0 || m.size() < min_message_bytes(out.magic)) {
        why = "magic " + std::to_string(out.magic) + " in a message set";
        return std::nullopt;
    }
    if (out.magic == 1) out.timestamp = detail::load_be<std::int64_t>(m.data() + timestamp_offset);
    WireReader r(m.substr(key_offset(out.magic)));
    try {
        out.key = r.nullable_bytes();
        out.value = r.nullable_bytes();
    } catch (const KafkaDecodeError& e) {
        why = e.what();
        return std::nullopt;
    }
    return out;
}

BytesView view_of(const std::optional<std::string_view>& s) {
    return s ? BytesView(s->data(), s->size()) : BytesView();
}

// Adds the messages of `set` to the builder; `depth` 1 inside a compressed wrapper.
DecodeResult add_messages(std::string_view set, int depth, std::int64_t now_ms,
                          std::optional<std::int64_t> wrapper_time, std::size_t max_bytes,
                          log::BatchBuilder& builder) {
    while (!set.empty()) {
        if (set.size() < log_overhead) return corrupt("a torn message at its end");
        const auto size = detail::load_be<std::int32_t>(set.data() + offset_bytes);
        if (size < 0 || std::size_t(size) > set.size() - log_overhead)
            return corrupt("a message of " + std::to_string(size) + " bytes past its end");
        const std::string_view bytes = set.substr(log_overhead, std::size_t(size));
        set.remove_prefix(log_overhead + std::size_t(size));
        std::string why;
        const std::optional<Message> m = parse_message(bytes, why);
        if (!m) return corrupt(why);
        const int codec = m->attributes & codec_mask;
        if (codec != 0) {
            if (depth > 0) return corrupt("a compressed message inside a compressed one");
            if (codec == int(config::Compression::zstd))  // RecordBatch v2 only, as in Kafka
                return {KafkaError::unsupported_compression_type,
                        "legacy message set: zstd needs RecordBatch v2 (Produce v7+)"};
            std::string inner;
            try {
                const std::string_view v = m->value.value_or("");
                log::decompress(codec, std::as_bytes(std::span(v.data(), v.size())), inner,
                                max_bytes);
            } catch (const log::InflateLimitError& e) {
                return {KafkaError::message_too_large,
                        std::string("legacy message set: ") + e.what()};
            } catch (const Error& e) {
                return {KafkaError::corrupt_message,
                        std::string("legacy message set: ") + e.what()};
            }
            // LogAppendTime on the wrapper stamps every inner message with its time.
            const bool append_time = m->magic == 1 && (m->attributes & log_append_time_bit);
            const DecodeResult d = add_messages(
                inner, depth + 1, now_ms, append_time ? std::optional(m->timestamp) : std::nullopt,
                max_bytes, builder);
            if (d.error != KafkaError::none) return d;
            continue;
        }
        const std::int64_t ts = wrapper_time    ? *wrapper_time
                                : m->magic == 0 ? now_ms
                                                : m->timestamp;
        builder.add(builder.empty() ? 0 : builder.last_offset() + 1, ts, view_of(m->key),
                    view_of(m->value), {});
        if (builder.encoded_bytes() > max_bytes)
            return {KafkaError::message_too_large, "legacy message set: over its size bound"};
    }
    return {};
}

void put_message(std::string& out, std::int64_t offset, std::int8_t magic, bool append_time,
                 const log::RecordView& r) {
    std::string m(key_offset(magic), '\0');
    m[magic_offset] = char(magic);
    m[attributes_offset] = char(magic == 1 && append_time ? log_append_time_bit : 0);
    if (magic == 1) detail::store_be(m.data() + timestamp_offset, r.timestamp);
    const auto put_bytes = [&](const BytesView& b) {
        char length[4];
        detail::store_be(length, b.wire_length());
        m.append(length, 4);
        if (!b.is_null()) m.append(b.str());
    };
    put_bytes(r.key);
    put_bytes(r.value);
    detail::store_be(m.data() + crc_offset, crc32_of(std::string_view(m).substr(magic_offset)));
    char head[log_overhead];
    detail::store_be(head, offset);
    detail::store_be(head + offset_bytes, std::int32_t(m.size()));
    out.append(head, log_overhead);
    out += m;
}

}  // namespace

DecodeResult upconvert(std::string_view message_set, std::int64_t now_ms, std::size_t max_bytes,
                       log::BatchBuilder& builder, std::string& batch) {
    builder.clear();
    const DecodeResult d = add_messages(message_set, 0, now_ms, std::nullopt, max_bytes, builder);
    if (d.error != KafkaError::none) return d;
    if (builder.empty()) return corrupt("no messages");
    batch.assign(builder.finish(config::Compression::none));
    return {};
}

std::string downconvert(std::string_view batches, std::int8_t magic, std::size_t max_decompressed,
                        std::int64_t from_offset, std::size_t max_bytes) {
    const std::string plain = log::decompress_batches(std::string(batches), max_decompressed);
    std::string out;
    std::span<const std::byte> rest = std::as_bytes(std::span(plain.data(), plain.size()));
    while (!rest.empty()) {
        const log::BatchView b(rest);
        if (b.check(false) != log::BatchCheck::ok) break;
        rest = rest.subspan(b.total_bytes());
        if (b.is_control()) continue;
        log::RecordIterator it(b.records_bytes(), b.record_count(), b.base_offset(),
                               b.base_timestamp(), b.log_append_time() ? b.max_timestamp() : -1);
        for (log::RecordView r; it.next(r);) {
            if (r.offset < from_offset) continue;
            const std::size_t before = out.size();
            put_message(out, r.offset, magic, b.log_append_time(), r);
            if (out.size() > max_bytes && before > 0) {
                out.resize(before);
                return out;
            }
        }
    }
    return out;
}

}  // namespace kbus::kafka::legacy
