#!/usr/bin/env bash
# Installs what kbus needs on Debian 12 (only the missing packages; apt only when root).
set -euo pipefail
# clang and libclang-rt-14-dev: the libFuzzer targets; valgrind: kbusd under memcheck in test.sh;
# curl: the metrics endpoint's test; kcat and librdkafka-dev: the Kafka listener's tests and bench;
# python3-kafka (kafka-python; python3-snappy, -lz4 and -zstandard are its codecs), golang-go and
# golang-github-shopify-sarama-dev (sarama, built offline GOPATH-style): more Kafka clients in the
# listener's client matrix.
# libncurses-dev: kbus top; graphviz and doxygen: the architecture picture and the API reference.
PKGS=(build-essential cmake libboost-dev catch2 libcli11-dev libbenchmark-dev clang-format clang libclang-rt-14-dev valgrind curl pkg-config libncurses-dev graphviz doxygen zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
      kcat librdkafka-dev python3-kafka python3-snappy python3-lz4 python3-zstandard
      golang-go golang-github-shopify-sarama-dev
      libzmq3-dev libiceoryx-posh-dev iceoryx gnuplot-nox)  # the last four: kbus_compare's peers and charts
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi
