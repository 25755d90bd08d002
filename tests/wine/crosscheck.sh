#!/usr/bin/env bash
# Cross-check of issue 3 part 6: ior-echo.exe (the IOCP backend) running
# under Wine serves a native Linux client (tests/wine/crosscheck_client.c,
# built with the host compiler: a cross build cannot make it).
#
#   tests/wine/crosscheck.sh IOR_ECHO_EXE CLIENT [CLIENT_ARGS...]
#
# CLIENT_ARGS after HOST PORT (defaults: 64 MiB bulk, 100 connections).
# Starts the server through ci/wine-run, reads its "listening on ADDR:PORT"
# line, runs the client against it, then stops the server (TERM, then KILL
# after a bound) and checks that it went. Exit status: the client's, or 1
# if the server did not start or did not stop.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 IOR_ECHO_EXE CLIENT [BULK_MIB [CONNS [CONN_BYTES]]]" >&2
    exit 2
fi
echo_exe=$1
client=$2
shift 2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wine_run="$here/../../ci/wine-run"
start_timeout_s=${IOR_CROSSCHECK_START_TIMEOUT:-60}
stop_timeout_s=10

work=$(mktemp -d "${TMPDIR:-/tmp}/ior-crosscheck.XXXXXX")
server_pid=""

stop_server() {
    local i
    if [ -z "$server_pid" ] || ! kill -0 "$server_pid" 2>/dev/null; then
        return 0
    fi
    kill -TERM "$server_pid" 2>/dev/null || true
    for ((i = 0; i < stop_timeout_s * 10; i++)); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            wait "$server_pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    echo "crosscheck: server did not stop within ${stop_timeout_s}s;" \
        "killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    return 1
}

# Called through the EXIT trap, which shellcheck does not follow.
# shellcheck disable=SC2317
cleanup() {
    stop_server || true
    rm -rf "$work"
}
trap cleanup EXIT

: >"$work/out" # exists before the first grep, whoever wins the race
"$wine_run" "$echo_exe" -b 127.0.0.1 -p 0 >"$work/out" 2>"$work/err" &
server_pid=$!

line=""
for ((i = 0; i < start_timeout_s * 10; i++)); do
    line=$(grep -m1 '^listening on ' "$work/out" || true)
    if [ -n "$line" ]; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "crosscheck: ior-echo exited before listening:" >&2
        cat "$work/err" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$line" ]; then
    echo "crosscheck: no 'listening on' line within ${start_timeout_s}s" >&2
    exit 1
fi
line=${line%$'\r'}
addr=${line#listening on }
host=${addr%:*}
port=${addr##*:}
host=${host#[}
host=${host%]}
echo "crosscheck: ior-echo.exe under Wine listening on $host:$port"

status=0
"$client" "$host" "$port" "$@" || status=$?

if ! stop_server; then
    status=1
fi
server_pid=""
if [ "$status" -ne 0 ]; then
    echo "crosscheck: FAILED (status $status); server stderr:" >&2
    cat "$work/err" >&2
else
    echo "crosscheck: passed"
fi
exit "$status"
