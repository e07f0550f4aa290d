#!/usr/bin/env python3
"""onnxruntime reference for the engine benchmark: one thread, sequential, same models and rows.

Usage: engine_ort.py [--seconds S] [--reps N] MODEL_DIR...
Prints one JSON object per model (same keys as sluice-bench-engine) plus the per-call overhead of a trivial
Identity model, which is subtracted from the batch-1 latency ("us_per_row_batch1_net").
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper


def session(path_or_bytes):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def feeds_from(inputs_json):
    feeds = {}
    for i in inputs_json["inputs"]:
        dt = {"float32": np.float32, "int64": np.int64, "string": object}[i["dtype"]]
        data = [[np.nan if v is None else v for v in row] if isinstance(row, list) else row for row in i["data"]]
        feeds[i["name"]] = np.array(data, dtype=dt).reshape(i["shape"])
    return feeds


def per_call(fn, seconds, reps, per):
    """Median wall and thread-CPU µs per call (onnxruntime with one intra-op thread runs on the caller)."""
    wall, cpu = [], []
    for _ in range(reps):
        n = 0
        t0, c0 = time.perf_counter(), time.thread_time()
        while time.perf_counter() - t0 < seconds / reps:
            for _ in range(100):
                fn(n)
                n += 1
        wall.append((time.perf_counter() - t0) / n * 1e6 / per)
        cpu.append((time.thread_time() - c0) / n * 1e6 / per)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()

    # Per-call overhead: Identity on a [1, 4] float tensor.
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    ident = session(m.SerializeToString())
    x1 = np.zeros((1, 4), np.float32)
    overhead, overhead_cpu = per_call(lambda i: ident.run(None, {"x": x1}), a.seconds, a.reps, 1)
    print(json.dumps({"engine": "onnxruntime", "model": "identity", "us_per_call": overhead,
                      "cpu_us_per_call": overhead_cpu, "version": ort.__version__}))

    for d in a.dirs:
        name = os.path.basename(d.rstrip("/"))
        path = os.path.join(d, "model.onnx")
        loads = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            sess = session(path)
            loads.append(time.perf_counter() - t0)
        before = rss()
        keep = [session(path) for _ in range(10)]
        per_model = (rss() - before) / 10
        del keep
        with open(os.path.join(d, "inputs.json")) as f:
            feeds = feeds_from(json.load(f))
        rows = next(iter(feeds.values())).shape[0]
        idx = np.arange(1024) % rows
        big = {k: v[idx] for k, v in feeds.items()}
        singles = [{k: v[r:r + 1] for k, v in feeds.items()} for r in range(rows)]
        for _ in range(3):
            sess.run(None, big)
        rates, cpus = [], []
        for _ in range(a.reps):
            n = 0
            t0, c0 = time.perf_counter(), time.thread_time()
            while time.perf_counter() - t0 < a.seconds / a.reps:
                sess.run(None, big)
                n += 1024
            rates.append(n / (time.perf_counter() - t0))
            cpus.append((time.thread_time() - c0) / n * 1e6)
        single, single_cpu = per_call(lambda i: sess.run(None, singles[i % rows]), a.seconds, a.reps, 1)
        print(json.dumps({"engine": "onnxruntime", "model": name, "load_ms": statistics.median(loads) * 1000,
                          "rss_per_model_mb": per_model / 1e6, "rows_per_s_batch1024": statistics.median(rates),
                          "cpu_us_per_row_batch1024": statistics.median(cpus),
                          "us_per_row_batch1": single, "us_per_row_batch1_net": single - overhead,
                          "cpu_us_per_row_batch1": single_cpu, "cpu_us_per_row_batch1_net": single_cpu - overhead_cpu}))


if __name__ == "__main__":
    main()
