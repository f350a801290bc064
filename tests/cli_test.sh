#!/usr/bin/env bash
# The kbus CLI against its own kbusd: topics, produce with keys and headers, consume with a
# kcat format, and the errors a user gets. Usage: cli_test.sh KBUSD KBUS REPLAY
set -euo pipefail
KBUSD=$1 KBUS=$2 REPLAY=$3
dir=$(mktemp -d /tmp/kbus-cli-test.XXXXXX)
export KBUS_BUS="cli-$$" KBUS_RUN_DIR="$dir/run" KBUS_DATA_DIR="$dir/data"
fail() { echo "FAIL: $*"; exit 1; }

# Broker config: a missing file, an unknown key and a bad value are refused, naming what is wrong.
! "$KBUSD" --config "$dir/missing.properties" 2>"$dir/err" || fail "missing config accepted"
grep -q "missing.properties" "$dir/err" || fail "missing config message: $(cat "$dir/err")"
printf 'log.retention.hours=1\nlog.retension.ms=5\n' >"$dir/bad.properties"
! "$KBUSD" --config "$dir/bad.properties" 2>"$dir/err" || fail "unknown key accepted"
grep -q "bad.properties:2: unknown config key 'log.retension.ms'" "$dir/err" || fail "unknown key message"
! "$KBUSD" --override num.partitions=many 2>"$dir/err" || fail "bad value accepted"
grep -q "num.partitions" "$dir/err" || fail "bad value message"

