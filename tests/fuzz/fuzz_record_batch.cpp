// Fuzz target: RecordBatch v2 bytes as they come from a segment file or a fetch: batch checks,
// decompression (with its bomb limit), record and header iteration, and the fetch path's
// rewrite of compressed batches. Nothing may read outside the input or trust a length.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kbus/error.hpp"
#include "kbus/log/record_batch.hpp"
#include "log/compression.hpp"

using namespace kbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::size_t at = 0;
    std::string plain;
    while (at < input.size()) {
        log::BatchView b({reinterpret_cast<const std::byte*>(input.data()) + at, size - at});
        if (b.check(true) != log::BatchCheck::ok && b.check(false) != log::BatchCheck::ok) break;
        try {
            log::decompress(b.compression_codec(), b.records_bytes(), plain, 1 << 20);
        } catch (const Error&) {
            break;
        }
        log::RecordIterator it({reinterpret_cast<const std::byte*>(plain.data()), plain.size()},
                               b.record_count(), b.base_offset(), b.base_timestamp());
        std::size_t bytes = 0;
        for (log::RecordView r; it.next(r);) {
            bytes += r.key.size() + r.value.size();
            for (log::RecordHeaderIterator h(r.headers, r.header_count); !h.done(); ++h)
                bytes += h->key.size() + h->value.size();
        }
        if (bytes > plain.size()) __builtin_trap();  // views must lie inside the records
        at += b.total_bytes();
    }
    try {
        (void)log::decompress_batches(input, 1 << 20);
    } catch (const Error&) {
    }
    return 0;
}
