// Atomic access to a field of a shared-memory layout that is not a std::atomic itself (a half of
// a 16-byte pair, a claim-journal entry, a record's position word): through std::atomic_ref, the
// one idiom for it. Every call names its memory order; the call site says why.
#pragma once

#include <atomic>

namespace kbus::detail {

template <class T>
[[nodiscard]] inline T atomic_load(const T& field, std::memory_order order) noexcept {
    // const_cast: atomic_ref needs a mutable object; a load never writes it.
    return std::atomic_ref<T>(const_cast<T&>(field)).load(order);
}

template <class T>
inline void atomic_store(T& field, T value, std::memory_order order) noexcept {
    std::atomic_ref<T>(field).store(value, order);
}

}  // namespace kbus::detail
