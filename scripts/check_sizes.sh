#!/usr/bin/env bash
# The code's size limits (issue 21): no file in include/, lib/ or daemon/ over 600 lines, and no
# function over 60 lines (clang-tidy's readability-function-size, its LineThreshold counting the
# body's lines). Needs a configured build dir with compile_commands.json (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
failed=0
while read -r lines file; do
    [[ $file == total ]] && continue
    if ((lines > 600)); then
        echo "check_sizes: $file has $lines lines (at most 600)" >&2
        failed=1
    fi
done < <(find include lib daemon -name '*.[ch]pp' -print0 | xargs -0 wc -l)

# The headers are checked through one translation unit that includes them all.
all_headers=$(mktemp --suffix=.cpp)
trap 'rm -f "$all_headers"' EXIT
find include -name '*.hpp' | sed 's#^include/\(.*\)#\#include "\1"#' > "$all_headers"
tidy=(clang-tidy --quiet --checks='-*,readability-function-size'
      --config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 60}]}'
      --extra-arg=-Wno-unknown-warning-option --header-filter='.*/(include|lib|daemon)/.*')
report=$( { find lib daemon -name '*.cpp' -print0 |
              xargs -0 -P2 -n1 "${tidy[@]}" -p "$build" 2>/dev/null || true
            "${tidy[@]}" "$all_headers" -- -std=c++20 -Iinclude -Ilib 2>/dev/null || true; } |
          grep 'warning: function' | sort -u || true)
if [[ -n $report ]]; then
    echo "check_sizes: functions over 60 lines:" >&2
    echo "$report" >&2
    failed=1
fi
exit $failed
