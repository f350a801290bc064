#!/usr/bin/env bash
# The README as a newcomer uses it. Every fenced block is accounted for:
# - each ```cpp block is a whole file under examples/ (install_test.sh builds and runs them
#   against the installed package), each ```cmake block is tests/install/CMakeLists.txt;
# - every ```sh block runs, in order, in one fresh shell (env -i, a scratch HOME) from a copy of
#   the repository's root, as a newcomer: not root (as nobody when the test runs as root), the
#   bus's dirs where kbus puts them by default (under a scratch XDG_RUNTIME_DIR and
#   XDG_DATA_HOME), a bus name of its own (KBUS_BUS, for parallel runs); and
#   any non-zero exit fails the test, except on a line marked `# error: MESSAGE`, which must
#   fail and print MESSAGE;
# - the blocks left out are listed below, each with the reason; a block neither run nor listed,
#   or a listed one that is gone, fails the test.
# `kbus top` (which wants a terminal) runs in a pseudo-terminal of 80x24 and is sent q.
#   readme_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
test_name=readme_test
source "$(dirname "$0")/daemon_test_lib.sh"

# First line of a block -> why it is not run here.
declare -A left_out=(
    ["scripts/demo.sh   # install what is missing (apt, as root), build, start kbusd, run the truck_gps demo"]="the set-up and the whole test suite themselves, which run this test"
    ["c++ -O2 -o hello examples/hello.cpp \$(pkg-config --cflags --libs kbus)"]="needs the installed package: tests/install_test.sh builds both examples this way and runs them"
    ["cmake --build build --target docs"]="Doxygen writes into the build dir: scripts/test.sh builds the docs target"
    ["cmake --install build --prefix /usr/local"]="changes the machine (/usr/local, a system user, systemd as PID 1): tests/install_test.sh installs into a scratch prefix and starts the unit's own command line"
    ["systemctl disable --now kbusd"]="changes the machine: tests/install_test.sh runs the uninstall target on its scratch prefix"
    ["build/bench/kbus_compare --runs 3 --json bench/results/compare.json --plot bench/results \\"]="16 minutes with both cores pinned (and an Aeron build): tests/compare_test.sh runs kbus_compare in miniature"
)

# ---- the blocks: <n>.<lang> files, and an index of "n lang first-line-number" ----
mkdir -p "$work/blocks"
awk -v dir="$work/blocks" '
    /^```/ && !open {
        open = 1; n++; lang = substr($0, 4); if (lang == "") lang = "none"
        file = dir "/" n "." lang
        printf "%d %s %d\n", n, lang, NR + 1 > (dir "/index")
        printf "" > file
        next
    }
    /^```/ && open { open = 0; close(file); next }
    open { print > file }
' "$src/README.md"
[[ -s $work/blocks/index ]] || fail "no blocks found in the README"

