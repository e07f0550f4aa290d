#!/usr/bin/env python3
"""Predict benchmark (issue: registry and Predict end to end).

In one sitting, server pinned to CPU 0 and h2load to CPU 1, gRPC framing, 8 connections x 16 streams:
  1. nghttpd serving a static body the size of a Predict response with a grpc-status trailer (the ceiling);
  2. `sluice serve --threads 1` Predict on the example registry's churn model (spark_churn_rf, one row, named features);
  3. the Python grpcio + onnxruntime reference server doing the same prediction (bench/reference_server.py);
  4. Sluice at half its measured peak rate, for p99 under load;
  5. Sluice BatchPredict with 1,024-row batches (rows/s).
Medians of --repeat runs. Prints a Markdown table; --json writes raw numbers.

  .venv/bin/python bench/predict.py [--requests 200000] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
MODELS = os.path.join(ROOT, "Tests", "fixtures", "models")


def start(cmd, port, env=None, settle=0.0):
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    h2run.wait_port(port, proc)
    time.sleep(settle)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def churn_rows():
    with open(os.path.join(MODELS, "spark_churn_rf", "inputs.json")) as f:
        inputs = json.load(f)["inputs"]
    return inputs


def median_runs(pid, url, body, repeat, requests, rate=None, clients=8, streams=16):
    runs = [h2run.run(pid, url, body, requests=requests, rate=rate, clients=clients, streams=streams)
            for _ in range(repeat)]
    keys = ["requests_per_s", "server_cpu_us_per_req", "p50_us", "p99_us"]
    out = {k: statistics.median([r[k] for r in runs if r[k] is not None]) for k in keys}
    out["failed"] = sum(r["failed"] or 0 for r in runs)
    out["rss_now_kib"] = runs[-1]["rss_now_kib"]
    out["rss_peak_kib"] = runs[-1]["rss_peak_kib"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-bench-")
    inputs = churn_rows()
    row = {i["name"]: i["data"][0][0] for i in inputs}
    request = pb.PredictRequest(model="churn", features={k: pb.FeatureValue(number=v) for k, v in row.items()})
    body = os.path.join(work, "predict.bin")
    with open(body, "wb") as f:
        f.write(protos.grpc_frame(request))
    # Static body for nghttpd: a framed response of the size Sluice sends.
    response = pb.PredictResponse(model="churn", version=1, label_int=0, scores=[0.75, 0.25], confidence=0.75,
                                  request_id="0123456789abcdef")
    docroot = os.path.join(work, "docroot", "sluice.v1.Inference")
    os.makedirs(docroot)
    with open(os.path.join(docroot, "Predict"), "wb") as f:
        f.write(protos.grpc_frame(response))
    batch = pb.BatchPredictRequest(model="churn", rows=1024, columns=[
        pb.Column(name=i["name"], values=[i["data"][r % 1000][0] for r in range(1024)]) for i in inputs])
    batch_body = os.path.join(work, "batch.bin")
    with open(batch_body, "wb") as f:
        f.write(protos.grpc_frame(batch))

    results = {}
    # 1. nghttpd ceiling
    port = h2run.free_port()
    proc = start(["nghttpd", "--no-tls", "-d", os.path.join(work, "docroot"), "--trailer", "grpc-status: 0", str(port)],
                 port)
    try:
        results["nghttpd"] = median_runs(proc.pid, f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict", body,
                                         a.repeat, a.requests)
    finally:
        stop(proc)
    # 2. Sluice
    port = h2run.free_port()
    registry = os.path.join(work, "registry")
    shutil.copytree(os.path.join(ROOT, "deploy", "registry"), registry)
    proc = start([SLUICE, "serve", "--plaintext", "--threads", "1", "--listen", f"127.0.0.1:{port}", "--models", registry,
                  "--insecure-no-auth"],
                 port, settle=1.0)
    try:
        url = f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict"
        idle_kib = h2run.rss_kib(proc.pid)[1]
        results["sluice"] = median_runs(proc.pid, url, body, a.repeat, a.requests)
        results["sluice"]["rss_idle_kib"] = idle_kib
        half = int(results["sluice"]["requests_per_s"] / 2)
        # Paced at half the peak with 8 connections x 4 streams: with 8 x 16 the client keeps 128 calls queued
        # whatever the rate, so the latency it reports is its own concurrency / rate, not the server's.
        results["sluice_half_rate"] = median_runs(proc.pid, url, body, a.repeat, min(a.requests, half * 5), rate=half,
                                                  clients=8, streams=4)
        results["sluice_half_rate"]["offered_rps"] = half
        batch_url = f"http://127.0.0.1:{port}/sluice.v1.Inference/BatchPredict"
        b = median_runs(proc.pid, batch_url, batch_body, a.repeat, 2000, clients=2, streams=2)
        b["rows_per_s"] = b["requests_per_s"] * 1024
        results["sluice_batch1024"] = b
    finally:
        stop(proc)
    # 3. Python reference
    port = h2run.free_port()
    proc = start([sys.executable, os.path.join(HERE, "reference_server.py"), "--model",
                  os.path.join(MODELS, "spark_churn_rf", "model.onnx"), "--port", str(port)], port, settle=1.0)
    try:
        results["python_reference"] = median_runs(proc.pid, f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict",
                                                  body, a.repeat, max(2000, a.requests // 20))
    finally:
        stop(proc)
    shutil.rmtree(work, ignore_errors=True)

    n, s, p = results["nghttpd"], results["sluice"], results["python_reference"]
    print("| server | req/s | server CPU µs/req | p50 µs | p99 µs | RSS MB | failed |")
    print("|---|---|---|---|---|---|---|")
    for name, r in [("nghttpd static (ceiling)", n), ("sluice Predict", s), ("sluice Predict at half peak rate",
                    results["sluice_half_rate"]), ("Python grpcio + onnxruntime", p)]:
        print(f"| {name} | {r['requests_per_s']:.0f} | {r['server_cpu_us_per_req']:.2f} | {r['p50_us']} | {r['p99_us']} "
              f"| {r['rss_now_kib'] / 1024:.1f} | {r['failed']} |")
    print()
    print(f"- Sluice CPU per Predict / nghttpd CPU per static request: {s['server_cpu_us_per_req'] / n['server_cpu_us_per_req']:.2f}x (target <= 3x)")
    print(f"- Sluice req/s / Python reference req/s: {s['requests_per_s'] / p['requests_per_s']:.1f}x (target >= 25x)")
    print(f"- Sluice p99 at half peak ({results['sluice_half_rate']['offered_rps']} req/s offered, 8 connections x 4 streams): {results['sluice_half_rate']['p99_us']} µs (target < 1000)")
    print(f"- Sluice RSS idle with the example registry: {s['rss_idle_kib'] / 1024:.1f} MB, after load {s['rss_now_kib'] / 1024:.1f} MB (target < 30)")
    print(f"- BatchPredict 1,024-row batches: {results['sluice_batch1024']['rows_per_s']:.0f} rows/s, "
          f"server CPU {results['sluice_batch1024']['server_cpu_us_per_req']:.0f} µs per batch")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
