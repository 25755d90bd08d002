#!/usr/bin/env python3
"""bench/report.py: the summary of a bench/run result (medians, min-max,
ratios). bench/run imports it; `bench/report.py results.json` prints a
saved result again."""

import json
import statistics
import sys

UNITS = {"gib_per_s": "GiB/s", "rt_per_s": "round trips/s",
         "conn_per_s": "connections/s"}
ORDER = ["ior", "libuv", "twisted", "limit", "openssl"]


def stats(vals):
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals)}


def summarize(results, wls):
    summ, ratios = {}, {}
    for wl in wls:
        name, metric = wl[0], wl[2]
        per = {}
        for r in results["runs"]:
            if r["workload"] == name and "error" not in r:
                per.setdefault(r["server"], []).append(r)
        summ[name] = {"metric": metric}
        for srv, rs in per.items():
            st = stats([r[metric] for r in rs])
            cpu = [r["cpu_per_op"] for r in rs if r.get("cpu_per_op")]
            if cpu:
                st["cpu_per_op_median"] = statistics.median(cpu)
                st["cpu_unit"] = rs[0]["cpu_unit"]
            summ[name][srv] = st
        if "ior" in per:
            for other in ("libuv", "twisted", "limit", "openssl"):
                if other not in per:
                    continue
                ior, oth = summ[name]["ior"], summ[name][other]
                ratios["%s ior/%s" % (name, other)] = (
                    ior["median"] / oth["median"])
                # Server CPU per operation, the other's over ior's (> 1:
                # ior is cheaper). Steadier than rates on a busy machine.
                if "cpu_per_op_median" in ior and "cpu_per_op_median" in oth:
                    ratios["%s cpu/op %s/ior" % (name, other)] = (
                        oth["cpu_per_op_median"] / ior["cpu_per_op_median"])
    tim = {}
    for r in results["timers"]:
        if "error" not in r:
            tim.setdefault(r["impl"], []).append(r)
    for key in ("schedule_fire_ns", "schedule_cancel_ns"):
        med = {i: statistics.median([r[key] for r in rs])
               for i, rs in tim.items()}
        if "ior" in med and "libuv" in med:
            # Time per operation: libuv's over ior's, so > 1 means faster.
            ratios["timers %s ior/libuv" % key[:-3]] = (
                med["libuv"] / med["ior"])
    results["summary"], results["ratios"] = summ, ratios


def print_summary(results, wls):
    print("\n%-34s %-8s %10s %21s %14s" % (
        "workload", "server", "median", "min-max", "server CPU/op"))
    for wl in wls:
        s = results["summary"].get(wl[0], {})
        label = "%s (%s)" % (wl[0], UNITS[wl[2]])
        for srv in ORDER:
            if srv not in s:
                continue
            st = s[srv]
            cpu = ("%.3g %s" % (st["cpu_per_op_median"], st["cpu_unit"])
                   if "cpu_per_op_median" in st else "-")
            print("%-34s %-8s %10.4g %10.4g-%-10.4g %14s" % (
                label, srv, st["median"], st["min"], st["max"], cpu))
    for k, v in results["ratios"].items():
        print("ratio %-40s %.3f" % (k, v))
    idle = {}
    for r in results["idle"]:
        if "bytes_per_conn" in r:
            idle.setdefault(r["server"], []).append(r["bytes_per_conn"])
    for srv, v in idle.items():
        print("idle %-8s %8.0f bytes/connection (median of %d)" % (
            srv, statistics.median(v), len(v)))
    tim = {}
    for r in results["timers"]:
        if "error" not in r:
            tim.setdefault(r["impl"], []).append(r)
    for impl, rs in tim.items():
        print("timers %-6s schedule+fire %7.1f ns/op  schedule+cancel "
              "%7.1f ns/op" % (impl, statistics.median(
                  [r["schedule_fire_ns"] for r in rs]), statistics.median(
                  [r["schedule_cancel_ns"] for r in rs])))
    for r in results["memory"]:
        print("memory %-7s %-8s idle %7d KiB  peak %8d KiB  growth %8d KiB"
              % (r["impl"], r["mode"], r["idle_rss_kib"], r["peak_rss_kib"],
                 r["growth_kib"]))
    for r in results.get("tls_memory", []):
        print("tls memory %-8s peak RSS %7d KiB" % (r["server"],
                                                  r["peak_rss_kib"]))



def main():
    with open(sys.argv[1]) as f:
        results = json.load(f)
    seen, wls = set(), []
    for r in results["runs"]:
        if r["workload"] not in seen and "error" not in r:
            seen.add(r["workload"])
            metric = next(k for k in UNITS if k in r)
            wls.append((r["workload"], r["mode"], metric))
    summarize(results, wls)
    print("%s: %s" % (results["date"], results["command"]))
    print_summary(results, wls)


if __name__ == "__main__":
    main()