# One `# error: MESSAGE` line: the command must fail and say MESSAGE.
expect_error() {  # LINE COMMAND MESSAGE
    local msg=${3//\'/\'\\\'\'}
    printf 'if __out=$( { %s ; } 2>&1 </dev/null ); then\n' "$2"
    printf '    echo "README line %s: expected an error, it succeeded" >&2; exit 1\nfi\n' "$1"
    printf "grep -qF -- '%s' <<<\"\$__out\" ||\n" "$msg"
    printf '    { echo "README line %s: expected this error: %s; got: $__out" >&2; exit 1; }\n' \
        "$1" "$msg"
    printf 'echo "README line %s: as expected: $__out" >&2\n' "$1"
}

script=$work/readme.sh
cat >"$script" <<'PRELUDE'
set -eo pipefail
trap 'echo "README: a command of the block above failed (exit $?)" >&2' ERR
# A terminal for kbus top: a pseudo-terminal of 80x24; it must quit on q.
kbus() {
    if [[ ${1:-} == top && ! -p /dev/stdout ]]; then
        shift
        { sleep 1; printf q; } | timeout 10 script -qfec \
            "stty rows 24 cols 80; TERM=xterm $(type -P kbus) top $*" /dev/null >/dev/null
    else
        command kbus "$@"
    fi
}
PRELUDE
ran=0 checked=0 errors=0
declare -A seen_left_out=()
while read -r n lang line; do
    block=$work/blocks/$n.$lang
    first=$(head -n 1 "$block")
    case $lang in
        cpp)
            match=
            for f in "$src"/examples/*.cpp; do cmp -s "$block" "$f" && match=$f; done
            [[ -n $match ]] || fail "the C++ block at README line $line is not a file under examples/"
            checked=$((checked + 1))
            ;;
        cmake)
            cmp -s "$block" "$src/tests/install/CMakeLists.txt" ||
                fail "the CMake block at README line $line is not tests/install/CMakeLists.txt"
            checked=$((checked + 1))
            ;;
        sh)
            if [[ -n ${left_out[$first]+x} ]]; then
                seen_left_out[$first]=1
                echo "readme_test: left out the block at line $line: ${left_out[$first]}"
                continue
            fi
            echo "echo '--- README line $line' >&2" >>"$script"
            lineno=$line
            while IFS= read -r l; do
                if [[ $l =~ ^(.*[^[:space:]])[[:space:]]+#\ error:\ (.*)$ ]]; then
                    expect_error "$lineno" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >>"$script"
                    errors=$((errors + 1))
                else
                    printf '%s\n' "$l" >>"$script"
                fi
                lineno=$((lineno + 1))
            done <"$block"
            ran=$((ran + 1))
            ;;
        none | text) ;;  # pictures and listings
        *) fail "a block of unknown kind '$lang' at README line $line (sh, cpp, cmake or text)" ;;
    esac
done <"$work/blocks/index"
for first in "${!left_out[@]}"; do
    [[ -n ${seen_left_out[$first]+x} ]] ||
        fail "the left-out list names a block the README no longer has: $first"
done
((ran > 0 && checked >= 3 && errors >= 10)) ||
    fail "only $ran shell blocks, $checked C++/CMake blocks and $errors expected errors found"

# ---- a copy of the repository's root for the newcomer's shell (build/ is this build) ----
tree=$work/tree
mkdir -p "$tree" "$work/home"
for entry in "$src"/*; do ln -s "$entry" "$tree/$(basename "$entry")"; done
rm -f "$tree/build"
ln -s "$(cd "$build" && pwd)" "$tree/build"

# As root, the newcomer's shell runs as nobody, in dirs it owns.
as_user=()
uid=$(id -u)
if [[ $uid == 0 ]]; then
    uid=$(id -u nobody)
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    chmod 0755 "$work"
    chown -R nobody:nogroup "$tree" "$work/home"
fi
mkdir -p "$work/xdg-run" "$work/xdg-data"
chmod 0700 "$work/xdg-run"
[[ ${#as_user[@]} == 0 ]] || chown nobody:nogroup "$work/xdg-run" "$work/xdg-data"

cleanup_readme() {
    if [[ -n ${shell_pid:-} ]]; then
        kill -TERM -- "-$shell_pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL -- "-$shell_pid" 2>/dev/null || true
    fi
    rm -rf /dev/shm/kbus."$uid"."$bus".* 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup_readme EXIT
(cd "$tree" && exec env -i HOME="$work/home" PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb \
    LANG=C.UTF-8 KBUS_BUS="$bus" XDG_RUNTIME_DIR="$work/xdg-run" XDG_DATA_HOME="$work/xdg-data" \
    setsid "${as_user[@]}" timeout 300 bash --noprofile --norc "$script") >"$work/readme.log" 2>&1 </dev/null &
shell_pid=$!
rc=0
wait $shell_pid || rc=$?
if ((rc != 0)); then
    echo "readme_test: the README's shell blocks failed (exit $rc); the last of their output:" >&2
    tail -n 60 "$work/readme.log" >&2
    exit 1
fi
echo "readme_test: ok ($ran shell blocks run, $errors expected errors checked, $checked C++/CMake" \
    "blocks checked, ${#left_out[@]} left out)"
