// The one decoder and encoder of every Kafka message kbusd serves, driven by the schema tables:
// a struct's fields in order at the message's version, then, in flexible versions (KIP-482),
// its tagged fields (unknown tags are skipped, as the protocol says). Lengths and counts are
// checked against the bytes left before anything is allocated, so a hostile frame can neither
// read outside itself nor make the daemon allocate what it only claims to hold.
#pragma once

#include <cstdint>
#include <functional>

#include "kafka/message.hpp"
#include "kafka/schema.hpp"
#include "kbus/detail/kafka_wire.hpp"

namespace kbus::kafka {

class SchemaCodec {
  public:
    [[nodiscard]] static Value decode(WireReader& r, const schema::Struct& s, std::int16_t version,
                                      bool flexible);
    // Called where a Kind::extent value's bytes belong (after its length is written).
    using Splice = std::function<void(const Value& extent)>;
    static void encode(WireWriter& w, const Value& message, std::int16_t version, bool flexible,
                       const Splice& splice = {});
    // A tagged-field section whose fields nobody here reads (a request header v2's).
    static void skip_tagged_fields(WireReader& r);

  private:
    static void decode_struct(WireReader& r, Value& object, std::int16_t version, bool flexible);
    static Value decode_field(WireReader& r, const schema::Field& f, std::int16_t version,
                              bool flexible);
    static Value decode_one(WireReader& r, const schema::Field& f, std::int16_t version,
                            bool flexible);
    static void encode_struct(WireWriter& w, const Value& object, std::int16_t version,
                              bool flexible, const Splice& splice);
    static void encode_field(WireWriter& w, const schema::Field& f, const Value& v,
                             std::int16_t version, bool flexible, const Splice& splice);
    static void encode_one(WireWriter& w, const schema::Field& f, const Value& v,
                           std::int16_t version, bool flexible, const Splice& splice);
};

}  // namespace kbus::kafka
