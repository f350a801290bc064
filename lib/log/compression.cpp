#include "log/compression.hpp"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "kbus/detail/big_endian.hpp"
#include "kbus/detail/crc32c.hpp"
#include "kbus/error.hpp"
#include "kbus/log/record_batch.hpp"

namespace kbus::log {
namespace {

using config::Compression;

[[noreturn]] void corrupt(const std::string& what) {
    throw Error(ErrorCode::protocol_error, "corrupt compressed batch: " + what);
}

void check_limit(std::size_t size, std::size_t max_output) {
    if (size > max_output)
        throw InflateLimitError(ErrorCode::protocol_error,
                                "corrupt compressed batch: decompressed size exceeds " +
                                    std::to_string(max_output) + " bytes");
}

// ---- gzip ---------------------------------------------------------------------------------------
void gzip_compress(std::string_view in, std::string& out) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error(ErrorCode::unknown, "zlib deflateInit2 failed");
    const std::size_t start = out.size();
    out.resize(start + deflateBound(&z, uLong(in.size())) + 32);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    z.avail_out = uInt(out.size() - start);
    const int rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw Error(ErrorCode::unknown, "zlib deflate failed");
    out.resize(start + z.total_out);
}

void gzip_decompress(std::span<const std::byte> in, std::string& out, std::size_t max_output) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) throw Error(ErrorCode::unknown, "zlib init failed");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    z.avail_in = uInt(in.size());
    out.clear();
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        const std::size_t have = out.size();
        out.resize(have + std::max<std::size_t>(in.size() * 2, 4096));
        z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
        z.avail_out = uInt(out.size() - have);
        rc = inflate(&z, Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (rc != Z_OK && rc != Z_STREAM_END) corrupt("gzip: " + std::string(z.msg ? z.msg : "?"));
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) corrupt("gzip: truncated");
        check_limit(out.size(), max_output);
    }
}

// ---- snappy (xerial framing: magic, version, compatible version, then length-prefixed blocks)
constexpr char xerial_magic[8] = {char(0x82), 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr std::size_t xerial_header_bytes = 16;
constexpr std::size_t xerial_block_bytes = 32 * 1024;

void snappy_compress(std::string_view in, std::string& out) {
    out.append(xerial_magic, 8);
    char versions[8];
    detail::store_be<std::int32_t>(versions, 1);
    detail::store_be<std::int32_t>(versions + 4, 1);
    out.append(versions, 8);
    std::string block;
    for (std::size_t at = 0; at < in.size(); at += xerial_block_bytes) {
        snappy::Compress(in.data() + at, std::min(xerial_block_bytes, in.size() - at), &block);
        char length[4];
        detail::store_be<std::int32_t>(length, std::int32_t(block.size()));
        out.append(length, 4);
        out += block;
    }
}

void snappy_raw(const char* p, std::size_t n, std::string& out, std::size_t max_output) {
    std::size_t length = 0;
    if (!snappy::GetUncompressedLength(p, n, &length)) corrupt("snappy: bad length");
    check_limit(out.size() + length, max_output);
    std::string block;
    if (!snappy::Uncompress(p, n, &block)) corrupt("snappy: bad block");
    out += block;
}

void snappy_decompress(std::span<const std::byte> in, std::string& out, std::size_t max_output) {
    const char* p = reinterpret_cast<const char*>(in.data());
    out.clear();
    if (in.size() < xerial_header_bytes || std::memcmp(p, xerial_magic, 8) != 0)
        return snappy_raw(p, in.size(), out, max_output);
    std::size_t at = xerial_header_bytes;
    while (at < in.size()) {
        if (in.size() - at < 4) corrupt("snappy: truncated block length");
        const auto length = detail::load_be<std::int32_t>(p + at);
        at += 4;
        if (length < 0 || std::size_t(length) > in.size() - at) corrupt("snappy: truncated block");
        snappy_raw(p + at, std::size_t(length), out, max_output);
        at += std::size_t(length);
    }
}

// ---- lz4 frame ---------------------------------------------------------------------------------
void lz4_compress(std::string_view in, std::string& out) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;  // what Kafka's own LZ4 writer produces
    const std::size_t start = out.size();
    out.resize(start + LZ4F_compressFrameBound(in.size(), &prefs));
    const std::size_t n =
        LZ4F_compressFrame(out.data() + start, out.size() - start, in.data(), in.size(), &prefs);
    if (LZ4F_isError(n)) throw Error(ErrorCode::unknown, LZ4F_getErrorName(n));
    out.resize(start + n);
}

