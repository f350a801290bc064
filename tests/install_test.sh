#!/usr/bin/env bash
# Install, run as a service, uninstall, as the README tells them:
# 1. `cmake --install` into a scratch prefix: every file where it belongs, the service unit
#    generated for that prefix (its kbusd, RuntimeDirectoryPreserve=yes, the run dir a root
#    client looks in by default) and the config as shipped.
# 2. The unit's own ExecStart line started by hand (systemd is not PID 1 here), its paths moved
#    into the scratch dir: the shipped config must start kbusd on a machine without a kbus group.
# 3. The README's C++ examples built outside the tree against the installed package, as a user
#    writes it: tests/install/CMakeLists.txt (the README's, no CMAKE_CXX_STANDARD) and pkg-config
#    with a plain compiler line; each run against that kbusd.
# 4. The uninstall target: nothing of kbus is left in the prefix.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
test_name=install_test
source "$(dirname "$0")/daemon_test_lib.sh"
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/kbusd bin/kbus include/kbus/kbus.hpp lib/cmake/kbus/kbusConfig.cmake \
    share/pkgconfig/kbus.pc lib/systemd/system/kbusd.service share/kbus/server.properties \
    etc/kbus/server.properties share/doc/kbus/README.md share/doc/kbus/LICENSE; do
    [[ -e $prefix/$f ]] || fail "$f was not installed"
done

# --- the unit: made for this prefix, its run dir where root's clients look ---
unit=$prefix/lib/systemd/system/kbusd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a start <<<"$exec_start"
[[ ${start[0]} == "$prefix/bin/kbusd" ]] || fail "the unit runs ${start[0]}, not $prefix/bin/kbusd"
grep -qx "RuntimeDirectoryPreserve=yes" "$unit" || fail "the unit lacks RuntimeDirectoryPreserve=yes"
arg() {
    local i
    for ((i = 1; i < ${#start[@]}; i++)); do [[ ${start[i]} != "$1" ]] || echo "${start[i + 1]}"; done
}
[[ $(arg --config) == "$prefix/etc/kbus/server.properties" ]] || fail "the unit reads $(arg --config)"
unit_bus=$(arg --bus) unit_run=$(arg --run-dir)
[[ $unit_run == "/run/kbus/$unit_bus" ]] || fail "the unit's run dir $unit_run is not /run/kbus/$unit_bus"
grep -Eq "^RuntimeDirectory=.*\bkbus/$unit_bus\b" "$unit" || fail "systemd does not make $unit_run"
if [[ $(id -u) == 0 ]]; then
    # What root's client resolves with nothing set: it names the socket it could not reach.
    env -i PATH=/usr/bin:/bin "$prefix/bin/kbus" --bus "$unit_bus" topic list 2>"$work/err" && true
    grep -q "cannot reach kbusd at $unit_run/kbus.sock" "$work/err" ||
        fail "root's client looks elsewhere than the unit's run dir: $(cat "$work/err")"
fi
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit" 2>"$work/verify" || fail "systemd-analyze verify: $(cat "$work/verify")"
fi

# --- the service's command line, as shipped, in scratch dirs ---
cmd=("${start[@]}")
for ((i = 1; i < ${#cmd[@]}; i++)); do
    case ${cmd[i - 1]} in
        --bus) cmd[i]=$bus ;;
        --run-dir) cmd[i]=$work/run ;;
        --data-dir) cmd[i]=$work/data ;;
    esac
done
"${cmd[@]}" 2>"$work/kbusd.log" &
daemon=$!
K=("$prefix/bin/kbus" --bus "$bus" --run-dir "$work/run")
for _ in $(seq 100); do "${K[@]}" topic list >/dev/null 2>&1 && break; sleep 0.05; done
kill -0 $daemon 2>/dev/null || fail "the unit's command line with the shipped config did not start kbusd"

# --- the README's examples, built as a user's project would build them ---
export KBUS_BUS=$bus KBUS_RUN_DIR=$work/run
for how in cmake pkg-config; do
    for example in hello group_member transactions; do  # each member reads what hello sent
        dir=$work/user-$example-$how
        mkdir -p "$dir"
        cp "$src/examples/$example.cpp" "$dir/"
        if [[ $how == cmake ]]; then
            sed "s/hello/$example/g" "$src/tests/install/CMakeLists.txt" >"$dir/CMakeLists.txt"
            grep -q CMAKE_CXX_STANDARD "$dir/CMakeLists.txt" && fail "the user's CMakeLists sets the standard"
            cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" >"$dir/log" 2>&1 ||
                fail "$example: cmake configure: $(cat "$dir/log")"
            cmake --build "$dir/build" >"$dir/log" 2>&1 || fail "$example: cmake build: $(cat "$dir/log")"
            program=$dir/build/$example
        else
            # shellcheck disable=SC2046
            (cd "$dir" && PKG_CONFIG_PATH="$prefix/share/pkgconfig" \
                c++ -O2 -o "$example" "$example.cpp" $(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --cflags --libs kbus)) \
                >"$dir/log" 2>&1 || fail "$example: pkg-config build: $(cat "$dir/log")"
            program=$dir/$example
        fi
        "$program" >"$dir/out" 2>&1 || fail "$example ($how) failed: $(cat "$dir/out")"
        case $example in
            hello) grep -q "52.54,13.42" "$dir/out" && grep -q "(in place)" "$dir/out" ||
                fail "hello ($how) said: $(cat "$dir/out")" ;;
            group_member) grep -q "^read 4 records" "$dir/out" ||
                fail "group_member ($how) said: $(cat "$dir/out")" ;;
            transactions) grep -q "^ledger offset 0: debit 40.00" "$dir/out" &&
                ! grep -q "1002" "$dir/out" || fail "transactions ($how) said: $(cat "$dir/out")" ;;
        esac
    done
done
[[ $("${K[@]}" topic list | tr '\n' ' ') == "hello invoices ledger " ]] ||
    fail "the installed CLI sees: $("${K[@]}" topic list)"

# --- uninstall: everything install put down goes ---
kill -TERM $daemon && wait $daemon || fail "kbusd's exit status on SIGTERM"
daemon=
cmake --build "$build" --target uninstall >"$work/uninstall.log" 2>&1 ||
    fail "uninstall: $(cat "$work/uninstall.log")"
left=$(find "$prefix" -type f -o -type l)
[[ -z $left ]] || fail "uninstall left: $left"
[[ ! -e $prefix/include/kbus && ! -e $prefix/share/kbus && ! -e $prefix/etc/kbus ]] ||
    fail "uninstall left kbus's folders: $(find "$prefix" -path '*kbus*')"
echo "install_test: ok"
