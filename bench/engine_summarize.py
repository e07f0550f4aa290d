#!/usr/bin/env python3
"""Summarises bench/results/engine-*.jsonl (from bench/engine-run.sh) as Markdown: medians over rounds, ratios."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = defaultdict(lambda: defaultdict(list))
for r in rows:
    for k, v in r.items():
        if isinstance(v, (int, float)):
            by[(r["engine"], r["model"])][k].append(v)


def med(engine, model, key):
    v = by[(engine, model)].get(key)
    return statistics.median(v) if v else float("nan")


overhead = med("onnxruntime", "identity", "us_per_call")
overhead_cpu = med("onnxruntime", "identity", "cpu_us_per_call")
models = [m for (e, m) in by if e == "sluice"]
print(f"onnxruntime per-call overhead (Identity on [1,4]): {overhead:.2f} µs wall, {overhead_cpu:.2f} µs CPU "
      "(subtracted from its batch-1 figures)\n")
print("CPU time per row (thread CPU; the stable figure on a shared machine):\n")
print("| model | sluice CPU µs/row @1024 | ORT CPU µs/row @1024 | speed-up | sluice CPU µs/row @1 | ORT CPU µs/row @1 net | speed-up |")
print("|---|---:|---:|---:|---:|---:|---:|")
for m in models:
    s_b, o_b = med("sluice", m, "cpu_us_per_row_batch1024"), med("onnxruntime", m, "cpu_us_per_row_batch1024")
    s_1, o_1 = med("sluice", m, "cpu_us_per_row_batch1"), med("onnxruntime", m, "cpu_us_per_row_batch1_net")
    print(f"| {m} | {s_b:.3f} | {o_b:.3f} | {o_b/s_b:.1f}× | {s_1:.2f} | {o_1:.2f} | {o_1/s_1:.1f}× |")
print("\nWall clock (medians over rounds), load time and memory:\n")
print("| model | sluice rows/s @1024 | ORT rows/s @1024 | ratio | sluice µs/row @1 | ORT µs/row @1 net | ratio "
      "| sluice load ms | ORT load ms | sluice MB/model | ORT MB/model |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in models:
    s_rate, o_rate = med("sluice", m, "rows_per_s_batch1024"), med("onnxruntime", m, "rows_per_s_batch1024")
    s_lat = med("sluice", m, "us_per_row_batch1")
    o_net = med("onnxruntime", m, "us_per_row_batch1_net")
    print(f"| {m} | {s_rate/1e6:.2f}M | {o_rate/1e6:.2f}M | {s_rate/o_rate:.1f}× | {s_lat:.2f} | {o_net:.2f} "
          f"| {o_net/s_lat:.1f}× | {med('sluice', m, 'load_ms'):.1f} | {med('onnxruntime', m, 'load_ms'):.1f} "
          f"| {med('sluice', m, 'rss_per_model_mb'):.2f} | {med('onnxruntime', m, 'rss_per_model_mb'):.2f} |")

if any(e == "sluice-baseline" for (e, _) in by):
    print("\nBefore (BASELINE) vs after (this tree) vs onnxruntime, CPU µs per row (thread CPU; batch 1 of "
          "onnxruntime net of its per-call overhead):\n")
    print("| model | before @1024 | after @1024 | ORT @1024 | before ×ORT | after ×ORT | before @1 | after @1 "
          "| ORT @1 net | after ×ORT @1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in models:
        b_b, s_b = med("sluice-baseline", m, "cpu_us_per_row_batch1024"), med("sluice", m, "cpu_us_per_row_batch1024")
        o_b = med("onnxruntime", m, "cpu_us_per_row_batch1024")
        b_1, s_1 = med("sluice-baseline", m, "cpu_us_per_row_batch1"), med("sluice", m, "cpu_us_per_row_batch1")
        o_1 = med("onnxruntime", m, "cpu_us_per_row_batch1_net")
        print(f"| {m} | {b_b:.3f} | {s_b:.3f} | {o_b:.3f} | {o_b/b_b:.2f}× | {o_b/s_b:.2f}× | {b_1:.2f} | {s_1:.2f} "
              f"| {o_1:.2f} | {o_1/s_1:.1f}× |")
