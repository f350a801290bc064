#!/usr/bin/env bash
# kbus_compare in miniature (a few hundred samples): every system it can run here appears in its
# table and JSON, the targets are checked, and what it cannot use is named, never skipped
# silently: a single core, and an iox-roudi that is already running. Usage: compare_test.sh COMPARE
set -euo pipefail
COMPARE=$1
dir=$(mktemp -d /tmp/kbus-compare-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; cat "$dir/out" 2>/dev/null || true; exit 1; }
tiny=(--quick --samples-scale 0.01 --payloads 64,65536)

"$COMPARE" "${tiny[@]}" --systems "raw,unix,boost,kbus" --json "$dir/r.json" >"$dir/out" 2>&1 ||
    fail "kbus_compare failed"
for system in "raw cache line" "unix socket" "boost message_queue" "kbus busy-poll" "kbus blocking" "kbus futex"; do
    grep -q "^$system  *64 " "$dir/out" || fail "no 64 B row for $system"
    grep -q "\"system\": \"$system\", \"payload_bytes\": 64, \"rtt_p50_ns\": [0-9]" "$dir/r.json" ||
        fail "no 64 B latency in the JSON for $system"
done
grep -q '"system": "kbus busy-poll", "payload_bytes": 65536, .*"msgs_per_s": [0-9]' "$dir/r.json" ||
    fail "no 64 KiB throughput for kbus"
grep -q '"system": "kbus exclusive", "payload_bytes": 64, .*"msgs_per_s": [0-9]' "$dir/r.json" ||
    fail "no 64 B throughput for kbus's exclusive producer"
grep -q '"system": "raw cache line", "payload_bytes": 64, .*"msgs_per_s": null' "$dir/r.json" ||
    fail "the raw cache line has no throughput, and says so"
grep -q "64 B busy-poll p50 vs 2x raw cache line: [0-9.e+]* ns against at most" "$dir/out" ||
    fail "targets not checked"
grep -q "failed:" "$dir/out" && fail "a run failed"

# One core: the runs go on, unpinned, with a note saying so.
if command -v taskset >/dev/null; then
    taskset -c 0 "$COMPARE" "${tiny[@]}" --payloads 64 --systems "unix,kbus busy" >"$dir/out" 2>&1 ||
        fail "kbus_compare on one core failed"
    grep -q "only 1 core available" "$dir/out" || fail "no note about the single core"
    grep -q "^kbus busy-poll  *64 " "$dir/out" || fail "no kbus row on one core"
fi

# iceoryx with kbus_compare's own RouDi: measured, and nothing of it is left behind (RouDi's
# shared memory, the runtimes' sockets in /tmp).
if command -v iox-roudi >/dev/null && ! pgrep -x iox-roudi >/dev/null; then
    "$COMPARE" "${tiny[@]}" --payloads 64 --systems "iceoryx" >"$dir/out" 2>&1 ||
        fail "kbus_compare with iceoryx failed"
    grep -q "^iceoryx  *64 " "$dir/out" || fail "no 64 B row for iceoryx"
    [ ! -e /dev/shm/iceoryx_mgmt ] || fail "RouDi's shared memory was left in /dev/shm"
    left=$(find /tmp -maxdepth 1 -name 'kbus-compare-*-[0-9]*[ab]*' | wc -l)
    [ "$left" -eq 0 ] || fail "$left iceoryx runtime sockets were left in /tmp"
fi

# An iox-roudi that is already running is left alone, and iceoryx is skipped with the reason.
if command -v iox-roudi >/dev/null && ! pgrep -x iox-roudi >/dev/null; then
    iox-roudi >"$dir/roudi.log" 2>&1 &
    roudi=$!
    trap 'kill -TERM $roudi 2>/dev/null || true; wait $roudi 2>/dev/null || true; rm -rf "$dir"' EXIT
    for _ in $(seq 100); do grep -q "RouDi is ready" "$dir/roudi.log" && break; sleep 0.05; done
    "$COMPARE" "${tiny[@]}" --payloads 64 --systems "iceoryx,unix" >"$dir/out" 2>&1 ||
        fail "kbus_compare beside a running iox-roudi failed"
    grep -q "skipped iceoryx: an iox-roudi is already running (pid $roudi)" "$dir/out" ||
        fail "no line for the occupied iceoryx"
    grep -q "^unix socket  *64 " "$dir/out" || fail "the rest did not run"
    kill -TERM $roudi
    wait $roudi 2>/dev/null || true
fi
# Stopped with SIGTERM (as `timeout` or a service manager stops it) mid-run: the run under way is
# cut short, and kbus_compare stops its kbusd and removes its scratch files on the way out.
"$COMPARE" --quick --samples-scale 2 --payloads 64,65536 --systems "unix,kbus busy" \
    >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "^unix socket " "$dir/out" && break; sleep 0.05; done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 130 ] || fail "kbus_compare stopped by SIGTERM exited $status, not 130"
