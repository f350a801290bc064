#!/usr/bin/env bash
# Debian's kcat (librdkafka 2.0) against kbusd's Kafka listener: metadata, produce with keys and
# headers and read back identically, records crossing between kcat and the shared-memory
# tools with the same offsets, murmur2 placement, group consumption that commits and resumes, and
# compressed batches of every codec.
#   kafka_kcat_test.sh KBUSD KBUS
set -euo pipefail
kbusd=$1 kbus=$2
command -v kcat >/dev/null || { echo "kafka_kcat_test: kcat is not installed" >&2; exit 1; }
test_name=kafka_kcat_test
source "$(dirname "$0")/daemon_test_lib.sh"

start_kbusd "$kbusd" "$kbus" --override listeners=PLAINTEXT://127.0.0.1:0
broker=$(logged "Kafka listener on [0-9.:]*" | awk '{print $4}')
[[ -n $broker ]] || fail "no listener line in the log"
kc() { timeout 60 kcat -b "$broker" -q "$@"; }

# kcat -L: the topics, their partitions, one broker at the listener's address.
"${K[@]}" topic create t --partitions 3 >/dev/null
"${K[@]}" topic create shm --partitions 1 >/dev/null
meta=$(kc -L)
echo "$meta" | grep -q "broker 0 at $broker" || fail "kcat -L broker: $meta"
echo "$meta" | grep -q 'topic "t" with 3 partitions' || fail "kcat -L topic t: $meta"
echo "$meta" | grep -q 'topic "shm" with 1 partitions' || fail "kcat -L topic shm: $meta"

# kcat -P with keys and headers, read back by kcat -C -e identically. Keys are the reference's
# murmur2 vectors: with Kafka's partitioner they land where Java's client would put them.
printf '%s\n' foobar:v-foobar abc:v-abc kafka:v-kafka giberish123456789:v-gib 0:v-0 1:v-1 \
    >"$work/in.txt"
kc -P -t t -K: -H origin=kcat -H trace=x1 -X partitioner=murmur2_random <"$work/in.txt"
kc -C -t t -e -f '%p %k:%s %h\n' | sort >"$work/out.txt"
[[ $(wc -l <"$work/out.txt") == 6 ]] || fail "kcat read back $(cat "$work/out.txt")"
expected_partition() {
    case $1 in foobar | abc | 1) echo 0 ;; kafka) echo 1 ;; giberish123456789 | 0) echo 2 ;; esac
}
while read -r partition record headers; do
    key=${record%%:*}
    grep -qx "$record" "$work/in.txt" || fail "record $record was not produced"
    [[ $headers == "origin=kcat,trace=x1" ]] || fail "headers of $key: $headers"
    [[ $partition == $(expected_partition "$key") ]] ||
        fail "key $key on partition $partition, murmur2 says $(expected_partition "$key")"
done <"$work/out.txt"

# The same records through the shared-memory consumer: same partitions, offsets and headers.
"${K[@]}" consume t -e -f '%p %o %k:%s %h\n' | sort >"$work/shm_view.txt"
kc -C -t t -e -f '%p %o %k:%s %h\n' | sort >"$work/kafka_view.txt"
diff "$work/shm_view.txt" "$work/kafka_view.txt" >&2 || fail "the two views differ"

# One partition, both kinds of producer in turn: one sequence of offsets, seen alike by both.
printf 'a:1\nb:2\n' | "${K[@]}" produce shm -K : -H via=shm 2>/dev/null
printf 'c:3\nd:4\n' | kc -P -t shm -p 0 -K: -H via=kafka
printf 'e:5\n' | "${K[@]}" produce shm -K : -H via=shm 2>/dev/null
want=$'0 a:1 via=shm\n1 b:2 via=shm\n2 c:3 via=kafka\n3 d:4 via=kafka\n4 e:5 via=shm'
got=$(kc -C -t shm -e -f '%o %k:%s %h\n')
[[ $got == "$want" ]] || fail "kcat read shm as: $got"
got=$("${K[@]}" consume shm -e -f '%o %k:%s %h\n')
[[ $got == "$want" ]] || fail "kbus consume read shm as: $got"

