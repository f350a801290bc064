// Kafka's batch codecs (attributes bits 0-2): gzip (zlib), snappy (xerial framing, as Kafka's
// Java client writes; raw snappy is read too, as librdkafka may write it), lz4 (the LZ4 frame
// format with independent blocks) and zstd, all from Debian's libraries.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "config/topic_config.hpp"
#include "kbus/error.hpp"

namespace kbus::log {

// Appends the compressed form of `input` to `out`.
void compress(config::Compression codec, std::string_view input, std::string& out);

// Output that would pass its bound (a decompression bomb, or records too large to store):
// still Error(protocol_error) to everyone who treats it as corrupt input, and its own type to a
// caller that answers it as "too large" (the Kafka listener: MESSAGE_TOO_LARGE).
class InflateLimitError : public Error {
  public:
    using Error::Error;
};

// Decompresses `input` into `out` (replacing it). Throws Error(protocol_error) on corrupt input
// or an unknown codec id, and InflateLimitError on output over max_output bytes.
void decompress(int codec_id, std::span<const std::byte> input, std::string& out,
                std::size_t max_output);

// Rewrites whole RecordBatch v2 batches so that none is compressed (attributes, batchLength and
// the CRC are updated). Bytes after the last whole batch are dropped, and so is everything from a
// compressed batch whose CRC fails or that would inflate beyond max_decompressed bytes (a
// decompression bomb: Error(protocol_error)). `consumed`, if given, is set to how many input
// bytes the result stands for: less than the input's size where a bad batch stopped it.
[[nodiscard]] std::string decompress_batches(const std::string& batches,
                                             std::size_t max_decompressed,
                                             std::size_t* consumed = nullptr);

}  // namespace kbus::log
