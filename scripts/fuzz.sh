#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 20)
# from its seed corpus (tests/fuzz/corpus/<target>, read only: new inputs go to a scratch dir).
# A crash stops the run with the input's path; fix the bug, then keep the input as
# tests/fuzz/corpus/<target>/crash-<what> so that the corpus tests replay it from then on.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(control_decoder record_batch segment properties format kafka_request)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKBUS_FUZZ=ON \
    -DKBUS_SANITIZE=address,undefined >/dev/null
cmake --build build-fuzz -j2 --target "${targets[@]/#/kbus_fuzz_}"
for t in "${targets[@]}"; do
    work=$(mktemp -d)
    echo "fuzz: $t for ${seconds}s"
    # -rss_limit_mb: a decoder must never allocate what a hostile length asks for.
    if ! build-fuzz/tests/fuzz/kbus_fuzz_"$t" "$work" tests/fuzz/corpus/"$t" \
        -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/crash-$t-" 2>"$work.log"; then
        tail -n 40 "$work.log" >&2
        echo "fuzz: $t FAILED; the input is in build-fuzz/crash-$t-*" >&2
        exit 1
    fi
    grep -E "^stat::number_of_executed_units|DONE" "$work.log" | sed "s/^/fuzz: $t: /"
    rm -rf "$work" "$work.log"
done
