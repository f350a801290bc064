#!/usr/bin/env bash
# sarama (Debian's golang-github-shopify-sarama-dev 1.22.1, built GOPATH-style and offline with
# golang-go) against kbusd's Kafka listener, at sarama's default Version (0.8.2.0) and at the newest
# it knows (2.2.0.0): tests/clients/sarama_client.go runs the steps (metadata, admin, keyed produce,
# headers and timestamps, consumer groups, offsets by time, every codec, idempotence). The program
# is built into BUILD_DIR. Exits 77 (skipped, with a line saying why) when go or sarama is missing.
#   kafka_sarama_test.sh KBUSD KBUS BUILD_DIR
set -euo pipefail
kbusd=$1 kbus=$2 build=$3
here=$(cd "$(dirname "$0")" && pwd)
gopath=/usr/share/gocode  # where Debian's golang-*-dev packages put their sources
command -v go >/dev/null && [[ -d $gopath/src/github.com/Shopify/sarama ]] || {
    echo "kafka_sarama_test: golang-go or sarama is not installed, skipped"
    exit 77
}
mkdir -p "$build"
# Offline, GOPATH mode; the build cache stays go's default. DataDog/zstd's cgo warns on every
# build, so the compiler's output is shown only when the build fails.
built=$(GO111MODULE=off GOPATH=$gopath GOFLAGS= GOPROXY=off \
    go build -o "$build/sarama_client" "$here/clients/sarama_client.go" 2>&1) || {
    echo "kafka_sarama_test: go build failed: $built" >&2
    exit 1
}
test_name=kafka_sarama_test
source "$here/daemon_test_lib.sh"
start_kbusd "$kbusd" "$kbus" --override listeners=PLAINTEXT://127.0.0.1:0
broker=$(logged "Kafka listener on [0-9.:]*" | awk '{print $4}')
[[ -n $broker ]] || fail "no listener line in the log"
out=$(timeout 270 "$build/sarama_client" "$broker" 2>&1) || fail "sarama: $out"
echo "$out"
[[ $(tail -n1 <<<"$out") == "sarama: all steps passed" ]] || fail "sarama stopped: $out"
