#!/usr/bin/env bash
# iorcat --tls against OpenSSL's own tools, over loopback:
#   tests/tls/interop.sh IORCAT CERT_DIR [client-only|all]
# IORCAT is the iorcat to test, split on spaces (so "ci/wine-run
# iorcat.exe" runs the Windows one under Wine); CERT_DIR holds
# make_certs.sh's files. client-only skips the cases where iorcat is the
# server (Wine 8's SChannel has no server side: they run on the Windows
# runner).
# IOR_INTEROP_MIB (default 16) MiB of random data, checked by SHA-256:
#   client-up      iorcat --tls -N   -->  openssl s_server  (close_notify at EOF)
#   client-down    iorcat --tls -d   <--  openssl s_server  (its close_notify ends it)
#   server-down    iorcat -l --tls -N  -->  openssl s_client
#   server-up      iorcat -l --tls     <--  openssl s_client -no_ign_eof
# and verification failures, which end iorcat with status 1 and the reason:
#   unknown-ca     s_server with a certificate of another CA
#   wrong-name     --servername other.example against "localhost"
#   expired        s_server with a certificate valid only in 2020
#   system-store   no --ca: the system's CAs, which lack the test CA
# Servers bind port 0; the port is read from iorcat's -v line, or from
# ss(8) for s_server (-quiet prints nothing), polled and bounded by the
# time limit, never a fixed sleep. s_server's stdin is a FIFO held open, so
# its own EOF never closes the connection early; it serves one connection
# (-naccept 1) and is killed at the end if still there.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 IORCAT CERT_DIR [client-only|all]" >&2
    exit 2
