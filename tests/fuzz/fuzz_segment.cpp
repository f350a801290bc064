// Fuzz target: a partition directory holding one segment of arbitrary bytes (a disk that tore,
// flipped or lied), opened three ways: recovered after a crash with nothing known to be on disk
// (every bad batch is a torn tail: cut), recovered with a recovery point past all of it (every
// bad batch is corruption: stepped over, never cut), and trusted after a clean stop (framing
// only). Then read back by offset and by timestamp. Every batch served must pass what the open
// checked, offsets never go back, damage reported must name offsets past the one asked for, and
// a read never stops at damage forever.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "kbus/error.hpp"
#include "log/partition_log.hpp"

using namespace kbus;
namespace fs = std::filesystem;

namespace {

void read_back(log::PartitionLog& l, bool verified) {
    for (std::int64_t next = l.log_start_offset(); next < l.log_end_offset();) {
        std::string bytes;
        try {
            bytes = l.read(next, 1 << 16);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::corrupt_record) throw;
            const auto damage = l.damage_at(next, false);
            if (!damage) __builtin_trap();                            // an error with no damage
            if (damage->region.last_offset < next) __builtin_trap();  // it would stop us forever
            next = damage->region.last_offset + 1;
            continue;
        }
        if (bytes.empty()) break;
        const log::BatchView b({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
        if (b.check(false) != log::BatchCheck::ok) __builtin_trap();  // unframed bytes served
        if (b.check(true) != log::BatchCheck::ok) {
            if (verified) __builtin_trap();  // recovery let it through
            // Trusted after a clean stop: the reader's check finds it, and the log confirms it.
            const auto damage = l.damage_at(next, true);
            if (!damage || damage->region.last_offset < next) __builtin_trap();
            next = damage->region.last_offset + 1;
            continue;
        }
        if (b.last_offset() < next) __builtin_trap();  // offsets went back
        next = b.last_offset() + 1;
    }
    (void)l.offset_for_timestamp(0);
    try {
        (void)l.locate(l.log_start_offset(), 1 << 16);
    } catch (const Error& e) {
        if (e.code() != ErrorCode::corrupt_record) throw;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path dir =
        fs::temp_directory_path() / ("kbus-fuzz-segment-" + std::to_string(::getpid()) + "-0");
    const auto quiet = [](const std::string&, const std::string&) {};
    for (int way = 0; way < 3; ++way) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        std::ofstream(dir / "00000000000000000000.log", std::ios::binary)
            .write(reinterpret_cast<const char*>(data), std::streamsize(size));
        if (way == 1)  // all of it had reached the disk, and far more
            std::ofstream(dir / "recovery-point-offset-checkpoint") << "0\n1\nt 0 1099511627776\n";
        try {
            log::PartitionLog l(dir.string(), {}, way != 2, quiet);
            read_back(l, way != 2);
        } catch (const Error&) {
        }
    }
    std::error_code ignored;  // the scratch log goes with its input: nothing is left in /tmp
    fs::remove_all(dir, ignored);
    return 0;
}
