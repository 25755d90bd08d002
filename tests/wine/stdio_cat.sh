#!/usr/bin/env bash
# Black-box check of ior_stdio_open: 8 MiB of random data through stdio_cat
# (stdin → stdout) over pipes, over file redirects, and into a reader that
# starts late (the writer must block and resume, not lose or hold data).
#   stdio_cat.sh [--runner PROGRAM] path/to/stdio_cat[.exe]
# --runner runs the program through e.g. ci/wine-run (the Windows build).
set -euo pipefail

runner=()
if [[ ${1:-} == --runner ]]; then
    runner=("$2")
    shift 2
fi
exe=${1:?usage: stdio_cat.sh [--runner PROGRAM] STDIO_CAT}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
size_mib=8
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$tmp/in"
want=$(sha256sum <"$tmp/in" | cut -d' ' -f1)
failed=0

now_ns() { date +%s%N; }

# check NAME SHA START_NS: compares and prints the rate.
check() {
    local ms=$((($(now_ns) - $3) / 1000000))
    local rate
    rate=$(awk -v m="$size_mib" -v ms="$ms" \
        'BEGIN { if (ms < 1) ms = 1; printf "%.1f", m * 1000 / ms }')
    if [[ $2 == "$want" ]]; then
        echo "ok   $1: $size_mib MiB, sha256 matches, $ms ms, $rate MiB/s"
    else
        echo "FAIL $1: sha256 $2, want $want"
        failed=1
    fi
}

start=$(now_ns)
# The cat is the point: stdin must be a pipe here, not the file.
# shellcheck disable=SC2002
got=$(cat "$tmp/in" | "${runner[@]}" "$exe" | sha256sum | cut -d' ' -f1)
check "pipe | stdio_cat | pipe" "$got" "$start"

start=$(now_ns)
"${runner[@]}" "$exe" <"$tmp/in" >"$tmp/out"
got=$(sha256sum <"$tmp/out" | cut -d' ' -f1)
check "< file stdio_cat > file" "$got" "$start"

start=$(now_ns)
got=$("${runner[@]}" "$exe" <"$tmp/in" | { sleep 1; sha256sum; } |
    cut -d' ' -f1)
check "< file stdio_cat | late reader" "$got" "$start"

# Empty input: EOF at once, empty output, exit status 0.
"${runner[@]}" "$exe" </dev/null >"$tmp/empty"
if [[ -s $tmp/empty ]]; then
    echo "FAIL empty input gave output"
    failed=1
else
    echo "ok   empty input: empty output"
fi
exit "$failed"
