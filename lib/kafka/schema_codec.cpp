#include "kafka/schema_codec.hpp"

#include <string>

namespace kbus::kafka {

using schema::Field;
using schema::Type;

namespace {

// A field read or written in the struct's body at `version` (not absent, not tagged there).
bool in_body(const Field& f, std::int16_t version) {
    return f.versions.has(version) && !(f.is_tagged() && f.tagged.has(version));
}

bool tagged_at(const Field& f, std::int16_t version, bool flexible) {
    return flexible && f.is_tagged() && f.tagged.has(version) && f.versions.has(version);
}

[[noreturn]] void refuse_null(const Field& f, std::int16_t version) {
    throw KafkaDecodeError("null " + std::string(f.name) + ", which v" + std::to_string(version) +
                           " does not allow");
}

// A tagged field whose value is its default is left out, as Kafka's own encoder does (a struct
// is at its default when each of its fields is).
bool is_default(const Field& f, const Value& v) {
    if (v.is_null()) return f.default_null;
    if (f.default_null) return false;
    if (v.kind() == Value::Kind::object && !f.is_array) {
        const auto fields = f.element->fields;
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (!is_default(fields[i], v.items()[i])) return false;
        return true;
    }
    switch (v.kind()) {
        case Value::Kind::integer:
            return v.integer() == f.default_int;
        case Value::Kind::array:
        case Value::Kind::text:
            return f.is_array ? v.items().empty() : v.text().empty();
        default:
            return false;
    }
}

}  // namespace

Value SchemaCodec::decode(WireReader& r, const schema::Struct& s, std::int16_t version,
                          bool flexible) {
    Value v = Value::object_of(s);
    decode_struct(r, v, version, flexible);
    return v;
}

void SchemaCodec::skip_tagged_fields(WireReader& r) {
    const std::uint32_t count = r.uvarint();
    for (std::uint32_t i = 0; i < count; ++i) {
        (void)r.uvarint();
        (void)r.raw(r.uvarint());
    }
}

void SchemaCodec::decode_struct(WireReader& r, Value& object, std::int16_t version, bool flexible) {
    const auto fields = object.type()->fields;
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (in_body(fields[i], version))
            object.items()[i] = decode_field(r, fields[i], version, flexible);
    if (!flexible) return;
    const std::uint32_t count = r.uvarint();
    for (std::uint32_t n = 0; n < count; ++n) {
        const std::uint32_t tag = r.uvarint();
        WireReader payload(r.raw(r.uvarint()));
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (tagged_at(fields[i], version, flexible) && std::uint32_t(fields[i].tag) == tag) {
                object.items()[i] = decode_field(payload, fields[i], version, flexible);
                break;
            }
        // A tag this version does not know is skipped: its payload is consumed above.
    }
}

Value SchemaCodec::decode_field(WireReader& r, const Field& f, std::int16_t version,
                                bool flexible) {
    if (!f.is_array) return decode_one(r, f, version, flexible);
    std::optional<std::size_t> count;
    if (flexible) {
        count = r.compact_length();
    } else {
        const std::int32_t n = r.array_count(0, true);
        if (n >= 0) count = std::size_t(n);
    }
    Value v = Value::default_of(f);
    if (!count) {
        if (!f.nullable.has(version)) refuse_null(f, version);
        return v.set_null();
    }
    // Every element takes at least a byte: a count beyond the bytes left is a lie.
    if (*count > r.remaining())
        throw KafkaDecodeError(std::string(f.name) + ": array count " + std::to_string(*count) +
                               " exceeds the request");
    v.set_array();
    v.items().reserve(*count);
    Field element = f;
    element.is_array = false;
    element.nullable = schema::none;
    for (std::size_t i = 0; i < *count; ++i)
        v.items().push_back(decode_one(r, element, version, flexible));
    return v;
}

Value SchemaCodec::decode_one(WireReader& r, const Field& f, std::int16_t version, bool flexible) {
    Value v;
    switch (f.type) {
        case Type::int8:
            return v.set(r.i8());
        case Type::int16:
            return v.set(r.i16());
        case Type::uint16:
            return v.set(std::uint16_t(r.i16()));
        case Type::int32:
            return v.set(r.i32());
        case Type::int64:
            return v.set(r.i64());
        case Type::boolean:
            return v.set(r.i8() != 0);
        case Type::float64:
            return v.set_real(r.f64());
        case Type::uuid: {
            Value::Uuid id;
            const std::string_view b = r.raw(id.size());
            for (std::size_t i = 0; i < id.size(); ++i)
                id[i] = std::uint8_t(b[i]);
            return v.set_uuid(id);
        }
        case Type::string:
        case Type::bytes:
        case Type::records: {
            std::optional<std::string_view> run;
            if (flexible)
                run = r.compact_nullable_run();
            else
                run = f.type == Type::string ? r.nullable_string() : r.nullable_bytes();
            if (!run) {
                if (!f.nullable.has(version)) refuse_null(f, version);
                return v;
            }
            return v.set_view(*run);
        }
        case Type::object: {
            if (f.nullable.has(version) && r.i8() < 0) return v;
            Value o = Value::object_of(*f.element);
            decode_struct(r, o, version, flexible);
            return o;
        }
    }
    throw KafkaDecodeError("a field of unknown type");
}

void SchemaCodec::encode(WireWriter& w, const Value& message, std::int16_t version, bool flexible,
                         const Splice& splice) {
    encode_struct(w, message, version, flexible, splice);
}

void SchemaCodec::encode_struct(WireWriter& w, const Value& object, std::int16_t version,
                                bool flexible, const Splice& splice) {
    const auto fields = object.type()->fields;
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (in_body(fields[i], version))
            encode_field(w, fields[i], object.items()[i], version, flexible, splice);
    if (!flexible) return;
    std::size_t count = 0;
    for (std::size_t i = 0; i < fields.size(); ++i)
        count +=
            tagged_at(fields[i], version, flexible) && !is_default(fields[i], object.items()[i]);
    w.uvarint(std::uint32_t(count));
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (!tagged_at(fields[i], version, flexible) || is_default(fields[i], object.items()[i]))
            continue;
        WireWriter payload;
        encode_field(payload, fields[i], object.items()[i], version, flexible, splice);
        w.uvarint(std::uint32_t(fields[i].tag));
        w.uvarint(std::uint32_t(payload.size()));
        w.raw(payload.buffer());
    }
}