fi
read -ra iorcat <<<"$1"
certs=$(cd "$2" && pwd)
client_only=0
[ "${3:-}" = client-only ] && client_only=1
mib="${IOR_INTEROP_MIB:-16}"
limit="${IOR_INTEROP_TIMEOUT:-60}"
work=$(mktemp -d "${TMPDIR:-/tmp}/ior-tls-interop.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    exec 3>&- 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/data"
mkfifo "$work/hold"
exec 3<>"$work/hold"

sum() { sha256sum "$1" | cut -d ' ' -f 1; }

# The address process $1 listens on: ss(8) on Linux; on Windows (Git's
# bash) netstat -ano with the Windows pid MSYS keeps in /proc/PID/winpid.
listening_on() {
    if command -v ss >/dev/null; then
        ss -Htlnp 2>/dev/null | grep "pid=$1," | awk '{print $4}' |
            head -n 1 || true
    elif [ -r "/proc/$1/winpid" ]; then
        netstat -ano -p TCP 2>/dev/null | tr -d '\r' |
            awk -v p="$(cat "/proc/$1/winpid")" \
                '$4 == "LISTENING" && $5 == p {print $2; exit}' || true
    fi
}

# wait_port FILE PID: iorcat's port, from its "listening on" line; with
# FILE "-", the TCP port process PID listens on (listening_on).
wait_port() {
    local i line
    for ((i = 0; i < limit * 10; i++)); do
        if [ "$1" = - ]; then
            line=$(listening_on "$2")
        else
            line=$(grep -m 1 'listening on ' "$1" 2>/dev/null || true)
        fi
        if [ -n "$line" ]; then
            echo "${line##*:}"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

passed=0
failed=0
report() { # name ok|why
    if [ "$2" = ok ]; then
        echo "PASS  $1"
        passed=$((passed + 1))
    else
        echo "FAIL  $1: $2"
        failed=$((failed + 1))
    fi
}

s_server() { # dir cert key [stdin]: starts it, sets spid
    local in=${4:-/dev/fd/3}
    openssl s_server -quiet -naccept 1 -accept 127.0.0.1:0 \
        -cert "$certs/$2" -key "$certs/$3" <"$in" >"$1/srv.out" \
        2>"$1/srv.err" &
    spid=$!
    pids+=("$spid")
}

case_client() { # name direction(up|down)
    local d="$work/$1" spid port rc=0 why=""
    mkdir -p "$d"
    if [ "$2" = up ]; then
        s_server "$d" server.pem server.key
    else
        s_server "$d" server.pem server.key "$work/data"
    fi
    if ! port=$(wait_port - "$spid"); then
        report "$1" "s_server did not start"
        return
    fi
    if [ "$2" = up ]; then
        timeout "$limit" "${iorcat[@]}" -N --tls --ca "$certs/ca.pem" localhost \
            "$port" <"$work/data" >"$d/cli.out" 2>"$d/cli.err" || rc=$?
    else
        timeout "$limit" "${iorcat[@]}" -d --tls --ca "$certs/ca.pem" localhost \
            "$port" >"$d/cli.out" 2>"$d/cli.err" || rc=$?
    fi
    wait "$spid" 2>/dev/null || true
    [ "$rc" -eq 0 ] || why="iorcat exit $rc: $(tr '\n' ' ' <"$d/cli.err")"
    if [ "$2" = up ] && [ "$(sum "$d/srv.out")" != "$(sum "$work/data")" ]; then
        why+="${why:+; }s_server got $(stat -c %s "$d/srv.out") bytes, sha256 differs"
    fi
    if [ "$2" = down ] && [ "$(sum "$d/cli.out")" != "$(sum "$work/data")" ]; then
        why+="${why:+; }iorcat got $(stat -c %s "$d/cli.out") bytes, sha256 differs"
    fi
    report "$1" "${why:-ok}"
}

case_server() { # name direction(down|up)
    local d="$work/$1" ipid port rc=0 why="" in=/dev/null
    mkdir -p "$d"
    [ "$2" = down ] && in="$work/data"
    if [ "$2" = down ]; then
        timeout "$limit" "${iorcat[@]}" -l -N -v --tls --cert "$certs/server.pem" \
            --key "$certs/server.key" 127.0.0.1 0 <"$in" >"$d/srv.out" \
            2>"$d/srv.err" &
    else
        timeout "$limit" "${iorcat[@]}" -l -v --tls --cert "$certs/server.pem" \
            --key "$certs/server.key" 127.0.0.1 0 <"$in" >"$d/srv.out" \
            2>"$d/srv.err" &
    fi
    ipid=$!
    pids+=("$ipid")
    if ! port=$(wait_port "$d/srv.err" "$ipid"); then
        report "$1" "iorcat -l did not start"
        return
    fi
    if [ "$2" = down ]; then
        timeout "$limit" openssl s_client -quiet -verify_return_error \
            -CAfile "$certs/ca.pem" -servername localhost \
            -connect "127.0.0.1:$port" </dev/null >"$d/cli.out" \
            2>"$d/cli.err" || true
    else
        timeout "$limit" openssl s_client -quiet -nocommands -no_ign_eof \
            -verify_return_error -CAfile "$certs/ca.pem" \
            -servername localhost -connect "127.0.0.1:$port" \
            <"$work/data" >"$d/cli.out" 2>"$d/cli.err" || true
    fi
    wait "$ipid" || rc=$?
    [ "$rc" -eq 0 ] || why="iorcat -l exit $rc: $(tr '\n' ' ' <"$d/srv.err")"
    if [ "$2" = down ] && [ "$(sum "$d/cli.out")" != "$(sum "$work/data")" ]; then
        why+="${why:+; }s_client got $(stat -c %s "$d/cli.out") bytes, sha256 differs"
    fi
    if [ "$2" = up ] && [ "$(sum "$d/srv.out")" != "$(sum "$work/data")" ]; then
        why+="${why:+; }iorcat got $(stat -c %s "$d/srv.out") bytes, sha256 differs"
    fi
    report "$1" "${why:-ok}"
}

case_refused() { # name cert key servername expected-text [ca|system]
    local d="$work/$1" spid port rc=0 why="" ca=(--ca "$certs/ca.pem")
    [ "${6:-ca}" = system ] && ca=()
    mkdir -p "$d"
    s_server "$d" "$2" "$3"
    if ! port=$(wait_port - "$spid"); then
        report "$1" "s_server did not start"
        return
    fi
    echo secret | timeout "$limit" "${iorcat[@]}" --tls "${ca[@]}" \
        --servername "$4" 127.0.0.1 "$port" >"$d/cli.out" \
        2>"$d/cli.err" || rc=$?
    wait "$spid" 2>/dev/null || true
    [ "$rc" -eq 1 ] || why="iorcat exit $rc, want 1"
    grep -q "$5" "$d/cli.err" ||
        why+="${why:+; }no '$5' in: $(tr '\n' ' ' <"$d/cli.err")"
    [ ! -s "$d/srv.out" ] || why+="${why:+; }s_server received data"
    report "$1" "${why:-ok}"
}

case_client client-up up
case_client client-down down
if [ "$client_only" -eq 1 ]; then
    echo "SKIP  server-down, server-up: no TLS server here (Wine 8's SChannel has none; the Windows runner runs them)"
else
    case_server server-down down
    case_server server-up up
fi
case_refused unknown-ca rogue.pem rogue.key localhost \
    'peer certificate not trusted: certificate: unable to get local issuer'
case_refused wrong-name server.pem server.key other.example \
    'peer certificate not trusted: certificate: hostname mismatch'
case_refused expired expired.pem expired.key localhost \
    'peer certificate not trusted: certificate: certificate has expired'
case_refused system-store server.pem server.key localhost \
    'peer certificate not trusted: certificate: unable to get local issuer' \
    system
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
