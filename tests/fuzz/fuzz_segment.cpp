// Fuzz target: a partition directory holding one segment of arbitrary bytes (a disk that tore,
// flipped or lied), recovered as kbusd does after a crash (every CRC checked, the index rebuilt),
// then read back by offset and by timestamp. Recovery must cut what is bad and keep the rest.
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

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path dir =
        fs::temp_directory_path() / ("kbus-fuzz-segment-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "00000000000000000000.log", std::ios::binary)
        .write(reinterpret_cast<const char*>(data), std::streamsize(size));
    try {
        log::PartitionLog l(dir.string(), {}, true, [](const std::string&, const std::string&) {});
        for (std::int64_t next = l.log_start_offset(); next < l.log_end_offset();) {
            const std::string bytes = l.read(next, 1 << 16);
            if (bytes.empty()) break;
            const log::BatchView b(
                {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
            if (b.check(true) != log::BatchCheck::ok) __builtin_trap();  // recovery let it through
            if (b.last_offset() < next) __builtin_trap();                // offsets went back
            next = b.last_offset() + 1;
        }
        (void)l.offset_for_timestamp(0);
        (void)l.locate(l.log_start_offset(), 1 << 16);
    } catch (const Error&) {
    }
    std::error_code ignored;  // the scratch log goes with its input: nothing is left in /tmp
    fs::remove_all(dir, ignored);
    return 0;
}
