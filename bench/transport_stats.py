"""Helper for bench/transport.sh: turns h2load output and /proc samples into JSON lines and a Markdown summary."""

import argparse
import json
import os
import re
import statistics

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = (len(values) - 1) * p
    f = int(k)
    c = min(f + 1, len(values) - 1)
    return values[f] + (values[c] - values[f]) * (k - f)


def record(args):
    text = open(args.h2load_out).read()
    done = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", text).group(2))
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    latencies = []
    with open(args.log) as log:
        for line in log:
            parts = line.split()
            if len(parts) >= 3 and parts[1].startswith("2"):
                latencies.append(int(parts[2]))
    row = {
        "name": args.name, "mode": args.mode, "run": args.run, "requests": done, "rps": rps,
        "cpu_us_per_req": (args.ticks * TICK_US / done) if done and args.ticks else None,
        "p50_us": percentile(latencies, 0.5), "p99_us": percentile(latencies, 0.99),
        "idle_rss_mb": args.idle_rss_kb / 1024, "peak_rss_mb": args.peak_rss_kb / 1024, "rate": args.rate,
    }
    print(json.dumps(row))


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def peak(args):
    rows = [r for r in load(args.results) if r["name"] == args.name and r["mode"] == args.mode and r["run"] != "paced"]
    print(int(statistics.median(r["rps"] for r in rows)))


def summary(args):
    rows = load(args.results)
    out = ["| mode | server | req/s | CPU µs/req | p50 µs (full load) | p99 µs (full load) | p50 / p99 µs at half "
           "Sluice peak | idle RSS MB | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for mode in ("h2c", "tls"):
        med = {}
        for name in ("sluice", "nghttpd"):
            runs = [r for r in rows if r["name"] == name and r["mode"] == mode and r["run"] != "paced"]
            paced = [r for r in rows if r["name"] == name and r["mode"] == mode and r["run"] == "paced"]
            if not runs:
                continue
            m = {k: statistics.median(r[k] for r in runs) for k in
                 ("rps", "cpu_us_per_req", "p50_us", "p99_us", "idle_rss_mb", "peak_rss_mb")}
            med[name] = m
            pace = f"{paced[0]['p50_us']:.0f} / {paced[0]['p99_us']:.0f} (at {paced[0]['rate']} req/s)" if paced else "-"
            out.append(f"| {mode} | {name} | {m['rps']:.0f} | {m['cpu_us_per_req']:.2f} | {m['p50_us']:.0f} | "
                       f"{m['p99_us']:.0f} | {pace} | {m['idle_rss_mb']:.1f} | {m['peak_rss_mb']:.1f} |")
        if "sluice" in med and "nghttpd" in med:
            ratios.append(f"{mode}: CPU/req Sluice ÷ nghttpd = "
                          f"{med['sluice']['cpu_us_per_req'] / med['nghttpd']['cpu_us_per_req']:.2f}×, "
                          f"req/s Sluice ÷ nghttpd = {med['sluice']['rps'] / med['nghttpd']['rps']:.2f}×")
    runs = max((r["run"] for r in rows if r["run"] != "paced"), default="?")
    print("\n".join(out))
    print()
    for line in ratios:
        print(f"- {line}")
    print(f"- medians of {runs} runs per cell")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    for flag in ("--name", "--mode", "--run", "--h2load-out", "--log"):
        r.add_argument(flag, required=True)
    for flag in ("--ticks", "--idle-rss-kb", "--peak-rss-kb"):
        r.add_argument(flag, type=int, required=True)
    r.add_argument("--rate", type=int, default=None)
    p = sub.add_parser("peak")
    p.add_argument("--results", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--mode", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--results", required=True)
    args = parser.parse_args()
    {"record": record, "peak": peak, "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
