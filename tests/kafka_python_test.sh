#!/usr/bin/env bash
# kafka-python (Debian's python3-kafka 2.0.2) against kbusd's Kafka listener, at its defaults and
# pinned to old broker versions: tests/clients/kafka_python_client.py runs the steps. Exits 77
# (skipped, with a line saying why) when python3-kafka is not installed.
#   kafka_python_test.sh KBUSD KBUS
set -euo pipefail
kbusd=$1 kbus=$2
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3  # Debian's, where python3-kafka lives (not a pyenv or venv python)
"$python" -c 'import kafka' 2>/dev/null || {
    echo "kafka_python_test: python3-kafka is not installed, skipped"
    exit 77
}
test_name=kafka_python_test
source "$here/daemon_test_lib.sh"
start_kbusd "$kbusd" "$kbus" --override listeners=PLAINTEXT://127.0.0.1:0
broker=$(logged "Kafka listener on [0-9.:]*" | awk '{print $4}')
[[ -n $broker ]] || fail "no listener line in the log"
out=$(timeout 240 "$python" "$here/clients/kafka_python_client.py" "$broker" 2>&1) ||
    fail "kafka-python: $out"
echo "$out"
echo "$out" | grep -qx "kafka-python: all steps passed" || fail "kafka-python stopped: $out"