void SchemaCodec::encode_field(WireWriter& w, const Field& f, const Value& v, std::int16_t version,
                               bool flexible, const Splice& splice) {
    if (!f.is_array) return encode_one(w, f, v, version, flexible, splice);
    // A null array where the version has none is sent empty: the client reads a valid answer.
    if (v.is_null() && f.nullable.has(version)) {
        if (flexible)
            w.compact_length(std::nullopt);
        else
            w.i32(-1);
        return;
    }
    if (flexible)
        w.compact_length(v.items().size());
    else
        w.array_count(v.items().size());
    Field element = f;
    element.is_array = false;
    element.nullable = schema::none;
    for (const Value& e : v.items())
        encode_one(w, element, e, version, flexible, splice);
}

void SchemaCodec::encode_one(WireWriter& w, const Field& f, const Value& v, std::int16_t version,
                             bool flexible, const Splice& splice) {
    switch (f.type) {
        case Type::int8:
        case Type::boolean:
            return w.i8(std::int8_t(v.integer()));
        case Type::int16:
        case Type::uint16:
            return w.i16(std::int16_t(v.integer()));
        case Type::int32:
            return w.i32(std::int32_t(v.integer()));
        case Type::int64:
            return w.i64(v.integer());
        case Type::float64:
            return w.f64(v.real());
        case Type::uuid:
            return w.raw({reinterpret_cast<const char*>(v.uuid().data()), v.uuid().size()});
        case Type::string:
        case Type::bytes:
        case Type::records: {
            if (v.kind() == Value::Kind::extent) {
                const auto length = std::size_t(v.integer());
                if (flexible)
                    w.compact_length(length);
                else
                    w.i32(std::int32_t(length));
                if (splice) splice(v);
                return;
            }
            if (v.is_null() && f.nullable.has(version)) {
                if (flexible)
                    w.compact_length(std::nullopt);
                else if (f.type == Type::string)
                    w.null_string();
                else
                    w.i32(-1);
                return;
            }
            std::string_view text = v.text();
            if (flexible) {
                w.compact_length(text.size());
                w.raw(text);
            } else if (f.type == Type::string) {
                w.string(text);
            } else {
                w.bytes(text);
            }
            return;
        }
        case Type::object: {
            if (f.nullable.has(version)) {
                w.i8(v.is_null() ? -1 : 1);
                if (v.is_null()) return;
            }
            if (v.is_null() || v.type() == nullptr) {
                encode_struct(w, Value::object_of(*f.element), version, flexible, splice);
                return;
            }
            return encode_struct(w, v, version, flexible, splice);
        }
    }
}

}  // namespace kbus::kafka