# Transactions of a shared-memory producer, read by kcat at its defaults (librdkafka reads
# read_committed: the fetch's last stable offset and aborted transactions) and at
# read_uncommitted: no marker is ever a record, and aborted records only for the latter.
"${K[@]}" topic create txn --partitions 1 >/dev/null
seq 1 3 | "${K[@]}" produce txn --transactional-id kcat-app 2>/dev/null
seq 4 6 | "${K[@]}" produce txn --transactional-id kcat-app --abort 2>/dev/null
seq 7 8 | "${K[@]}" produce txn --transactional-id kcat-app 2>/dev/null
got=$(kc -C -t txn -e -f '%o:%s ' )
[[ $got == "0:1 1:2 2:3 8:7 9:8 " ]] || fail "kcat read_committed read: $got"
got=$(kc -C -t txn -e -X isolation.level=read_uncommitted -f '%o:%s ')
[[ $got == "0:1 1:2 2:3 4:4 5:5 6:6 8:7 9:8 " ]] || fail "kcat read_uncommitted read: $got"

# kcat -G: group consumption commits, and a second run resumes after the commit.
group=(-X session.timeout.ms=6000 -X auto.offset.reset=earliest)
first=$(kc -G g1 "${group[@]}" -e -f '%k\n' shm | sort | tr '\n' ' ')
[[ $first == "a b c d e " ]] || fail "first group run read: $first"
"${K[@]}" group describe g1 | grep -Eq "g1 +shm +0 +5 +5 +0" ||
    fail "group g1 did not commit 5: $("${K[@]}" group describe g1)"
printf 'f:6\n' | "${K[@]}" produce shm -K : 2>/dev/null
second=$(kc -G g1 "${group[@]}" -e -f '%k\n' shm | tr '\n' ' ')
[[ $second == "f " ]] || fail "the group did not resume after its commit: $second"

# A topic kcat names that does not exist: an error, and nothing created.
if kc -C -t missing -e -f '%s\n' 2>/dev/null; then fail "consuming a missing topic succeeded"; fi
"${K[@]}" topic list | grep -qx missing && fail "a missing topic was created"

# Compressed batches with every codec librdkafka has: it compresses only when the broker
# serves Produce v0 (its codec check), and only batches that shrink, so 500 similar records.
"${K[@]}" topic create z --partitions 1 >/dev/null
for codec in gzip snappy lz4 zstd; do
    seq 1 500 | sed "s/^/k:$codec-record-/" |
        kc -P -t z -K: -z "$codec" -X linger.ms=100 -d msg 2>"$work/z.log"
    grep -q "MsgVersion 2, .*$codec)" "$work/z.log" || fail "kcat did not send $codec: $(grep -m2 MsgVersion "$work/z.log")"
done
got=$(kc -C -t z -e -f '%s\n' | sed 's/-record-.*//' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
[[ $got == "gzip=500 lz4=500 snappy=500 zstd=500 " ]] || fail "compressed batches read back as: $got"

# The daemon served all of it without a complaint, and still serves its own clients.
grep -E "ERROR|WARN" "$work/kbusd.log" && fail "the daemon logged a problem"
"${K[@]}" topic list | grep -qx shm || fail "the control socket stopped answering"
# The listener's port taken, or a host that is not an address: a message naming it, exit 1.
port=${broker##*:}
second() { "$kbusd" --bus "$bus-2" --run-dir "$work/run2" --data-dir "$work/data2" \
    --override listeners="$1" 2>"$work/second.log"; }
! second "PLAINTEXT://127.0.0.1:$port" || fail "a second kbusd took the Kafka port $port"
grep -q "cannot listen for Kafka clients on 127.0.0.1:$port" "$work/second.log" ||
    fail "port in use: $(cat "$work/second.log")"
! second "PLAINTEXT://localhost:0" || fail "a kbusd listened on a host name"
grep -q "listeners: 'localhost' is not an IPv4 address" "$work/second.log" ||
    fail "bad host: $(cat "$work/second.log")"
echo "kafka_kcat_test: ok"
