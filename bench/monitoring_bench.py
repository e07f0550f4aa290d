#!/usr/bin/env python3
"""Drift monitoring on vs off (issue 13's benchmark), in one sitting, alternating short rounds.

Two `sluice serve --threads 1` processes (both pinned to CPU 0, h2load on CPU 1) serve the same registry: the
repository's `skl_ct_pipeline_churn` fixture (4 numeric features + the string feature `plan`), profiled from
5,000 churn-like rows. One runs with monitoring on (defaults: 10,000-request windows, BatchPredict stride 64),
the other with `--no-monitoring`. Each round measures, alternating which server goes first:
  1. Predict, one row per call (h2load, 8 connections x 16 streams);
  2. BatchPredict with 1,024 rows per call;
then BatchPredict with 100,000 rows per call through grpcio (the sampling target: at most 2 % added).
Medians over --rounds of server CPU per call (from /proc) and requests/s. Memory: the counter storage of a
monitored version (from the layout: 10 segments x 4 stripes x 4-byte counters per bin) and the RSS of both
servers after the runs.

  .venv/bin/python bench/monitoring_bench.py [--requests 200000] [--batch-requests 5000] [--big-requests 30] [--rounds 5]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
MODEL = os.path.join(ROOT, "Tests", "fixtures", "models", "skl_ct_pipeline_churn", "model.onnx")
NUMERIC = ["age", "income", "tenure_months", "credit_score"]


def rows(seed, n):
    rng = np.random.default_rng(seed)
    return {
        "age": rng.integers(18, 81, n).astype(np.float32),
        "income": np.clip(np.round(np.exp(rng.normal(10.95, 0.45, n))), 10000, 270000).astype(np.float32),
        "tenure_months": rng.integers(0, 73, n).astype(np.float32),
        "credit_score": np.clip(np.round(rng.normal(660, 70, n)), 410, 850).astype(np.float32),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.28, 0.22]),
    }


def write_body(path, message):
    with open(path, "wb") as f:
        f.write(protos.grpc_frame(message))
    return path


def batch_request(columns):
    request = pb.BatchPredictRequest(model="churn")
    for name in NUMERIC:
        request.columns.add(name=name, values=[float(v) for v in columns[name]])
    request.columns.add(name="plan", strings=[str(v) for v in columns["plan"]])
    return request


def start(registry, port, *extra):
    serve = [SLUICE, "serve", "--plaintext", "--threads", "1", "--listen", f"127.0.0.1:{port}", "--models", registry,
             "--insecure-no-auth", "--max-message-bytes", str(64 << 20), *extra]
    proc = subprocess.Popen(["taskset", "-c", "0"] + serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    h2run.wait_port(port, proc)
    return proc


def measure(proc, port, method, body, requests, clients=8, streams=16):
    r = h2run.run(proc.pid, f"http://127.0.0.1:{port}/sluice.v1.Inference/{method}", body, requests=requests,
                  clients=clients, streams=streams)
    if r["failed"]:
        raise RuntimeError(f"{r['failed']} failed requests: {r.get('h2load_tail')}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--batch-requests", type=int, default=5000)
    ap.add_argument("--big-requests", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    import grpc

    work = tempfile.mkdtemp(prefix="sluice-monitoring-bench-")
    registry = os.path.join(work, "registry")
    train = rows(1001, 5000)
    with open(os.path.join(work, "train.csv"), "w") as f:
        f.write(",".join(NUMERIC + ["plan"]) + "\n")
        for i in range(5000):
            f.write(",".join([repr(float(train[c][i])) for c in NUMERIC] + [str(train["plan"][i])]) + "\n")
    subprocess.run([SLUICE, "models", "register", "--registry", registry, "--name", "churn", "--file", MODEL,
                    "--stage", "Production", "--profile-data", os.path.join(work, "train.csv")],
                   check=True, capture_output=True)
    live = rows(2002, 100_000)
    one = {k: v[:1] for k, v in live.items()}
    predict = pb.PredictRequest(model="churn", features={
        **{c: pb.FeatureValue(number=float(one[c][0])) for c in NUMERIC}, "plan": pb.FeatureValue(text=str(one["plan"][0]))})
    predict_body = write_body(os.path.join(work, "predict.bin"), predict)
    batch_body = write_body(os.path.join(work, "batch1024.bin"), batch_request({k: v[:1024] for k, v in live.items()}))

    ports = {"on": h2run.free_port(), "off": h2run.free_port()}
    procs = {"on": start(registry, ports["on"]), "off": start(registry, ports["off"], "--no-monitoring")}
    results = {name: {"predict": [], "batch": [], "big": []} for name in procs}
    try:
        time.sleep(1.0)
        for name, port in ports.items():
            stub = pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
            stub.Predict(predict, timeout=30)  # checks the body is valid
            monitoring = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version="1")).versions[0]
            assert monitoring.HasField("monitoring") == (name == "on")
            assert (not monitoring.HasField("monitoring")) or monitoring.monitoring.profiled
            measure(procs[name], port, "Predict", predict_body, a.requests // 4)  # warm-up
            measure(procs[name], port, "BatchPredict", batch_body, a.batch_requests // 4)
        for round_index in range(a.rounds):
            order = ["on", "off"] if round_index % 2 == 0 else ["off", "on"]
            for name in order:
                results[name]["predict"].append(measure(procs[name], ports[name], "Predict", predict_body, a.requests))
            for name in order:
                results[name]["batch"].append(
                    measure(procs[name], ports[name], "BatchPredict", batch_body, a.batch_requests))
        # 100,000-row batches through grpcio (h2load is slow to send 4 MB bodies); server CPU from /proc.
        big = batch_request(live)
        stubs = {name: pb_grpc.InferenceStub(grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20),
                                          ("grpc.max_receive_message_length", 64 << 20)]))
            for name, port in ports.items()}
        for name in stubs:
            stubs[name].BatchPredict(big, timeout=60)
        for round_index in range(a.rounds):
            for name in (["on", "off"] if round_index % 2 == 0 else ["off", "on"]):
                before, started = h2run.cpu_seconds(procs[name].pid), time.monotonic()
                for _ in range(a.big_requests):
                    stubs[name].BatchPredict(big, timeout=60)
                elapsed = time.monotonic() - started
                cpu = h2run.cpu_seconds(procs[name].pid) - before
                results[name]["big"].append({"requests_per_s": a.big_requests / elapsed,
                                             "server_cpu_us_per_req": cpu * 1e6 / a.big_requests,
                                             "p50_us": None, "p99_us": None})
        stub = pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{ports['on']}"))
        time.sleep(11)  # one statistics interval
        report = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version="1")).versions[0].monitoring
        rss = {name: h2run.rss_kib(proc.pid)[1] for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)

    def med(name, kind, key):
        values = [r[key] for r in results[name][kind] if r[key] is not None]
        return statistics.median(values) if values else "-"

    print("| call | monitoring | calls/s (median) | server CPU µs/call (median) | p50 µs | p99 µs |")
    print("|---|---|---|---|---|---|")
    labels = {"predict": "Predict, 1 row", "batch": "BatchPredict, 1,024 rows", "big": "BatchPredict, 100,000 rows"}
    for kind in ("predict", "batch", "big"):
        for name in ("off", "on"):
            print(f"| {labels[kind]} | {name} | {med(name, kind, 'requests_per_s'):.1f} "
                  f"| {med(name, kind, 'server_cpu_us_per_req'):.2f} | {med(name, kind, 'p50_us')} "
                  f"| {med(name, kind, 'p99_us')} |")
    print()
    for kind, target in (("predict", "5 %"), ("batch", "5 %"), ("big", "2 %")):
        cpu = med("on", kind, "server_cpu_us_per_req") / med("off", kind, "server_cpu_us_per_req")
        rate = med("on", kind, "requests_per_s") / med("off", kind, "requests_per_s")
        print(f"- {labels[kind]}: CPU/call on/off {cpu:.3f}x, calls/s on/off {rate:.3f}x (target: within {target})")
    print(f"- BatchPredict 1,024 rows: {med('on', 'batch', 'requests_per_s') * 1024:,.0f} rows/s on, "
          f"{med('off', 'batch', 'requests_per_s') * 1024:,.0f} rows/s off")
    features = len(report.features)
    with open(os.path.join(registry, "churn", "1", "profile.json")) as f:
        profile = json.load(f)
    block = 4 * 10 * 4  # bytes per counter: 4-byte counter x 10 segments x 4 stripes
    # Numeric features also keep their edges (8 B each) and a 256-cell bin table (4 B each) for the lookup.
    per_feature = {p["name"]: (len(p["edges"]) + 2) * block + 8 * len(p["edges"]) + 1024 if p["kind"] == "numeric"
                   else (len(p["categories"]) + 2) * block for p in profile["features"]}
    score_edges = len(profile["prediction"]["score"]["edges"])
    prediction = (score_edges + 2 + len(profile["prediction"]["classes"])) * block + 8 * score_edges + 1024
    print("- counter memory per monitored feature (bytes): " + ", ".join(f"{k} {v:,}" for k, v in per_feature.items())
          + f"; prediction {prediction:,}; whole version {sum(per_feature.values()) + prediction + block:,}")
    print(f"- window after the runs: {report.window_requests} requests (limit {report.window_limit_requests}), "
          f"{features} monitored features + prediction; RSS after the runs: on {rss['on'] / 1024:.1f} MiB, "
          f"off {rss['off'] / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
