// Runs a fuzz target over files (or every file in directories) without libFuzzer: the seed and
// regression corpora as ordinary tests, under any compiler and sanitizer.
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// As scripts/fuzz.sh's -rss_limit_mb, less what ASan's shadow memory may take.
constexpr long max_rss_mib = 512;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        if (std::filesystem::is_directory(argv[i])) {
            for (const auto& e : std::filesystem::directory_iterator(argv[i]))
                if (e.is_regular_file()) files.push_back(e.path());
        } else {
            files.emplace_back(argv[i]);
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "no inputs: give corpus files or directories\n");
        return 2;
    }
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), {});
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    // A hostile length must never become an allocation: the corpus holds bombs that once did.
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const long peak_mib = usage.ru_maxrss / 1024;
    if (peak_mib > max_rss_mib) {
        std::fprintf(stderr, "the inputs took %ld MiB of memory (at most %ld allowed)\n", peak_mib,
                     max_rss_mib);
        return 1;
    }
    std::printf("%zu inputs ran clean (peak %ld MiB)\n", files.size(), peak_mib);
    return 0;
}
