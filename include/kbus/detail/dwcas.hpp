// A 16-byte compare-and-swap on a pair of 64-bit words: the producer's lock-free claim takes its
// offset and its ring space in one atomic step. On x86-64 this is `lock cmpxchg16b`, emitted
// inline so that users need no -mcx16 flag and no libatomic (whose 16-byte path may lock).
#pragma once

#include <cstdint>

namespace kbus::detail {

struct alignas(16) WordPair {
    std::uint64_t first;
    std::uint64_t second;
};
static_assert(sizeof(WordPair) == 16);

/// Atomically: if *target == expected, store desired and return true; otherwise load the current
/// value into expected and return false. Full barrier either way (seq_cst).
inline bool dwcas(WordPair* target, WordPair& expected, const WordPair& desired) noexcept {
#if defined(__x86_64__)
    bool swapped;
    __asm__ __volatile__("lock cmpxchg16b %1"
                         : "=@ccz"(swapped), "+m"(*target), "+a"(expected.first),
                           "+d"(expected.second)
                         : "b"(desired.first), "c"(desired.second)
                         : "memory");
    return swapped;
#else
    static_assert(sizeof(unsigned __int128) == 16);
    auto* t = reinterpret_cast<unsigned __int128*>(target);
    unsigned __int128 e, d;
    __builtin_memcpy(&e, &expected, 16);
    __builtin_memcpy(&d, &desired, 16);
    bool ok = __atomic_compare_exchange_n(t, &e, d, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    if (!ok) __builtin_memcpy(&expected, &e, 16);
    return ok;
#endif
}

/// An atomic snapshot of both words (a compare-and-swap that writes back what it finds).
/// Costs a locked instruction: for rare paths (attach, describe), never per record.
[[nodiscard]] inline WordPair dwload(WordPair* target) noexcept {
    WordPair expected{0, 0};
    dwcas(target, expected, expected);
    return expected;
}

}  // namespace kbus::detail
