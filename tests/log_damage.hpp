// Damaging a partition's segment files the way a disk does, for the tests of issue 17's "damage
// is contained": the batches of a .log (where each lies and which offsets it holds), bytes
// flipped in one of them, a file cut mid-batch. Header-only and free of kbus internals beyond the
// batch layout, so both unit and multi-process tests use it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "kbus/detail/big_endian.hpp"
#include "kbus/log/record_batch_descriptor.hpp"

namespace kbus::testing {

struct BatchSpan {
    std::uint64_t begin = 0;  // bytes of the .log
    std::uint64_t end = 0;
    std::int64_t first_offset = 0;
    std::int64_t last_offset = 0;
};

// The .log files of a partition directory, oldest first.
inline std::vector<std::filesystem::path> segment_logs(const std::string& dir) {
    std::vector<std::filesystem::path> logs;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".log") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    return logs;
}

inline std::int64_t base_offset_of(const std::filesystem::path& log) {
    return std::stoll(log.filename().string().substr(0, 20));
}

// Every batch of a sound .log, by its headers.
inline std::vector<BatchSpan> batches_of(const std::filesystem::path& log) {
    std::ifstream in(log, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::vector<BatchSpan> out;
    for (std::uint64_t pos = 0; pos + log::batch_header_bytes <= bytes.size();) {
        const char* h = bytes.data() + pos;
        const auto total =
            std::uint64_t(detail::load_be<std::int32_t>(h + log::batch_length_offset)) +
            log::log_overhead;
        const auto base = detail::load_be<std::int64_t>(h + log::base_offset_offset);
        const auto delta = detail::load_be<std::int32_t>(h + log::last_offset_delta_offset);
        out.push_back({pos, pos + total, base, base + delta});
        pos += total;
    }
    return out;
}

// XORs `n` bytes at `pos` with 0x5a (a flip that never leaves a byte as it was).
inline void flip_bytes(const std::filesystem::path& file, std::uint64_t pos, std::size_t n) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + file.string());
    std::string b(n, '\0');
    f.seekg(std::streamoff(pos));
    f.read(b.data(), std::streamsize(n));
    for (char& c : b)
        c = char(c ^ 0x5a);
    f.seekp(std::streamoff(pos));
    f.write(b.data(), std::streamsize(n));
}

// Flips 16 bytes in the middle of the batch that holds the file's middle byte (inside its records,
// where only the CRC can tell); returns that batch.
inline BatchSpan damage_middle_batch(const std::filesystem::path& log) {
    const std::vector<BatchSpan> batches = batches_of(log);
    if (batches.empty()) throw std::runtime_error(log.string() + " has no batch");
    const std::uint64_t middle = batches.back().end / 2;
    BatchSpan victim = batches.front();
    for (const BatchSpan& b : batches)
        if (b.begin <= middle && middle < b.end) victim = b;
    if (victim.end - victim.begin < log::batch_header_bytes + 64)
        throw std::runtime_error("the middle batch of " + log.string() + " is too small");
    flip_bytes(log, victim.begin + (victim.end - victim.begin) / 2, 16);
    return victim;
}

}  // namespace kbus::testing
