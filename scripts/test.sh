#!/usr/bin/env bash
# Installs what is missing, builds (warnings as errors) and runs the whole test suite, then the
# same suite under ASan+UBSan (with a smaller record count in the multi-process test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting is part of the build: every source must match .clang-format.
find include lib daemon examples tests bench -name '*.[ch]pp' 2>/dev/null |
    xargs clang-format --dry-run --Werror
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKBUS_WERROR=ON >/dev/null
cmake --build build -j2
KBUS_TEST_RECORDS=${KBUS_TEST_RECORDS:-1000000} ctest --test-dir build -j2 --output-on-failure -LE soak
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKBUS_WERROR=ON \
    -DKBUS_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j2
KBUS_TEST_RECORDS=100000 ctest --test-dir build-asan -j2 --output-on-failure -LE soak
