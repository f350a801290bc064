#!/usr/bin/env bash
# The kbus CLI's first-contact habits: every command's own --help, clear one-line errors for
# bad numbers, kcat's -o -N, a consumer that goes on after being detached (its stdout blocked on
# a paused reader), a prompt stop on SIGTERM, reset-offsets' --dry-run/--execute, a caught-up
# group's lag of 0, kbus top on a terminal and refused on a pipe, a stale mirror report.
#   cli_habits_test.sh KBUSD KBUS
set -euo pipefail
kbusd=$1 kbus=$2
test_name=cli_habits_test
source "$(dirname "$0")/daemon_test_lib.sh"

# --- help: exit 0, each command and subcommand its own usage, and nothing else done ---
for words in "" "topic" "topic create" "topic alter" "topic list" "topic describe" \
    "topic delete" "produce" "consume" "group" "group list" "group describe" \
    "group reset-offsets" "group delete" "stats" "top" "mirror"; do
    for flag in -h --help; do
        # shellcheck disable=SC2086
        "$kbus" $words $flag >"$work/help" 2>&1 || fail "kbus $words $flag exited non-zero"
        grep -q "^usage: kbus ${words:+$words}" "$work/help" ||
            fail "kbus $words $flag: $(cat "$work/help")"
    done
    md5sum <"$work/help" >>"$work/help.sums"
done
dups=$(sort "$work/help.sums" | uniq -d | wc -l)
[[ $dups == 0 ]] || fail "$dups help texts are shared between commands"
"$kbus" topic create --help | grep -q -- "--partitions N" || fail "topic create --help lacks --partitions"
! "$kbus" topic list --help | grep -q -- "--partitions" || fail "topic list --help is topic create's"
"$kbus" group reset-offsets -h | grep -q -- "--execute" || fail "reset-offsets --help lacks --execute"
! "$kbus" nosuch --help 2>"$work/err" || fail "an unknown command's --help succeeded"

start_kbusd "$kbusd" "$kbus"
for _ in $(seq 100); do "${K[@]}" topic list >/dev/null 2>&1 && break; sleep 0.05; done

# --- bad numbers: one line naming the flag and its range, exit 2, never an abort ---
expect_usage_error() {  # PATTERN ARGS...
    local pattern=$1 rc=0
    shift
    "${K[@]}" "$@" >/dev/null 2>"$work/err" </dev/null || rc=$?
    [[ $rc == 2 ]] || fail "kbus $* exited $rc, not 2: $(cat "$work/err")"
    [[ $(wc -l <"$work/err") == 1 ]] || fail "kbus $*: not one line: $(cat "$work/err")"
    grep -q -- "$pattern" "$work/err" || fail "kbus $*: $(cat "$work/err")"
}
expect_usage_error "--partitions takes a whole number from 1 to 10000, not '2147483648'" \
    topic create x --partitions 2147483648
expect_usage_error "--partitions takes a whole number" topic create x --partitions 3x
expect_usage_error "--partitions takes a whole number" topic create x --partitions -1
expect_usage_error "-p takes a whole number" consume x -p 99999999999999999999
expect_usage_error "-p takes a whole number" produce x -p one
expect_usage_error "-c takes a whole number" consume x -c 0
expect_usage_error "bad offset '-x'" consume x -o -x
expect_usage_error "--interval takes a whole number from 1 to 3600000" stats --interval 0
expect_usage_error "--iterations takes a whole number" top --iterations many
expect_usage_error "--to-offset takes a whole number" group reset-offsets g --topic t --to-offset z
expect_usage_error "unknown flag '--partition'" topic create x --partition 3
expect_usage_error "unknown topic subcommand 'lst'" topic lst
[[ -z $("${K[@]}" topic list) ]] || fail "a refused command created a topic"

# --- kcat's -o -N: the last N records of each partition ---
"${K[@]}" topic create tail --partitions 2 >/dev/null
seq 0 9 | "${K[@]}" produce tail -p 0 2>/dev/null
seq 0 2 | "${K[@]}" produce tail -p 1 2>/dev/null
[[ $("${K[@]}" consume tail -o -3 -e -f '%p:%s\n' | sort | tr '\n' ' ') == "0:7 0:8 0:9 1:0 1:1 1:2 " ]] ||
    fail "-o -3: $("${K[@]}" consume tail -o -3 -e -f '%p:%s ')"
[[ $("${K[@]}" consume tail -p 0 -o -2 -e -f '%o,') == "8,9," ]] || fail "-p 0 -o -2"

