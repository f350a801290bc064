#!/usr/bin/env bash
# `kbus stats --json` and kbusd's Prometheus endpoint (scraped with curl), against a known
# workload: 600 records to partition 0, 400 to partition 1, a group that consumed 250 of them.
#   stats_test.sh KBUSD KBUS
set -euo pipefail
kbusd=$1 kbus=$2
test_name=stats_test
source "$(dirname "$0")/daemon_test_lib.sh"

start_kbusd "$kbusd" "$kbus" --override kbus.metrics.port=0
url=$(logged "http://[0-9.:]*/metrics")
[[ -n $url ]] || fail "no metrics line in the log"

"${K[@]}" topic create t --partitions 2 >/dev/null
seq 1 600 | "${K[@]}" produce t -p 0 2>/dev/null
seq 1 400 | "${K[@]}" produce t -p 1 2>/dev/null
"${K[@]}" consume t -g g1 -o beginning -c 250 >/dev/null

json=$("${K[@]}" stats --json --interval 100)
echo "$json" | grep -q '"topic":"t","partition":0,"log_start_offset":0,"high_watermark":600,' ||
    fail "partition 0's figures: $json"
echo "$json" | grep -q '"topic":"t","partition":1,"log_start_offset":0,"high_watermark":400,' ||
    fail "partition 1's figures: $json"
committed=$(echo "$json" | grep -o '"group":"g1","state":"[A-Za-z]*","members":0,"topic":"t","partition":[01],"committed":[0-9]*' |
    sed 's/.*"committed"://' | awk '{ sum += $1 } END { print sum }')
[[ $committed == 250 ]] || fail "group g1 committed $committed in all, not 250: $json"
# Each partition the group committed on: committed + lag = the partition's high watermark.
while read -r partition committed lag; do
    hw=$((partition == 0 ? 600 : 400))
    ((committed + lag == hw)) || fail "g1 on partition $partition: $committed + $lag != $hw: $json"
done < <(echo "$json" | grep -o '"partition":[01],"committed":[0-9]*,"lag":[0-9]*' |
    sed 's/"partition":\([01]\),"committed":\([0-9]*\),"lag":\([0-9]*\)/\1 \2 \3/')

# The spill catches up within moments; then the lag on disk is 0 in the metrics.
for _ in $(seq 100); do
    metrics=$(curl -sf "$url") || fail "curl $url failed"
    grep -q 'kbus_partition_spill_lag_records{topic="t",partition="0"} 0' <<<"$metrics" && break
    sleep 0.05
done
for line in 'kbus_partition_records_total{topic="t",partition="0"} 600' \
    'kbus_partition_records_total{topic="t",partition="1"} 400' \
    'kbus_partition_spill_lag_records{topic="t",partition="0"} 0' \
    '# TYPE kbus_partition_records_total counter' 'kbus_connections '; do
    grep -qF "$line" <<<"$metrics" || fail "metrics lack '$line': $metrics"
done
grep -q '^kbus_group_lag_records{group="g1",topic="t",partition="[01]"} [0-9]*$' <<<"$metrics" ||
    fail "metrics lack the group's lag: $metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' "${url%/metrics}/other")
[[ $code == 404 ]] || fail "/other answered $code, not 404"

# A port in use: a clear message naming it, and a non-zero exit.
port=${url##*:}
port=${port%/metrics}
if "$kbusd" --bus "$bus-2" --run-dir "$work/run2" --data-dir "$work/data2" \
    --override kbus.metrics.port="$port" 2>"$work/second.log"; then
    fail "a second kbusd started on metrics port $port"
fi
grep -q "cannot serve metrics on 127.0.0.1:$port" "$work/second.log" ||
    fail "the second kbusd said: $(cat "$work/second.log")"
# ... and leaves no shared memory behind (it had no topics: nothing worth keeping).
! ls -d /dev/shm/kbus.$(id -u).$bus-2.* 2>/dev/null || fail "the failed kbusd left its shared memory"
echo "stats_test: ok"
