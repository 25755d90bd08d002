#!/usr/bin/env python3
"""bench/plot.py RESULTS.json OUT.png: fanin and pingpong per server.

Reads what bench/run wrote and draws, with gnuplot (Debian: gnuplot-nox),
one group of bars per workload (fanin, pingpong with server and client on
separate CPUs, pingpong on one CPU), one bar per server, median round
trips per second with the min-max range as an error bar.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOADS = [("fanin", "fanin (100 conns)"),
             ("pingpong", "pingpong (2 CPUs)"),
             ("pingpong_same_cpu", "pingpong (1 CPU)")]
SERVERS = ["ior", "libuv", "twisted", "limit"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench/plot.py RESULTS.json OUT.png")
    res = json.loads(Path(sys.argv[1]).read_text())
    summary = res["summary"]
    rows = []
    for key, label in WORKLOADS:
        cols = [label]
        for srv in SERVERS:
            s = summary.get(key, {}).get(srv)
            if s is None:
                cols += ["0", "0", "0"]
            else:
                cols += [str(s["median"] / 1000.0), str(s["min"] / 1000.0),
                         str(s["max"] / 1000.0)]
        rows.append("\t".join('"%s"' % c if i == 0 else c
                              for i, c in enumerate(cols)))
    with tempfile.TemporaryDirectory() as tmp:
        dat = Path(tmp) / "rt.dat"
        dat.write_text("\n".join(rows) + "\n")
        plots = []
        for i, srv in enumerate(SERVERS):
            c = 2 + 3 * i
            plots.append("'%s' using %d:%d:%d:xtic(1) title '%s'"
                         % (dat, c, c + 1, c + 2, srv))
        pl = res.get("placement", {})
        where = ("server CPU %s, client CPU %s" % (pl.get("server_cpu"),
                                                  pl.get("client_cpu"))
                 if isinstance(pl, dict) else str(pl))
        title = "%s, %s, %s" % (res.get("date", "")[:10], res.get("cpu", ""),
                                where)
        script = "\n".join([
            "set terminal pngcairo size 900,500 noenhanced"
            if has_cairo() else "set terminal png size 900,500",
            "set output '%s'" % sys.argv[2],
            "set title \"echo servers, thousand round trips/s: %s\""
            % title.replace('"', "'"),
            "set style data histogram",
            "set style histogram errorbars gap 2 lw 1",
            "set style fill solid 0.8 border -1",
            "set ylabel 'k round trips/s (median, min-max)'",
            "set yrange [0:*]",
            "set key top right",
            "set grid ytics",
            "plot " + ", ".join(plots),
        ])
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"],
                         capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)


if __name__ == "__main__":
    main()
