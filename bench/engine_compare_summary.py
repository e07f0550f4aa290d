#!/usr/bin/env python3
"""Markdown summary of bench/results/engine-compare-*.jsonl (bench/engine-compare.sh): medians over rounds.

Table 1: CPU µs per row per engine and batch size, load ms, MB per loaded model. Table 2: how many times faster
Sluice is than each other engine (theirs / ours; > 1 means Sluice is faster) at batch 1 and 1,024.
"""
import json
import statistics
import sys
from collections import defaultdict

ENGINES = ["sluice", "onnxruntime", "lleaves", "treelite"]
BATCHES = [1, 64, 1024, 65536]

rows = []
for line in open(sys.argv[1]):
    try:  # the compiled-tree tools print their own log lines on stdout; keep the JSON objects only
        r = json.loads(line)
    except ValueError:
        continue
    if isinstance(r, dict) and "engine" in r and "model" in r:
        rows.append(r)
vals = defaultdict(lambda: defaultdict(list))
compile_s = {}
models = []
for r in rows:
    if "error" in r:
        continue
    if r.get("warmup"):
        compile_s[(r["engine"], r["model"])] = r.get("compile_s")
        continue
    if r["model"] not in models and r["engine"] == "sluice":
        models.append(r["model"])
    for k, v in r.items():
        if isinstance(v, (int, float)):
            vals[(r["engine"], r["model"])][k].append(v)


def med(e, m, k):
    v = vals[(e, m)].get(k)
    return statistics.median(v) if v else None


def f(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}"


def batch_key(e, b):
    return "cpu_us_per_row_batch1" if b == 1 else f"cpu_us_per_row_batch{b}"


print("CPU µs per row (thread CPU time, one thread, median of rounds; batch 1 net of the empty-call cost):\n")
print("| model | engine | batch 1 | 64 | 1,024 | 65,536 | load ms | MB/model |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for m in models:
    for e in ENGINES:
        if not vals[(e, m)]:
            continue
        cells = [f(med(e, m, batch_key(e, b))) for b in BATCHES]
        load = med(e, m, "load_ms")
        extra = compile_s.get((e, m))
        load_cell = f(load, 1) + (f" (+{extra:.0f} s compile)" if extra and e in ("lleaves", "treelite") else "")
        print(f"| {m} | {e} | " + " | ".join(cells) + f" | {load_cell} | {f(med(e, m, 'rss_per_model_mb'), 2)} |")
print("\nSpeed-up of Sluice (other engine's CPU time / Sluice's; > 1 means Sluice is faster):\n")
print("| model | vs ORT @1 | vs ORT @1,024 | vs lleaves @1 | vs lleaves @1,024 | vs treelite @1 | vs treelite @1,024 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for m in models:
    cells = []
    for e in ENGINES[1:]:
        for b in (1, 1024):
            s, o = med("sluice", m, batch_key("sluice", b)), med(e, m, batch_key(e, b))
            cells.append(f"{o / s:.2f}×" if s and o else "—")
    print(f"| {m} | " + " | ".join(cells) + " |")
