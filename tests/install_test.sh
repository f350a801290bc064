#!/usr/bin/env bash
# `cmake --install` into a scratch prefix, then a project outside the tree built against it twice
# (find_package, and pkg-config with a plain compiler line), each run against the installed kbusd.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d /tmp/kbus-install-test.XXXXXX)
bus="install-$$"
cleanup() {
    [[ -n ${daemon:-} ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in bin/kbusd bin/kbus include/kbus/kbus.hpp lib/cmake/kbus/kbusConfig.cmake \
    share/pkgconfig/kbus.pc lib/systemd/system/kbusd.service share/kbus/server.properties; do
    [[ -e $work/prefix/$f ]] || { echo "install_test: $f was not installed" >&2; exit 1; }
done

"$work/prefix/bin/kbusd" --bus "$bus" --run-dir "$work/run" --data-dir "$work/data" 2>"$work/kbusd.log" &
daemon=$!
for _ in $(seq 100); do [[ -S $work/run/kbus.sock ]] && break; sleep 0.05; done

# 1. CMake: find_package(kbus) -> kbus::client.
cmake -S "$src/tests/install" -B "$work/user-cmake" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/user-cmake" >/dev/null
out=$("$work/user-cmake/kbus_user" "$bus" "$work/run" via-cmake)
[[ $out == "ok 1000" ]] || { echo "install_test: cmake-built program said: $out" >&2; exit 1; }

# 2. pkg-config and a plain compiler line.
export PKG_CONFIG_PATH="$work/prefix/share/pkgconfig"
# shellcheck disable=SC2046
c++ -O2 -o "$work/kbus_user_pc" "$src/tests/install/main.cpp" $(pkg-config --cflags --libs kbus)
out=$("$work/kbus_user_pc" "$bus" "$work/run" via-pkg-config)
[[ $out == "ok 1000" ]] || { echo "install_test: pkg-config-built program said: $out" >&2; exit 1; }

# And the installed CLI sees both topics.
topics=$("$work/prefix/bin/kbus" --bus "$bus" --run-dir "$work/run" topic list)
[[ $topics == *via-cmake* && $topics == *via-pkg-config* ]] ||
    { echo "install_test: kbus topic list said: $topics" >&2; exit 1; }
echo "install_test: ok"
