#!/usr/bin/env bash
# bench/idle_wine.sh [CONNS]: server memory per idle connection under Wine.
# Runs tools/ior-echo.exe (build-bench-mingw, as bench/run --wine builds
# it) in that tree's private prefix, opens CONNS (10000) connections with
# bench/client idle (build-bench), each echoing one message, and prints the
# server's RSS growth per connection 2 s after all are open (so read
# buffers of the first message are counted as they stand once idle). The
# RSS is the Wine process's: Wine's own per-socket memory is included.
# bench/run --wine does not measure idle memory; this does.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-10000}
export WINEPREFIX="$root/build-bench-mingw/wineprefix" WINEDEBUG=-all
out=$(mktemp) idle=$(mktemp)
trap 'wineserver -k 2>/dev/null || true; rm -f "$out" "$idle"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$WINEPREFIX"
wineserver -p
wine "$root/build-bench-mingw/tools/ior-echo.exe" >"$out" 2>/dev/null &
for _ in $(seq 300); do grep -q listening "$out" && break; sleep 0.2; done
port=$(sed -n 's/.*://p' "$out" | head -1 | tr -d '\r')
pid=$(pgrep -x ior-echo.exe | tail -1)
base=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
"$root/build-bench/bench/client" idle -c "$n" -p "$port" -t 6 >"$idle" 2>&1 &
cpid=$!
for _ in $(seq 900); do [ -s "$idle" ] && break; sleep 0.2; done
sleep 2
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "idle under Wine: $n connections, server RSS ${base} -> ${rss} KiB," \
    "$(((rss - base) * 1024 / n)) bytes each; client: $(cat "$idle")"
wait "$cpid"
