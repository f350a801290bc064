#!/usr/bin/env bash
# Installs what is missing, builds, starts kbusd with its defaults and runs the truck_gps demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
build/daemon/kbusd &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
      echo "demo: stopped its kbusd (the quick start in README.md keeps one running)"' EXIT
for _ in $(seq 100); do build/examples/truck_gps --probe >/dev/null 2>&1 && break; sleep 0.05; done
build/examples/truck_gps
