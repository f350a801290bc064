// Kafka's aborted-transactions index (.txnindex) as lib/log/transaction_index keeps it: entries
// written and read back, an entry cut with the log's tail dropped, and a damaged entry dropped
// alone, never the entries after it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "kbus/log/record_batch_descriptor.hpp"
#include "log/transaction_index.hpp"

namespace fs = std::filesystem;
using kbus::log::AbortedTransaction;
using kbus::log::TransactionIndex;

namespace {

struct ScratchDir {
    std::string path =
        (fs::temp_directory_path() / ("kbus-txnindex-" + std::to_string(::getpid()))).string();
    ScratchDir() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
};

void flip_byte(const std::string& path, std::size_t at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(at));
    char c = 0;
    f.get(c);
    f.seekp(std::streamoff(at));
    f.put(char(c ^ 0x7f));
}

}  // namespace

TEST_CASE("the aborted-transactions index keeps its entries and drops only bad ones",
          "[transactions]") {
    ScratchDir dir;
    {
        TransactionIndex index(dir.path);
        REQUIRE(index.load(1000) == 0);
        index.append(0, {7, 10, 15, 10});
        index.append(0, {8, 20, 25, 20});
        index.append(0, {9, 30, 35, 30});
        index.append(0, {9, 30, 35, 30});  // a retried append: noted once
        CHECK(index.overlapping(0, 1000).size() == 3);
        CHECK(index.overlapping(16, 19).empty());
        CHECK(index.overlapping(24, 24).front().producer_id == 8);
    }
    const std::string file = TransactionIndex(dir.path).path_of(0);
    REQUIRE(fs::file_size(file) == 3 * kbus::log::txnindex_entry_bytes);

    SECTION("an entry past the log's end was cut with its marker") {
        TransactionIndex index(dir.path);
        CHECK(index.load(30) == 0);  // the third marker (offset 35) is not in the log
        CHECK(index.overlapping(0, 1000).size() == 2);
        CHECK(fs::file_size(file) == 2 * kbus::log::txnindex_entry_bytes);
    }
    SECTION("a damaged entry in the middle costs that entry alone") {
        // The middle entry's version field.
        flip_byte(file, kbus::log::txnindex_entry_bytes + kbus::log::txnindex_version_offset);
        TransactionIndex index(dir.path);
        CHECK(index.load(1000) == 1);
        const auto left = index.overlapping(0, 1000);
        REQUIRE(left.size() == 2);
        CHECK(left[0].producer_id == 7);
        CHECK(left[1].producer_id == 9);
        TransactionIndex again(dir.path);  // rewritten without it
        CHECK(again.load(1000) == 0);
        CHECK(again.overlapping(0, 1000).size() == 2);
    }
    SECTION("retention drops the entries of the segments it deletes") {
        TransactionIndex index(dir.path);
        REQUIRE(index.load(1000) == 0);
        index.drop_below(100);
        CHECK(index.overlapping(0, 1000).empty());
        CHECK(!fs::exists(file));
    }
}
