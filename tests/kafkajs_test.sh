#!/usr/bin/env bash
# kafkajs 2.2.4 (from npm) against kbusd's Kafka listener, through the client-matrix steps that
# tests/kafkajs/check.js runs: metadata and describeCluster; the admin client (createTopics,
# describeConfigs, alterConfigs, createPartitions, deleteTopicRecords, listGroups, describeGroups,
# deleteGroups, deleteTopics); keyed produce placed by murmur2; headers and timestamps; a consumer
# group's commit and resume, and a rebalance; offsets by time; gzip batches; the idempotent
# producer; a transactional producer refused promptly. Each step prints `kafkajs: <step>` (or
# `kafkajs: FAILED <step>: <error>`); the run must end with `kafkajs: all steps passed`. Its first
# step's records (one batch gzip-compressed, keys placed by murmur2) are also read with
# `kbus consume`, and that group's commits seen by `kbus group describe`.
# Exits 77 (skipped) when node or the npm registry is not there.
#   kafkajs_test.sh KBUSD KBUS CACHE_DIR
set -euo pipefail
kbusd=$1 kbus=$2 cache=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "kafkajs_test: no node/npm, skipped"; exit 77; }
mkdir -p "$cache"
cp "$here/kafkajs/package.json" "$here/kafkajs/check.js" "$cache/"
if [[ ! -d $cache/node_modules/kafkajs ]] &&
    ! (cd "$cache" && timeout 180 npm install --silent --no-audit --no-fund >/dev/null 2>&1); then
    echo "kafkajs_test: npm could not install kafkajs, skipped"
    exit 77
fi
test_name=kafkajs_test
source "$here/daemon_test_lib.sh"
start_kbusd "$kbusd" "$kbus" --override listeners=PLAINTEXT://127.0.0.1:0
broker=$(logged "Kafka listener on [0-9.:]*" | awk '{print $4}')
[[ -n $broker ]] || fail "no listener line in the log"
# kafkajs's own log (errors only, stderr) is shown when a step fails.
out=$(cd "$cache" && timeout 120 node check.js "$broker" js jsg "$work/records" 2>"$work/kafkajs.log") ||
    fail "kafkajs stopped: $out"$'\n'"--- kafkajs's log"$'\n'"$(cat "$work/kafkajs.log")"
echo "$out"
echo "$out" | grep -qx "kafkajs: all steps passed" || fail "kafkajs did not finish: $out"
got=$(cat "$work/records")
# murmur2 over 2 partitions: foobar, kafka -> 0; abc -> 1 (gz follows on the round robin's or
# the key's partition: checked by the shared-memory consumer's view instead).
echo "$got" | grep -qx "0 [0-9] foobar:v1 trace=t1" || fail "foobar: $got"
echo "$got" | grep -qx "0 [0-9] kafka:v2 " || fail "kafka: $got"
echo "$got" | grep -qx "1 [0-9] abc:v3 " || fail "abc: $got"
echo "$got" | grep -q " gz:gzipped " || fail "the gzip batch: $got"
shm=$("${K[@]}" consume js -e -f '%p %o %k:%s %h\n' | sort)
[[ $shm == "$got" ]] || fail "kafkajs read: $got; kbus consume read: $shm"
"${K[@]}" group describe jsg | grep -Eq "jsg +js +0 +[1-9]" || fail "no commit: $("${K[@]}" group describe jsg)"
echo "kafkajs_test: ok"
