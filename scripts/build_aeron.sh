#!/bin/sh
# Builds Aeron's C media driver and C client from a checkout of real-logic/aeron, for
# kbus_compare's optional Aeron peer (Aeron is not in Debian):
#   git clone https://github.com/real-logic/aeron.git ~/aeron-src
#   scripts/build_aeron.sh ~/aeron-src ~/aeron-build
#   build/bench/kbus_compare --aeron-dir ~/aeron-build ...
# Only the driver (aeronmd) and the client library are built: no Java, no tests, no archive.
# Debian 12's CMake is 3.25; Aeron asks for 3.26 without needing anything of it, so the
# requirement is lowered in a copy of the sources, never in the checkout given.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 AERON_SOURCE_DIR BUILD_DIR" >&2
    exit 2
fi
src=$1
out=$2
[ -f "$src/CMakeLists.txt" ] && [ -d "$src/aeron-driver" ] || {
    echo "$0: $src is not a checkout of real-logic/aeron" >&2
    exit 1
}

mkdir -p "$out"
out=$(cd "$out" && pwd)
copy="$out/src"
rm -rf "$copy"
cp -a "$src" "$copy"
if [ "$(cmake --version | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')" = "3.25" ]; then
    sed -i 's/cmake_minimum_required(VERSION 3\.2[6-9][^)]*)/cmake_minimum_required(VERSION 3.25)/;
            s/cmake_policy(VERSION 3\.2[6-9][^)]*)/cmake_policy(VERSION 3.25)/' "$copy/CMakeLists.txt"
fi
cmake -S "$copy" -B "$out" -DCMAKE_BUILD_TYPE=Release -DBUILD_AERON_ARCHIVE_API=OFF \
    -DAERON_TESTS=OFF -DAERON_UNIT_TESTS=OFF -DAERON_SYSTEM_TESTS=OFF \
    -DAERON_BUILD_DOCUMENTATION=OFF -DAERON_BUILD_SAMPLES=OFF
cmake --build "$out" -j"$(nproc)" --target aeronmd aeron
echo "built: $out/binaries/aeronmd and $out/lib/libaeron.so (kbus_compare --aeron-dir $out)"
