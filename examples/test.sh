#!/usr/bin/env bash
# The examples against real peers (CTest: examples). Natively, or with RUN
# set to ci/wine-run, the example programs (and ior-echo) run under Wine
# while the clients are the host's nc, so every byte crosses from Linux
# into a Windows program and back.
#
#   examples/test.sh RUN FORWARD HTTPD LOADGEN IOR_ECHO
#
#   forward: 4 MiB of random data through forward into ior-echo and back,
#            by SHA-256; nc -N half-closes, which must pass through
#            forward to ior-echo and its close back, or nc never ends.
#   httpd:   a 3 MiB file by GET (body by SHA-256), HEAD, 404 for a
#            missing file and for "..", 501 for POST, 400 for garbage.
#   loadgen: 8 connections x 200 requests against ior-echo, then 4 x 50
#            at 2000 requests/s: every request answered, no errors.
# Each server writes its listening line first; the script waits for it
# (bounded), never for a time.
set -euo pipefail

run=$1 forward=$2 httpd=$3 loadgen=$4 echo_srv=$5
limit=${IOR_EXAMPLES_TIMEOUT:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/ior-examples.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "examples: FAILED: $*" >&2
    exit 1
}

# start <name> <program> <args...>: runs it in the background; prints
# its port once its first line ("...listening on ADDR:PORT") is there.
start() {
    local name=$1 i line
    shift
    # shellcheck disable=SC2086 # $run is a command, or nothing
    timeout "$((limit * 3))" $run "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    for ((i = 0; i < limit * 10; i++)); do
        line=$(head -n 1 "$work/$name.out" 2>/dev/null | tr -d '\r')
        case "$line" in
        *"listening on "*:*) echo "${line##*:}"; return 0 ;;
        esac
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/$name.err" >&2
    fail "$name did not report a port"
}

sum() { sha256sum "$1" | cut -d ' ' -f 1; }

# --- forward -----------------------------------------------------------------
echo_port=$(start echo "$echo_srv" -p 0)
fwd_port=$(start forward "$forward" -p 0 127.0.0.1 "$echo_port")
head -c $((4 << 20)) /dev/urandom >"$work/data"
timeout "$limit" nc -N 127.0.0.1 "$fwd_port" <"$work/data" >"$work/back" ||
    fail "forward: nc did not end (half-close lost?)"
[ "$(sum "$work/data")" = "$(sum "$work/back")" ] ||
    fail "forward: $(stat -c %s "$work/back") bytes back, not the 4 MiB sent"
echo "examples: forward: 4 MiB through forward and ior-echo, back intact"

# --- httpd ---------------------------------------------------------------------
mkdir -p "$work/www"
head -c $((3 << 20)) /dev/urandom >"$work/www/f.bin"
http_port=$(start httpd "$httpd" -p 0 "$work/www")

# get <request> <out>: the whole response.
get() {
    printf '%b' "$1" | timeout "$limit" nc -N 127.0.0.1 "$http_port" >"$2" ||
        fail "httpd: no response to $1"
}

status() { head -n 1 "$1" | tr -d '\r'; }

get 'GET /f.bin HTTP/1.0\r\nHost: x\r\n\r\n' "$work/r1"
[ "$(status "$work/r1")" = "HTTP/1.0 200 OK" ] ||
    fail "httpd: GET answered $(status "$work/r1")"
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(d[d.index(b"\r\n\r\n") + 4:])' "$work/r1" >"$work/body"
[ "$(sum "$work/body")" = "$(sum "$work/www/f.bin")" ] ||
    fail "httpd: the body is $(stat -c %s "$work/body") bytes, not the file"
get 'HEAD /f.bin HTTP/1.0\r\n\r\n' "$work/r2"
if [ "$(status "$work/r2")" != "HTTP/1.0 200 OK" ] ||
    [ "$(tail -c 4 "$work/r2" | od -An -c | tr -d ' ')" != '\r\n\r\n' ]; then
    fail "httpd: HEAD: $(status "$work/r2"), or a body after the head"
fi
for req in 'GET /missing HTTP/1.0\r\n\r\n|HTTP/1.0 404 Not Found' \
    'GET /../www/f.bin HTTP/1.0\r\n\r\n|HTTP/1.0 404 Not Found' \
    'POST /f.bin HTTP/1.0\r\n\r\n|HTTP/1.0 501 Not Implemented' \
    'garbage\r\n\r\n|HTTP/1.0 400 Bad Request'; do
    get "${req%%|*}" "$work/r3"
    [ "$(status "$work/r3")" = "${req##*|}" ] ||
        fail "httpd: '${req%%|*}' answered $(status "$work/r3")"
done
echo "examples: httpd: 3 MiB GET intact; HEAD, 404 (also for ..), 501, 400"

# --- loadgen -----------------------------------------------------------------
# shellcheck disable=SC2086
out=$(timeout "$limit" $run "$loadgen" -c 8 -n 200 -s 100 127.0.0.1 \
    "$echo_port" | tr -d '\r') || fail "loadgen: $out"
case "$out" in
"loadgen: 1600 requests, 0 errors,"*) echo "examples: $out" ;;
*) fail "loadgen: $out" ;;
esac
# shellcheck disable=SC2086
out=$(timeout "$limit" $run "$loadgen" -c 4 -n 50 -r 2000 127.0.0.1 \
    "$echo_port" | tr -d '\r') || fail "loadgen -r: $out"
case "$out" in
"loadgen: 200 requests, 0 errors,"*) echo "examples: (-r 2000) $out" ;;
*) fail "loadgen -r: $out" ;;
esac
echo "examples: ok"
