# Sourced by the shell tests that start a kbusd of their own: a scratch dir and bus named after
# the test (parallel runs never meet), the daemon stopped and the dir removed on exit, fail()
# with the daemon's log, and what the daemon logs (a port it chose) waited for.
#   test_name=kafka_kcat_test; source "$(dirname "$0")/daemon_test_lib.sh"
#   start_kbusd KBUSD KBUS [kbusd flags...]   sets daemon (its pid) and K (the kbus CLI on it)
#   logged PATTERN                            the first match in its log, within 10 s
work=$(mktemp -d "/tmp/kbus-$test_name.XXXXXX")
bus="${test_name%_test}-$$"
cleanup() {
    [[ -n ${daemon:-} ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    rm -rf "$work" /dev/shm/kbus."$(id -u)"."$bus".*
}
trap cleanup EXIT
fail() { echo "$test_name: $*" >&2; echo "--- kbusd log" >&2; cat "$work/kbusd.log" >&2; exit 1; }

start_kbusd() {
    local kbusd=$1 kbus=$2
    shift 2
    "$kbusd" --bus "$bus" --run-dir "$work/run" --data-dir "$work/data" "$@" 2>"$work/kbusd.log" &
    daemon=$!
    K=("$kbus" --bus "$bus" --run-dir "$work/run")
}

logged() {
    for _ in $(seq 200); do grep -q "$1" "$work/kbusd.log" 2>/dev/null && break; sleep 0.05; done
    grep -o -m1 "$1" "$work/kbusd.log" || true  # nothing: the caller says what is missing
}