# --- detached while its stdout is blocked: it seeks to the resume offset and goes on ---
# The ring (1 MiB, some 25k records) holds more than the pipe (64 KiB, some 9k lines), so the
# consumer is on the ring, holding a batch, when its writes block. Should it still have fallen
# behind the ring before that (it then reads from disk and is never detached), the round goes
# again.
records=300000
detached=
for round in 1 2 3; do
    "${K[@]}" topic create "moving$round" --partitions 1 \
        --config ring.bytes=1048576 --config consumer.hold.timeout.ms=200 >/dev/null
    # The reader takes nothing for a second, then 100 KB, pauses again, then the rest: twice the
    # consumer's writes block with a batch in hand for far longer than the hold timeout. The
    # consumer starts first, on the empty ring: a producer that started first could run a ring
    # ahead of it before it attached, and a consumer reading from disk is never detached.
    "${K[@]}" consume "moving$round" -c $records -f '%s\n' 2>"$work/consume.err" |
        { sleep 1; dd bs=4096 count=25 iflag=fullblock status=none; sleep 1; cat; } >"$work/moving.out" &
    reader=$!
    for _ in $(seq 200); do  # attached: partition 0 counts its reader
        [[ $("${K[@]}" topic describe "moving$round" | awk '$1 == "0" { print $6 }') == 1 ]] && break
        sleep 0.05
    done
    seq 1 $records | "${K[@]}" produce "moving$round" 2>/dev/null &
    producer=$!
    wait $producer || fail "the producer failed"
    wait $reader
    cmp -s "$work/moving.out" <(seq 1 $records) ||
        fail "records lost, doubled or torn: $(wc -l <"$work/moving.out") lines; $(cat "$work/consume.err")"
    if grep -q "was detached" "$work/consume.err"; then
        detached=$round
        break
    fi
done
[[ -n $detached ]] || fail "in 3 rounds the consumer was never detached (the test proves nothing)"

# --- SIGTERM: kbus consume stops after its current poll, idle or blocked on a full pipe ---
"${K[@]}" consume tail -f '%s\n' >/dev/null &
consumer=$!
sleep 0.5
kill -TERM $consumer
for _ in $(seq 100); do kill -0 $consumer 2>/dev/null || break; sleep 0.05; done
! kill -0 $consumer 2>/dev/null || fail "an idle kbus consume still runs 5 s after SIGTERM"
wait $consumer || fail "kbus consume exited non-zero on SIGTERM"
mkfifo "$work/full"
"${K[@]}" consume moving1 -f '%s\n' >"$work/full" 2>/dev/null &
consumer=$!
exec 4<"$work/full"  # opened, never read: the consumer's writes block once the pipe is full
sleep 0.5
kill -TERM $consumer
for _ in $(seq 100); do kill -0 $consumer 2>/dev/null || break; sleep 0.05; done
! kill -0 $consumer 2>/dev/null || fail "kbus consume blocked on a full pipe ignores SIGTERM"
exec 4<&-

# --- reset-offsets: a dry run unless --execute, as kafka-consumer-groups.sh ---
"${K[@]}" consume tail -g billing -e >/dev/null
committed() { "${K[@]}" group describe billing | awk '$2 == "tail" { printf "%s:%s ", $3, $4 }'; }
[[ $(committed) == "0:10 1:3 " ]] || fail "billing's commits: $(committed)"
"${K[@]}" group reset-offsets billing --topic tail --to-offset 5 >"$work/plan" 2>"$work/err"
grep -Eq "^billing +tail +0 +5$" "$work/plan" && grep -Eq "^billing +tail +1 +3$" "$work/plan" ||
    fail "the plan: $(cat "$work/plan")"
grep -q "add --execute" "$work/err" || fail "no note that nothing changed: $(cat "$work/err")"
[[ $(committed) == "0:10 1:3 " ]] || fail "a reset without --execute changed offsets"
"${K[@]}" group reset-offsets billing --topic tail --to-earliest --dry-run >"$work/plan" 2>"$work/err"
[[ ! -s $work/err ]] || fail "--dry-run warned: $(cat "$work/err")"
grep -Eq "^billing +tail +0 +0$" "$work/plan" || fail "--dry-run plan: $(cat "$work/plan")"
[[ $(committed) == "0:10 1:3 " ]] || fail "--dry-run changed offsets"
"${K[@]}" group reset-offsets billing --topic tail --to-offset 5 --execute >/dev/null
[[ $(committed) == "0:5 1:3 " ]] || fail "--execute: $(committed)"
expect_usage_error "exclude each other" group reset-offsets billing --topic tail --to-latest --dry-run --execute

# --- a caught-up group member shows no lag (it commits what it printed, batch by batch) ---
"${K[@]}" topic create live --partitions 2 >/dev/null
"${K[@]}" consume live -g watchers -f '%s\n' >/dev/null 2>&1 &
watcher=$!
for _ in $(seq 100); do "${K[@]}" group list | grep -Eq "^watchers +Stable" && break; sleep 0.05; done
seq 1 500 | "${K[@]}" produce live 2>/dev/null
# Caught up, the lag reads 0 and stays so (a member that kept its last batch's commit back would
# show lag for good). Polled, not slept on: a loaded machine may take a while to catch up.
for _ in $(seq 50); do
    lags=$("${K[@]}" stats --json --interval 1 | grep -o '"group":"watchers"[^}]*"lag":[0-9]*' | sed 's/.*"lag"://' | sort -u)
    [[ $lags == 0 ]] && break
    sleep 0.1
