#!/usr/bin/env bash
# iorcat against Debian's netcat-openbsd (nc), over loopback:
#   tests/interop/run.sh NATIVE_BUILD_DIR [WINDOWS_BUILD_DIR]
# runs each case with the native iorcat (NATIVE_BUILD_DIR/tools/iorcat) and,
# when a Windows build directory is given, again with iorcat.exe under Wine
# (through ci/wine-run). 16 MiB of random data each way, checked by SHA-256:
#   nc-server-both   nc -l -N  <->  iorcat       (both directions at once)
#   nc-server-up     nc -l     <--  iorcat -N    (upload, half-close)
#   iorcat-server    iorcat -l -N  <->  nc -N    (both ways, half-close both)
#   iorcat-server-up iorcat -l     <--  nc -N    (iorcat's stdin empty)
# A client whose peer ends first (issue 11): nc -l -N answers 6 bytes and
# half-closes at once; iorcat's 1 MiB stdin comes through a FIFO, 64 KiB
# before the peer's EOF and the rest only after iorcat has reported that
# EOF (-v), so the EOF always comes first. As nc, iorcat must still send
# all of it:
#   nc-server-early-eof  nc -l -N  <->  iorcat -v   (server gets 1 MiB)
# UDP (iorcat -u), IOR_INTEROP_UDP_KIB (default 32) KiB each way, both
# sides ending on their -w idle timeout (UDP has no EOF):
#   udp-iorcat-server  iorcat -u -l -w  <->  nc -u -w
#   udp-nc-server      nc -u -l -w      <->  iorcat -u -w
# Unix domain sockets (iorcat -U), natively (Wine 8 has no AF_UNIX; on
# Windows -U is a named pipe, below), 16 MiB each way:
#   unix-nc-server      nc -l -U -N  <->  iorcat -U
#   unix-iorcat-server  iorcat -l -U -N  <->  nc -U -N
# Named pipes (iorcat.exe -U) under Wine, both ends iorcat.exe (no nc on
# Windows), 16 MiB each way, half-close both ways:
#   pipe-iorcat-both    iorcat.exe -l -U -N  <->  iorcat.exe -U -N
# A program per connection (iorcat -e), 1 MiB echoed back by the child
# (natively cat; under Wine tests/net/child_helper.exe in echo mode):
#   exec-server        iorcat -l -e CAT  <->  nc -N   (client gets its bytes back)
#   exec-client        nc -l -N          <->  iorcat -e CAT
# nc -l quits as soon as its client half-closes, even with its own stdin
# unsent, so nc -l never gets a half-closing client while it still sends;
# iorcat -l does the same, so in iorcat-server nc's stdin (through a FIFO)
# ends only once nc has received all that iorcat sends.
# No case depends on which side finishes first: where an order matters, a
# FIFO holds the client's input back until the event it waits for (a
# polled file, bounded by the time limit, never a fixed sleep).
# Servers bind port 0 and report the real port (-v); every process runs
# under `timeout`. Prints one line per case and "N passed, M failed" last;
# exits non-zero if any case fails.
#
# Wine: IOR_WINEPREFIX if set (the caller owns that prefix and its
# wineserver), else a private prefix in WINDOWS_BUILD_DIR/wineprefix-interop
# whose wineserver this script starts (-p) and stops (-k).
# IOR_INTEROP_MIB (default 16), IOR_INTEROP_TIMEOUT (seconds, default 120).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 NATIVE_BUILD_DIR [WINDOWS_BUILD_DIR]" >&2
    exit 2
fi
native_dir=$(cd "$1" && pwd)
win_dir=""
if [ $# -eq 2 ] && [ -n "$2" ]; then
    win_dir=$(cd "$2" && pwd)
fi
mib="${IOR_INTEROP_MIB:-16}"
udp_kib="${IOR_INTEROP_UDP_KIB:-32}"
udp_wait="${IOR_INTEROP_UDP_WAIT:-2}"
limit="${IOR_INTEROP_TIMEOUT:-120}"

work=$(mktemp -d "${TMPDIR:-/tmp}/ior-interop.XXXXXX")
pids=()
own_wine=0
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "$own_wine" -eq 1 ]; then
        wineserver -k 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

forget_pid() {
    local keep=() p
    for p in "${pids[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    pids=("${keep[@]}")
}

passed=0
failed=0
results=()

