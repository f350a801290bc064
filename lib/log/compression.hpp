// Kafka's batch codecs (attributes bits 0-2): gzip (zlib), snappy (xerial framing, as Kafka's
// Java client writes; raw snappy is read too, as librdkafka may write it), lz4 (the LZ4 frame
// format with independent blocks) and zstd, all from Debian's libraries.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "config/topic_config.hpp"

namespace kbus::log {

// Appends the compressed form of `input` to `out`.
void compress(config::Compression codec, std::string_view input, std::string& out);

// Decompresses `input` into `out` (replacing it). Throws Error(protocol_error) on corrupt input,
// an unknown codec id, or output over max_output bytes (a decompression bomb).
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
