#!/usr/bin/env bash
# Installs what is missing, builds (warnings as errors) and runs the whole test suite; then the
# same suite under ASan+UBSan and under TSan (smaller record counts in the multi-process tests),
# the request-serving daemon tests with kbusd under valgrind's memcheck, and each fuzzer for 10 s.
# Long soaks are left out (ctest -L soak runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting is part of the build: every source must match .clang-format.
find include lib daemon examples tests bench -name '*.[ch]pp' 2>/dev/null |
    xargs clang-format --dry-run --Werror
phase() { echo "=== test.sh: $* ($(date +%T))"; }

phase "Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKBUS_WERROR=ON >/dev/null
cmake --build build -j2
KBUS_TEST_RECORDS=${KBUS_TEST_RECORDS:-1000000} ctest --test-dir build -j2 --output-on-failure -LE soak
# The architecture picture and the API reference (the README's docs block); Doxygen's warnings
# about undocumented names are in build/docs/doxygen-warnings.txt.
cmake --build build --target docs >/dev/null

# Sanitizer reports fail the process that has them (UBSan only logs by default).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1
phase "ASan+UBSan build and tests"
# The sanitizer builds leave the benchmarks out: they are measured in Release, and compiling
# them instrumented (kbus_compare links four other IPC stacks) costs CI minutes for nothing.
# -O1 -g1: what sanitizers need (line tables for their reports), at half the compile time of -O2 -g.
sanitized=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
    -DKBUS_WERROR=ON -DKBUS_BUILD_BENCH=OFF)
cmake -S . -B build-asan "${sanitized[@]}" -DKBUS_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j2
KBUS_TEST_RECORDS=100000 ctest --test-dir build-asan -j2 --output-on-failure -LE 'soak|packaging'

phase "TSan build and tests"
cmake -S . -B build-tsan "${sanitized[@]}" -DKBUS_SANITIZE=thread >/dev/null
cmake --build build-tsan -j2
KBUS_TEST_RECORDS=100000 ctest --test-dir build-tsan -j2 --output-on-failure -LE 'soak|packaging'

phase "kbusd under valgrind memcheck"
# The daemon's request paths (control socket, bad input, Kafka listener); the fault, group and
# durability tests' daemons ran under ASan+UBSan above, and under memcheck they cost CI minutes.
for t in bus bad_input kafka; do
    KBUS_TEST_DAEMON_UNDER=valgrind KBUS_TEST_RECORDS=20000 build/tests/kbus_${t}_tests
done

phase "fuzzing, 10 s a target"
scripts/fuzz.sh 10
phase "done"
