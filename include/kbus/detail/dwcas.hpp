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

/// Whether an aligned 16-byte SSE store is one atomic access here: Intel and AMD guarantee it on
/// every processor that has AVX (Intel SDM vol. 3A, 9.1.1).
[[nodiscard]] inline bool has_atomic_pair_stores() noexcept {
#if defined(__x86_64__)
    static const bool avx = __builtin_cpu_supports("avx");
    return avx;
#else
    return false;
#endif
}

/// Stores both words as one access, for a pair only this thread writes (others read it, or try
/// a compare-and-swap that then fails): `known` is what it holds now. With atomic_pair_stores
/// (has_atomic_pair_stores()), one `movdqa`: a release store, no locked instruction; otherwise
/// a compare-and-swap from `known`, which succeeds (dwload's write-back leaves the value alone).
inline void store_pair(WordPair* target, WordPair known, const WordPair& value,
                       bool atomic_pair_stores) noexcept {
#if defined(__x86_64__)
    if (atomic_pair_stores) {
        using V = long long __attribute__((vector_size(16)));
        // Built from the two words in registers (movq, pinsrq), not copied through memory: a
        // 16-byte load of a pair just stored as two 8-byte words cannot be forwarded from the
        // store buffer, and would wait there for every store of the record before it.
        const V v = {static_cast<long long>(value.first), static_cast<long long>(value.second)};
        __asm__ __volatile__("movdqa %1, %0" : "=m"(*target) : "x"(v) : "memory");
        return;
    }
#else
    (void)atomic_pair_stores;
#endif
    while (!dwcas(target, known, value)) {
    }
}

}  // namespace kbus::detail