done
[[ $lags == 0 ]] || fail "a caught-up group shows lag: $lags"
kill -TERM $watcher && wait $watcher

# --- kbus top: refused on a pipe with one line; on an 80x24 terminal it draws and quits on q ---
rc=0
"${K[@]}" top >"$work/top.out" 2>"$work/err" || rc=$?
[[ $rc == 2 && $(wc -l <"$work/err") == 1 ]] || fail "top into a file: exit $rc, $(cat "$work/err")"
grep -q "needs a terminal.*kbus stats" "$work/err" || fail "top's refusal: $(cat "$work/err")"
if command -v script >/dev/null; then
    { sleep 1.5; printf q; } | timeout 10 script -qfec \
        "stty rows 24 cols 80; TERM=xterm ${K[*]} top --interval 200" /dev/null >"$work/top.tty" ||
        fail "kbus top did not quit on q"
    grep -q "kbus top: bus $bus" "$work/top.tty" || fail "top drew no title: $(cat -v "$work/top.tty" | head -c 600)"
    grep -q "tail" "$work/top.tty" || fail "top drew no partitions"
fi

# --- kbus mirror --status: a report the mirror stopped writing is called stale ---
printf 'bootstrap.servers=127.0.0.1:1\nout.topics=tail\ngroup.id=edge\n' >"$work/mirror.properties"
printf 'bootstrap.servers=127.0.0.1:1 group.id=edge\nout rule=tail records=5 records_per_s=0 lag=0 skipped=0 last_error=-\n' \
    >"$work/run/mirror-edge.status"
"${K[@]}" mirror --config "$work/mirror.properties" --status >"$work/status" 2>"$work/err" ||
    fail "a fresh report: $(cat "$work/err")"
grep -q "records=5" "$work/status" || fail "--status printed: $(cat "$work/status")"
touch -d '-1 minute' "$work/run/mirror-edge.status"
rc=0
"${K[@]}" mirror --config "$work/mirror.properties" --status >"$work/status" 2>"$work/err" || rc=$?
[[ $rc == 1 ]] || fail "a stale report: exit $rc"
grep -q "stale.*not running" "$work/err" || fail "a stale report: $(cat "$work/err")"
"${K[@]}" stats | grep -q "MIRROR edge .*STALE" || fail "kbus stats does not mark the stale report"
# A mirror config with a comment at the end of a line: one line saying so, before any connection.
printf 'bootstrap.servers=127.0.0.1:1\nout.topics=tail      # local topics (regexes, whole names)\n' >"$work/inline.properties"
rc=0
timeout 10 "${K[@]}" mirror --config "$work/inline.properties" 2>"$work/err" || rc=$?
[[ $rc != 0 && $(wc -l <"$work/err") == 1 ]] || fail "inline comment: exit $rc, $(cat "$work/err")"
grep -q "comments go on a line of their own" "$work/err" || fail "inline comment: $(cat "$work/err")"
# --- where the bus is: flags (--override too) beat KBUS_BUS, which beats the config file ---
prec=$work/prec
mkdir -p "$prec"
printf 'kbus.bus=%s-file\n' "$bus" >"$prec/f.properties"
served_bus() { # KBUS_BUS value, then kbusd's flags: the bus it says it serves
    local env_bus=$1 p
    shift
    KBUS_BUS=$env_bus "$kbusd" --run-dir "$prec/run" --data-dir "$prec/data" "$@" 2>"$prec/log" &
    p=$!
    for _ in $(seq 200); do grep -q "serving bus" "$prec/log" && break; sleep 0.05; done
    kill "$p" && wait "$p" || true
    grep -o "serving bus '[^']*'" "$prec/log" || fail "kbusd did not start: $(cat "$prec/log")"
}
[[ $(served_bus "$bus-env" --config "$prec/f.properties") == "serving bus '$bus-env'" ]] ||
    fail "the environment did not beat the file"
grep -q "KBUS_BUS=$bus-env is used; the config file's kbus.bus=$bus-file is not" "$prec/log" ||
    fail "no line says the environment beat the file: $(cat "$prec/log")"
[[ $(served_bus "$bus-env" --config "$prec/f.properties" --override "kbus.bus=$bus-flag") == \
    "serving bus '$bus-flag'" ]] || fail "--override did not beat the environment"
[[ $(served_bus "$bus-env" --bus "$bus-flag") == "serving bus '$bus-flag'" ]] ||
    fail "--bus did not beat the environment"
echo "cli_habits_test: ok"