void lz4_decompress(std::span<const std::byte> in, std::string& out, std::size_t max_output) {
    LZ4F_dctx* ctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
        throw Error(ErrorCode::unknown, "lz4 init failed");
    std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(
        ctx, LZ4F_freeDecompressionContext);
    out.clear();
    const char* src = reinterpret_cast<const char*>(in.data());
    std::size_t left = in.size();
    std::size_t hint = 1;
    while (left > 0 && hint != 0) {
        const std::size_t have = out.size();
        out.resize(have + 64 * 1024);
        std::size_t dst_size = out.size() - have, src_size = left;
        hint = LZ4F_decompress(ctx, out.data() + have, &dst_size, src, &src_size, nullptr);
        if (LZ4F_isError(hint)) corrupt(std::string("lz4: ") + LZ4F_getErrorName(hint));
        out.resize(have + dst_size);
        src += src_size;
        left -= src_size;
        check_limit(out.size(), max_output);
        if (src_size == 0 && dst_size == 0) corrupt("lz4: no progress");
    }
    if (hint != 0) corrupt("lz4: truncated frame");
}

// ---- zstd --------------------------------------------------------------------------------------
void zstd_compress(std::string_view in, std::string& out) {
    const std::size_t start = out.size();
    out.resize(start + ZSTD_compressBound(in.size()));
    const std::size_t n = ZSTD_compress(out.data() + start, out.size() - start, in.data(),
                                        in.size(), ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n)) throw Error(ErrorCode::unknown, ZSTD_getErrorName(n));
    out.resize(start + n);
}

void zstd_decompress(std::span<const std::byte> in, std::string& out, std::size_t max_output) {
    std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(),
                                                                     ZSTD_freeDStream);
    ZSTD_initDStream(ds.get());
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    out.clear();
    std::size_t rc = 1;
    while (rc != 0) {
        const std::size_t have = out.size();
        out.resize(have + ZSTD_DStreamOutSize());
        ZSTD_outBuffer dst{out.data() + have, out.size() - have, 0};
        rc = ZSTD_decompressStream(ds.get(), &dst, &src);
        if (ZSTD_isError(rc)) corrupt(std::string("zstd: ") + ZSTD_getErrorName(rc));
        out.resize(have + dst.pos);
        check_limit(out.size(), max_output);
        if (rc != 0 && src.pos == src.size && dst.pos < dst.size) corrupt("zstd: truncated");
    }
}

}  // namespace

void compress(Compression codec, std::string_view input, std::string& out) {
    switch (codec) {
        case Compression::none:
            out.append(input);
            return;
        case Compression::gzip:
            return gzip_compress(input, out);
        case Compression::snappy:
            return snappy_compress(input, out);
        case Compression::lz4:
            return lz4_compress(input, out);
        case Compression::zstd:
            return zstd_compress(input, out);
    }
}

void decompress(int codec_id, std::span<const std::byte> input, std::string& out,
                std::size_t max_output) {
    switch (codec_id) {
        case 0:
            check_limit(input.size(), max_output);
            out.assign(reinterpret_cast<const char*>(input.data()), input.size());
            return;
        case 1:
            return gzip_decompress(input, out, max_output);
        case 2:
            return snappy_decompress(input, out, max_output);
        case 3:
            return lz4_decompress(input, out, max_output);
        case 4:
            return zstd_decompress(input, out, max_output);
        default:
            throw Error(ErrorCode::protocol_error,
                        "unknown compression codec id " + std::to_string(codec_id));
    }
}

std::string decompress_batches(const std::string& batches, std::size_t max_decompressed,
                               std::size_t* consumed) {
    std::string out, plain;
    std::size_t at = 0;
    while (at < batches.size()) {
        const BatchView b(
            {reinterpret_cast<const std::byte*>(batches.data()) + at, batches.size() - at});
        if (b.check(false) != BatchCheck::ok) break;
        const std::size_t total = b.total_bytes();
        // Only bytes the CRC vouches for are worth inflating: a corrupt length is a bomb.
        if (b.compression_codec() != 0 && b.check(true) != BatchCheck::ok) break;
        if (b.compression_codec() == 0) {
            out.append(batches, at, total);
        } else {
            decompress(b.compression_codec(), b.records_bytes(), plain, max_decompressed);
            const std::size_t start = out.size();
            out.append(batches, at, batch_header_bytes);
            out += plain;
            char* h = out.data() + start;
            detail::store_be<std::int16_t>(h + attributes_offset,
                                           std::int16_t(b.attributes() & ~compression_mask));
            detail::store_be<std::int32_t>(h + batch_length_offset,
                                           std::int32_t(out.size() - start - log_overhead));
            detail::store_be<std::uint32_t>(
                h + crc_offset,
                detail::crc32c(h + attributes_offset, out.size() - start - attributes_offset));
        }
        at += total;
    }
    if (consumed != nullptr) *consumed = at;
    return out;
}

}  // namespace kbus::log