# The daemon proper: its data dir comes from log.dirs in the config file.
printf 'log.dirs=%s\nkbus.ring.bytes=65536\n' "$dir/data" >"$dir/server.properties"
unset KBUS_DATA_DIR
start_daemon() {
    "$KBUSD" --config "$dir/server.properties" 2>>"$dir/kbusd.log" 3>&- &
    daemon=$!
    for _ in $(seq 100); do "$KBUS" topic list >/dev/null 2>&1 && return; sleep 0.05; done
    fail "kbusd did not start"
}
start_daemon
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true; rm -rf "$dir" /dev/shm/kbus.$(id -u).$KBUS_BUS.*' EXIT
[[ -d "$dir/data" ]] || fail "log.dirs from the config file not used"
"$KBUS" topic create small --partitions 1 >/dev/null
# Owner only: the socket, the run and data dirs, and every shared-memory object of the bus.
[[ $(stat -c %a "$dir/run/kbus.sock") == 600 ]] || fail "socket mode $(stat -c %a "$dir/run/kbus.sock")"
[[ $(stat -c %a "$dir/run") == 700 && $(stat -c %a "$dir/data") == 700 ]] || fail "dir modes"
shm=(/dev/shm/kbus.$(id -u).$KBUS_BUS.*)
((${#shm[@]} == 1)) || fail "expected one shared-memory directory, got ${shm[*]}"
[[ $(stat -c %a "${shm[0]}") == 700 ]] || fail "${shm[0]} mode $(stat -c %a "${shm[0]}")"
files=("${shm[0]}"/*)
((${#files[@]} >= 3)) || fail "expected the control segment, a lock and a ring, got ${files[*]}"
for f in "${files[@]}"; do [[ $(stat -c %a "$f") == 600 ]] || fail "$f mode $(stat -c %a "$f")"; done
"$KBUS" topic describe small | grep -q "ring.bytes 65536" || fail "kbus.ring.bytes default"
"$KBUS" topic alter small --config retention.ms=60000 >/dev/null
! "$KBUS" topic alter small --config ring.bytes=131072 2>"$dir/err" || fail "ring.bytes altered"
grep -q "cannot be altered" "$dir/err" || fail "alter message"
# Kafka's CreatePartitions and DeleteRecords, from the CLI.
"$KBUS" topic alter small --partitions 3 | grep -q "now 3 partitions" || fail "alter --partitions"
"$KBUS" topic describe small | grep -q "partitions 3" || fail "3 partitions not described"
! "$KBUS" topic alter small --partitions 2 2>"$dir/err" || fail "partitions shrank"
grep -q "can only grow" "$dir/err" || fail "shrink message: $(cat "$dir/err")"
seq 1 5 | "$KBUS" produce small -p 2 2>/dev/null
[[ $("$KBUS" topic delete-records small --before 3 --partition 2) == "small-2: log start now 3" ]] \
    || fail "delete-records"
[[ $("$KBUS" consume small -p 2 -e -f '%o %s\n' | head -1) == "3 4" ]] || fail "read after delete-records"
! "$KBUS" topic delete-records small --before 99 --partition 2 2>"$dir/err" || fail "past the end"
"$KBUS" topic delete small >/dev/null

"$KBUS" topic create gps --partitions 3 >/dev/null
[[ $("$KBUS" topic list) == gps ]] || fail "topic list"
printf 'foobar:hello\nkafka:world\nnokey\n' | "$KBUS" produce gps -K : -H src=cli 2>/dev/null
out=$("$KBUS" consume gps -e -f '%p %o %k=%s [%h] %S\n' | sort)
expected=$'0 0 foobar=hello [src=cli] 5\n0 1 =nokey [src=cli] 5\n1 0 kafka=world [src=cli] 5'
# foobar -> 0 and kafka -> 1 of 3 partitions: Kafka's murmur2 vectors; the null key is round robin.
[[ $(echo "$out" | grep -c foobar=hello) == 1 && $(echo "$out" | grep -c "^1 0 kafka=world") == 1 ]] \
    || fail "consume output: $out"
[[ $(echo "$out" | wc -l) == 3 ]] || fail "expected 3 records, got: $out (expected like $expected)"
[[ $("$KBUS" consume gps -p 1 -o 0 -c 1 -f '%k\n') == kafka ]] || fail "consume -p -o -c"
# A null header value (-H name) and an empty one (-H name=) stay apart on the way out, as kcat.
echo v | "$KBUS" produce gps -p 2 -H hn -H he= 2>/dev/null
[[ $("$KBUS" consume gps -p 2 -o -1 -e -f '%h\n') == "hn=NULL,he=" ]] ||
    fail "null and empty header values: $("$KBUS" consume gps -p 2 -o -1 -e -f '%h\n')"

! "$KBUS" topic create gps --partitions 1 2>"$dir/err" || fail "duplicate topic accepted"
grep -q "already exists" "$dir/err" || fail "duplicate topic message"
! "$KBUS" topic create 'a/b' 2>"$dir/err" || fail "bad name accepted"
grep -q "illegal character" "$dir/err" || fail "bad name message"
! "$KBUS" consume nope -e 2>"$dir/err" || fail "unknown topic accepted"
grep -q "unknown topic" "$dir/err" || fail "unknown topic message"
# With nothing to send, too: the topic is looked up before stdin is read.
! "$KBUS" produce nope </dev/null 2>"$dir/err" || fail "produce to an unknown topic exited 0"
grep -q "unknown topic 'nope'" "$dir/err" || fail "produce, unknown topic: $(cat "$dir/err")"
! echo x | "$KBUS" produce gps -p 7 2>"$dir/err" || fail "partition out of range accepted"
grep -q "out of range" "$dir/err" || fail "partition message"
! "$KBUS" --run-dir "$dir/nowhere" topic list 2>"$dir/err" || fail "no daemon accepted"
grep -q "is the daemon running" "$dir/err" || fail "no daemon message"
# kcat's -o s@<ms>: the first record at or after a point in time (the time index).
"$KBUS" topic create timed >/dev/null
echo early | "$KBUS" produce timed
sleep 0.05
t=$(date +%s%3N)
sleep 0.05
printf 'late1\nlate2\n' | "$KBUS" produce timed
[[ $("$KBUS" consume timed -o "s@$t" -e -f '%s,') == "late1,late2," ]] || fail "consume -o s@"
! "$KBUS" consume timed -o s@soon -e 2>"$dir/err" || fail "bad s@ accepted"
grep -q "bad offset" "$dir/err" || fail "bad offset message"
# examples/replay: the same seek through the client API.
"$REPLAY" timed --from "$t" >"$dir/replay.out" || fail "replay exit status"
grep -q "from offset 1 " "$dir/replay.out" || fail "replay start: $(cat "$dir/replay.out")"
grep -q "replayed 2 records" "$dir/replay.out" || fail "replay count: $(cat "$dir/replay.out")"

# A producer rides through a daemon crash: kbus produce completes, nothing lost or doubled.
"$KBUS" topic create ride >/dev/null
mkfifo "$dir/in"
"$KBUS" produce ride <"$dir/in" 2>/dev/null &
producer=$!
exec 3>"$dir/in"
seq 1 1000 >&3
sleep 0.2
kill -KILL $daemon
wait $daemon 2>/dev/null || true
start_daemon
seq 1001 2000 >&3
exec 3>&-
wait $producer || fail "kbus produce across a daemon restart"
[[ $("$KBUS" consume ride -e -f '%s\n' | sort -n | uniq | wc -l) == 2000 ]] || fail "records lost"
[[ $("$KBUS" consume ride -e -f '%s\n' | wc -l) == 2000 ]] || fail "records doubled"

# An exclusive producer owns its partition through a daemon crash; every other producer is
# refused meanwhile, and may send again once it is done.
"$KBUS" topic create owned >/dev/null
mkfifo "$dir/owned-in"
"$KBUS" produce owned -p 0 --exclusive <"$dir/owned-in" 2>/dev/null &
owner=$!
exec 3>"$dir/owned-in"
seq 1 1000 >&3
for _ in $(seq 100); do
    [[ $("$KBUS" consume owned -e -f '%s\n' | wc -l) == 1000 ]] && break
    sleep 0.05
done
! echo intruder | "$KBUS" produce owned -p 0 2>"$dir/err" || fail "a second producer was let in"
grep -q "owned by an exclusive producer (pid $owner)" "$dir/err" || fail "owned: $(cat "$dir/err")"
kill -KILL $daemon
wait $daemon 2>/dev/null || true
start_daemon
! echo intruder | "$KBUS" produce owned -p 0 --exclusive 2>/dev/null || fail "a second owner"
seq 1001 2000 >&3
exec 3>&-
wait $owner || fail "kbus produce --exclusive across a daemon restart"
echo 2001 | "$KBUS" produce owned -p 0 2>/dev/null || fail "the partition was not let go"
[[ $("$KBUS" consume owned -e -f '%s\n' | tr '\n' ' ') == "$(seq -s ' ' 1 2001) " ]] ||
    fail "records of the exclusive producer lost, doubled or mixed"

# Consumer groups, as kcat -G and kafka-consumer-groups.sh.
"$KBUS" topic create orders --partitions 2 >/dev/null
seq 1 10 | "$KBUS" produce orders
[[ $("$KBUS" consume orders -g billing -c 4 -f '%s\n' | wc -l) == 4 ]] || fail "consume -g -c"
[[ $("$KBUS" consume orders -g billing -e -f '%s\n' | wc -l) == 6 ]] || fail "commit of what -c printed"
[[ $("$KBUS" consume orders -g billing -e -f '%s\n' | wc -l) == 0 ]] || fail "group commit"
seq 11 13 | "$KBUS" produce orders
[[ $("$KBUS" consume orders -g billing -e -f '%s\n' | sort -n | tr '\n' ' ') == "11 12 13 " ]] ||
    fail "group resumes after its commit"
[[ $("$KBUS" consume orders -g late -o end -e -f '%s\n' | wc -l) == 0 ]] || fail "-g -o end"
"$KBUS" group list | grep -Eq "^billing +Empty +0" || fail "group list: $("$KBUS" group list)"
"$KBUS" group describe billing >"$dir/describe"
grep -Eq "^billing +orders +0 +[0-9]+ +[0-9]+ +0 " "$dir/describe" || fail "describe: $(cat "$dir/describe")"
"$KBUS" group reset-offsets billing --topic orders --to-earliest --execute | grep -Eq "^billing +orders +1 +0$" ||
    fail "reset-offsets --to-earliest"
[[ $("$KBUS" consume orders -g billing -e -f '%s\n' | wc -l) == 13 ]] || fail "after reset to earliest"
"$KBUS" group reset-offsets billing --topic orders --to-offset 2 --execute >/dev/null
[[ $("$KBUS" group describe billing | grep -c " orders  *[01]  *2 ") == 2 ]] || fail "--to-offset"
"$KBUS" group reset-offsets billing --topic orders --to-datetime 2000-01-01T00:00:00Z --execute >/dev/null
"$KBUS" group reset-offsets billing --topic orders --to-latest --execute >/dev/null
! "$KBUS" group reset-offsets billing --topic orders --to-datetime yesterday 2>"$dir/err" ||
    fail "bad datetime accepted"
grep -q "bad datetime" "$dir/err" || fail "bad datetime message"
! "$KBUS" group describe nobody 2>"$dir/err" || fail "unknown group described"
grep -q "unknown group 'nobody'" "$dir/err" || fail "unknown group message"
! "$KBUS" consume orders -g 'bad/name' -e 2>"$dir/err" || fail "bad group name accepted"
grep -q "illegal character" "$dir/err" || fail "bad group name message"
"$KBUS" group delete billing | grep -q "Deleted" || fail "group delete"
! "$KBUS" group describe billing 2>/dev/null || fail "deleted group still there"

# Every command's --help lists its flags; --version names the version.
for cmd in topic produce consume group stats top mirror; do
    "$KBUS" "$cmd" --help >"$dir/help" || fail "kbus $cmd --help failed"
    grep -q "^usage: kbus $cmd" "$dir/help" || fail "kbus $cmd --help: $(cat "$dir/help")"
done
"$KBUS" consume --help | grep -q -- "-g GROUP" || fail "consume --help lacks -g"
"$KBUS" --help | grep -q "^  mirror  " || fail "kbus --help lacks mirror"
[[ $("$KBUS" --version) == "kbus "[0-9]* ]] || fail "kbus --version"
[[ $("$KBUSD" --version) == "kbusd "[0-9]* ]] || fail "kbusd --version"
# Progress: nothing extra when stderr is not a terminal; records/s and bytes when it is.
seq 1 200000 | "$KBUS" produce timed -p 0 2>"$dir/err"
[[ $(cat "$dir/err") == "produced 200000 records to timed" ]] || fail "produce stderr: $(cat "$dir/err")"
script -qec "seq 1 300000 | $KBUS produce timed -p 0" /dev/null >"$dir/tty" </dev/null
grep -q "producing to timed: 300000 records, [0-9.]* MB, [0-9]* records/s" "$dir/tty" ||
    fail "no progress line on a terminal: $(cat -v "$dir/tty")"

# Transactions: the whole input committed, or aborted; read_committed sees the committed only.
"$KBUS" topic create txn --partitions 2 >/dev/null
seq 1 5 | "$KBUS" produce txn --transactional-id cli-app 2>"$dir/err"
[[ $(cat "$dir/err") == "produced 5 records to txn in a transaction, committed" ]] ||
    fail "transactional produce: $(cat "$dir/err")"
seq 6 9 | "$KBUS" produce txn --transactional-id cli-app --abort 2>/dev/null
[[ $("$KBUS" consume txn -e --isolation read_committed | sort -n | tr '\n' ' ') == "1 2 3 4 5 " ]] ||
    fail "read_committed: $("$KBUS" consume txn -e --isolation read_committed | tr '\n' ' ')"
[[ $("$KBUS" consume txn -e | wc -l) == 9 ]] || fail "read_uncommitted: not every record"
! echo x | "$KBUS" produce txn --abort 2>"$dir/err" || fail "--abort without an id accepted"
grep -q -- "--abort needs --transactional-id" "$dir/err" || fail "--abort message"
! "$KBUS" consume txn -e --isolation serializable 2>"$dir/err" || fail "bad isolation accepted"
grep -q "read_committed or read_uncommitted" "$dir/err" || fail "isolation message"
"$KBUS" topic delete txn >/dev/null

# A compacted topic: a line without a key is reported and the others are sent (kcat's way);
# -Z sends an empty value as null, a tombstone.
"$KBUS" topic create kv --config cleanup.policy=compact >/dev/null
! printf 'a:1\nnokey\nb:22\nc:\n' | "$KBUS" produce kv -K : -Z 2>"$dir/err" ||
    fail "a refused line left the exit status 0"
grep -q "line 2 not sent" "$dir/err" || fail "refused line not reported: $(cat "$dir/err")"
[[ $("$KBUS" consume kv -e -f '%k=%S ' 2>/dev/null) == "a=1 b=2 c=-1 " ]] ||
    fail "compacted produce: $("$KBUS" consume kv -e -f '%k=%S ' 2>&1)"
! printf 'a:1\nnokey\n' | "$KBUS" produce kv -K : --transactional-id cli-kv 2>"$dir/err" ||
    fail "a refused line in a transaction left the exit status 0"
grep -q "line 2 refused, so the transaction is aborted" "$dir/err" ||
    fail "refused line in a transaction: $(cat "$dir/err")"
[[ $("$KBUS" consume kv -e --isolation read_committed -f '%k ' 2>/dev/null) == "a b c " ]] ||
    fail "a refused line's transaction not aborted"
"$KBUS" topic delete kv >/dev/null

"$KBUS" topic delete gps >/dev/null
"$KBUS" topic delete orders >/dev/null
[[ $("$KBUS" topic list | tr '\n' ' ') == "owned ride timed " ]] || fail "delete"
kill -TERM $daemon && wait $daemon || fail "kbusd exit status on SIGTERM"
! ls /dev/shm/kbus.$(id -u).$KBUS_BUS.* 2>/dev/null || fail "shared memory left after shutdown"
echo "cli test passed"