grep -q "interrupted: stopping what kbus_compare started" "$dir/out" || fail "no line for the stop"
sleep 0.5
pgrep -f "kbusd --bus t$pid-compare" >/dev/null && fail "its kbusd was left running"
[ ! -e "/tmp/kbus-compare-$pid" ] || fail "its scratch dir was left behind"
[ ! -e "/tmp/kbus-test-t$pid-compare" ] || fail "its kbusd's dir was left behind"

# Aeron (not in Debian) is optional: without a build it is skipped with a line saying how to get
# one; a directory without aeronmd and libaeron.so is named; one with a library that is not
# Aeron's is refused with the loader's reason. Never a failed run.
env -u KBUS_AERON_DIR "$COMPARE" "${tiny[@]}" --payloads 64 --systems "aeron,unix" >"$dir/out" 2>&1 ||
    fail "kbus_compare without Aeron failed"
grep -q "skipped aeron ipc: no Aeron given (--aeron-dir DIR or KBUS_AERON_DIR" "$dir/out" ||
    fail "no line for the missing Aeron"
grep -q "skipped aeron exclusive: no Aeron given" "$dir/out" || fail "no line for aeron exclusive"
grep -q "^unix socket  *64 " "$dir/out" || fail "the rest did not run without Aeron"
mkdir -p "$dir/fake-aeron/bin" "$dir/fake-aeron/lib"
KBUS_AERON_DIR="$dir/fake-aeron" "$COMPARE" "${tiny[@]}" --payloads 64 --systems "aeron" \
    >"$dir/out" 2>&1 || fail "kbus_compare with an empty Aeron dir failed"
grep -q "skipped aeron ipc: no aeronmd or libaeron.so under $dir/fake-aeron" "$dir/out" ||
    fail "no line for an Aeron dir without Aeron"
printf '#!/bin/sh\nexit 1\n' >"$dir/fake-aeron/bin/aeronmd"
chmod +x "$dir/fake-aeron/bin/aeronmd"
echo "not a library" >"$dir/fake-aeron/lib/libaeron.so"
"$COMPARE" "${tiny[@]}" --payloads 64 --systems "aeron" --aeron-dir "$dir/fake-aeron" \
    >"$dir/out" 2>&1 || fail "kbus_compare with a bad libaeron.so failed"
grep -q "skipped aeron ipc: dlopen: " "$dir/out" || fail "no line for a libaeron.so that is not one"
grep -q "failed:" "$dir/out" && fail "a run failed"

# A real Aeron, where the machine has one (KBUS_AERON_DIR; CI has none): both lines measured, and
# its driver stopped with its directory removed.
if [ -n "${KBUS_AERON_DIR:-}" ]; then
    "$COMPARE" "${tiny[@]}" --payloads 64,65536 --systems "aeron" >"$dir/out" 2>&1 ||
        fail "kbus_compare with Aeron failed"
    grep -q "^aeron ipc  *64  *[0-9]" "$dir/out" || fail "no 64 B row for aeron ipc"
    grep -q "^aeron ipc  *65536  *[0-9]" "$dir/out" || fail "no 64 KiB row (fragmented) for aeron"
    grep -q "^aeron exclusive  *64 .* [0-9][0-9]*\.[0-9]$" "$dir/out" ||
        fail "no 64 B stream for aeron exclusive"
    grep -q "failed:" "$dir/out" && fail "an Aeron run failed"
    pgrep -f "aeron.dir=/dev/shm/kbus-compare-" >/dev/null && fail "aeronmd was left running"

    # SIGKILLed during an Aeron run: its aeronmd dies with it (PR_SET_PDEATHSIG) and removes its
    # directory. (Its kbusd outlives it, as any test's fixture does: removed here.)
    "$COMPARE" --quick --samples-scale 3 --payloads 64,65536 --systems "aeron" >"$dir/out" 2>&1 &
    pid=$!
    # A driver that stays up for 0.3 s: a run's (the availability check's stops at once).
    driver=
    for _ in $(seq 100); do
        driver=$(pgrep -f "aeron.dir=/dev/shm/kbus-compare-$pid-" | head -1 || true)
        sleep 0.3
        [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null && break
        driver=
    done
    [ -n "$driver" ] || fail "no aeronmd for the run"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.05; done
    pkill -TERM -f "kbusd --bus t$pid-compare" || true
    for _ in $(seq 200); do pgrep -f "kbusd --bus t$pid-compare" >/dev/null || break; sleep 0.05; done
    rm -rf "/tmp/kbus-compare-$pid" "/tmp/kbus-test-t$pid-compare" /dev/shm/kbus.0."t$pid-compare"*
    kill -0 "$driver" 2>/dev/null && fail "aeronmd outlived a SIGKILLed kbus_compare"
    [ ! -e "/dev/shm/kbus-compare-$pid-aeron" ] || fail "aeronmd's directory was left in /dev/shm"
fi

echo "compare_test: ok"