# wait_port <stderr file> <pid> <regex with the port as the last field>:
# prints the port once the server has written its listening line.
wait_port() {
    local file=$1 pid=$2 re=$3 i line
    for ((i = 0; i < limit * 10; i++)); do
        line=$(grep -m 1 -E "$re" "$file" 2>/dev/null || true)
        if [ -n "$line" ]; then
            line=${line%$'\r'}
            echo "${line##*[: ]}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# wait_socket <path> <pid>: prints path once a socket is there (the
# server listens); 1 if the server died or the time limit passed.
wait_socket() {
    local i
    for ((i = 0; i < limit * 10; i++)); do
        if [ -S "$1" ]; then
            echo "$1"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# wait_exit <pid> <seconds>: 0 once pid has exited; else kills it, 1.
wait_exit() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill "$1" 2>/dev/null || true
    return 1
}

sum() { sha256sum "$1" | cut -d ' ' -f 1; }

# check <label> <got file> <want file>: appends a mismatch to $why.
check() {
    if [ "$(sum "$2")" != "$(sum "$3")" ]; then
        why+="${why:+; }$1: $(stat -c %s "$2") bytes, sha256 differs"
    fi
}

# What run_case compares: "swap" (each side gets the other's stdin), or
# for -e, "echo-client" (the client gets its own stdin back, the server's
# stdout stays empty) and "echo-server" (the same the other way round).
expect=swap

# The client's stdin through a FIFO (see feed): feed_first bytes of it at
# once, the rest when "$feed_until CASE_DIR SERVER_STDIN" succeeds. Empty:
# the client reads its stdin file directly.
feed_first=0
feed_until=""

# Conditions for feed_until.
peer_eof_seen() { grep -q 'EOF from the peer' "$1/cli.err" 2>/dev/null; }
client_has_all() { [ "$(stat -c %s "$1/cli.out")" -ge "$(stat -c %s "$2")" ]; }

# feed <file> <case dir> <server stdin> <client pid>: writes the first
# feed_first bytes of file, waits until feed_until holds (or the client
# has exited, or the time limit has passed), then writes the rest. The
# wait only orders the input after an event; it decides no outcome.
feed() {
    local file=$1 d=$2 sin=$3 cpid=$4 i
    head -c "$feed_first" "$file"
    for ((i = 0; i < limit * 10; i++)); do
        "$feed_until" "$d" "$sin" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    tail -c "+$((feed_first + 1))" "$file"
}

# run_client <case dir> <client stdin> <server stdin> <command...>: runs
# the client to its end and returns its exit status.
run_client() {
    local d=$1 cin=$2 sin=$3 cpid fpid rc=0
    shift 3
    if [ -z "$feed_until" ]; then
        timeout "$limit" "$@" <"$cin" >"$d/cli.out" 2>"$d/cli.err"
        return
    fi
    mkfifo "$d/cli.in"
    timeout "$limit" "$@" <"$d/cli.in" >"$d/cli.out" 2>"$d/cli.err" &
    cpid=$!
    feed "$cin" "$d" "$sin" "$cpid" >"$d/cli.in" &
    fpid=$!
    pids+=("$cpid" "$fpid")
    wait "$cpid" || rc=$?
    # A feeder still writing gets EPIPE once the client is gone.
    wait "$fpid" 2>/dev/null || true
    forget_pid "$cpid"
    forget_pid "$fpid"
    return "$rc"
}

# run_case <name> <platform> <server kind: nc|iorcat> <server stdin>
#          <client stdin> <server args...> -- <client args...>
# The server's stdout goes to srv.out, the client's to cli.out. The
# client's last argument is the port, appended here.
run_case() {
    local name=$1 plat=$2 kind=$3 sin=$4 cin=$5
    shift 5
    local sargs=() cargs=()
    while [ "$1" != -- ]; do
        sargs+=("$1")
        shift
    done
    shift
    cargs=("$@")
    local d="$work/$plat-$name" re port spid src=0 crc=0 t0
    mkdir -p "$d"
    why=""
    t0=$(date +%s.%N)
    if [[ $kind == unix:* ]]; then
        re=""
    elif [ "$kind" = nc ]; then
        re='^Listening on [^ ]+ [0-9]+'
    elif [ "$kind" = ncu ]; then
        re='^Bound on [^ ]+ [0-9]+'
    else
        re='^iorcat: listening on ([^ ]*:[0-9]+|ior-interop-[0-9]+)'
    fi
    timeout "$limit" "${sargs[@]}" <"$sin" >"$d/srv.out" 2>"$d/srv.err" &
    spid=$!
    pids+=("$spid")
    if port=$(if [ -z "$re" ]; then wait_socket "${kind#unix:}" "$spid"
              else wait_port "$d/srv.err" "$spid" "$re"; fi); then
        run_client "$d" "$cin" "$sin" "${cargs[@]}" "$port" || crc=$?
        # A server whose client is gone ends within seconds, or never.
        wait_exit "$spid" "$([ "$crc" -eq 0 ] && echo 15 || echo 2)" ||
            why="server still running after its client ended"
        wait "$spid" || src=$?
    else
        why="server did not report a port"
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        touch "$d/cli.out" "$d/cli.err"
    fi
    forget_pid "$spid"
    [ "$src" -eq 0 ] || why+="${why:+; }server exit status $src"
    [ "$crc" -eq 0 ] || why+="${why:+; }client exit status $crc"
    # What each side sent must arrive whole at the other (or, with -e,
    # come back whole from the child).
    case $expect in
    echo-client)
        check "client got back" "$d/cli.out" "$cin"
        check "server stdout" "$d/srv.out" /dev/null
        ;;
    echo-server)
        check "server got back" "$d/srv.out" "$sin"
        check "client stdout" "$d/cli.out" /dev/null
        ;;
    *)
        check "server received" "$d/srv.out" "$cin"
        check "client received" "$d/cli.out" "$sin"
        ;;
    esac
    local secs
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        results+=("PASS  $plat  $name  ($(stat -c %s "$d/srv.out") B up, $(stat -c %s "$d/cli.out") B down, $secs s)")
    else
        failed=$((failed + 1))
        results+=("FAIL  $plat  $name  ($why)")
        echo "--- $plat $name: server stderr"
        cat "$d/srv.err"
        echo "--- $plat $name: client stderr"
        cat "$d/cli.err"
    fi
    echo "${results[-1]}"
}

# run_all <platform> <iorcat command...>
run_all() {
    local plat=$1
    shift
    local cat=("$@") a="$work/a.bin" b="$work/b.bin" none=/dev/null
    run_case nc-server-both "$plat" nc "$a" "$b" \
        nc -l -N -v -n 127.0.0.1 0 -- "${cat[@]}" 127.0.0.1
    run_case nc-server-up "$plat" nc "$none" "$b" \
        nc -l -v -n 127.0.0.1 0 -- "${cat[@]}" -N 127.0.0.1
    feed_first=$((mib * 1024 * 1024)) feed_until=client_has_all
    run_case iorcat-server "$plat" iorcat "$a" "$b" \
        "${cat[@]}" -l -N -v -b 127.0.0.1 -p 0 -- nc -N 127.0.0.1
    feed_first=0 feed_until=""
    run_case iorcat-server-up "$plat" iorcat "$none" "$b" \
        "${cat[@]}" -l -v -b 127.0.0.1 -p 0 -- nc -N 127.0.0.1
    feed_first=$((64 * 1024)) feed_until=peer_eof_seen
    run_case nc-server-early-eof "$plat" nc "$work/six.bin" "$work/e.bin" \
        nc -l -N -v -n 127.0.0.1 0 -- "${cat[@]}" -v 127.0.0.1
    feed_first=0 feed_until=""
    run_udp "$plat" "${cat[@]}"
}

# run_unix <iorcat command...>: the -U cases (native only).
run_unix() {
    local cat=("$@") a="$work/a.bin" b="$work/b.bin"
    local s1="$work/nc.sock" s2="$work/iorcat.sock"
    run_case unix-nc-server native "unix:$s1" "$a" "$b" \
        nc -l -U -N "$s1" -- "${cat[@]}" -U
    feed_first=$((mib * 1024 * 1024)) feed_until=client_has_all
    run_case unix-iorcat-server native "unix:$s2" "$a" "$b" \
        "${cat[@]}" -l -U -N "$s2" -- nc -U -N
    feed_first=0 feed_until=""
}

# run_pipe <iorcat.exe command...>: a named pipe between two iorcat.exe.
run_pipe() {
    local cat=("$@") a="$work/a.bin" b="$work/b.bin"
    feed_first=$((mib * 1024 * 1024)) feed_until=client_has_all
    run_case pipe-iorcat-both wine iorcat "$a" "$b" \
        "${cat[@]}" -l -U -N -v "ior-interop-$$" -- "${cat[@]}" -U -N
    feed_first=0 feed_until=""
}

# run_udp <platform> <iorcat command...>
run_udp() {
    local plat=$1
    shift
    local cat=("$@") ua="$work/ua.bin" ub="$work/ub.bin" w=$udp_wait
    run_case udp-iorcat-server "$plat" iorcat "$ua" "$ub" \
        "${cat[@]}" -u -l -v -w "$w" -b 127.0.0.1 -p 0 -- \
        nc -u -w "$w" 127.0.0.1
    run_case udp-nc-server "$plat" ncu "$ua" "$ub" \
        nc -u -l -v -n -w "$w" 127.0.0.1 0 -- \
        "${cat[@]}" -u -w "$w" 127.0.0.1
}

# run_exec <platform> <echo program, one word per argument>
#          -- <iorcat command...>
# The program is passed to -e as one string (iorcat splits it on spaces).
run_exec() {
    local plat=$1 prog=()
    shift
    while [ "$1" != -- ]; do
        prog+=("$1")
        shift
    done
    shift
    local cat=("$@") e="$work/e.bin" none=/dev/null
    expect=echo-client
    run_case exec-server "$plat" iorcat "$none" "$e" \
        "${cat[@]}" -l -v -e "${prog[*]}" -b 127.0.0.1 -p 0 -- \
        nc -N 127.0.0.1
    expect=echo-server
    run_case exec-client "$plat" nc "$e" "$none" \
        nc -l -N -v -n 127.0.0.1 0 -- \
        "${cat[@]}" -v -e "${prog[*]}" 127.0.0.1
    expect=swap
}

command -v nc >/dev/null || { echo "nc (netcat-openbsd) not found" >&2; exit 1; }
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/a.bin"
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/b.bin"
head -c "$((udp_kib * 1024))" /dev/urandom >"$work/ua.bin"
head -c "$((udp_kib * 1024))" /dev/urandom >"$work/ub.bin"
head -c "$((1024 * 1024))" /dev/urandom >"$work/e.bin"
head -c 6 /dev/urandom >"$work/six.bin"
echo "interop with $(dpkg-query -W -f='${Package} ${Version}' netcat-openbsd \
    2>/dev/null || echo nc), $mib MiB each way"

if [ -x "$native_dir/tools/iorcat" ]; then
    run_all native "$native_dir/tools/iorcat"
    run_unix "$native_dir/tools/iorcat"
    run_exec native "$(command -v cat)" -- "$native_dir/tools/iorcat"
else
    failed=$((failed + 1))
    results+=("FAIL  native  (no $native_dir/tools/iorcat)")
    echo "${results[-1]}"
fi

if [ -z "$win_dir" ]; then
    echo "SKIP  wine  (no Windows build directory given)"
elif [ ! -f "$win_dir/tools/iorcat.exe" ]; then
    failed=$((failed + 1))
    results+=("FAIL  wine  (no $win_dir/tools/iorcat.exe)")
    echo "${results[-1]}"
else
    export WINEDEBUG="${WINEDEBUG:--all}"
    if [ -z "${IOR_WINEPREFIX:-}" ]; then
        export IOR_WINEPREFIX="$win_dir/wineprefix-interop"
        export WINEPREFIX="$IOR_WINEPREFIX"
        mkdir -p "$WINEPREFIX"
        # Exits 2 if a persistent server already runs for this prefix (a
        # previous run left it); set -e must not end the script silently.
        wineserver -p || true
        own_wine=1
        "$root/ci/wine-run" wineboot --init >/dev/null 2>&1 || true
    fi
    run_all wine "$root/ci/wine-run" "$win_dir/tools/iorcat.exe"
    run_pipe "$root/ci/wine-run" "$win_dir/tools/iorcat.exe"
    helper="$win_dir/tests/net/child_helper.exe"
    if [ ! -f "$helper" ]; then
        failed=$((failed + 1))
        results+=("FAIL  wine  exec  (no $helper)")
        echo "${results[-1]}"
    else
        # A Windows path: the child is started by CreateProcessW.
        run_exec wine "$(winepath -w "$helper" 2>/dev/null)" echo -- \
            "$root/ci/wine-run" "$win_dir/tools/iorcat.exe"
    fi
fi

echo
echo "interop summary:"
printf '  %s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
