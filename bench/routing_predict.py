#!/usr/bin/env python3
"""Predict with and without an active rollout (issue 5's benchmark), in one sitting.

One `sluice serve --threads 1` (pinned to CPU 0; h2load on CPU 1, 8 connections x 16 streams, gRPC framing) with
model `churn` registered twice from the same file (versions 1 and 2, so both variants cost the same to evaluate).
Each round measures, in this order:
  1. no rollout (requests go to Production);
  2. an A/B rollout 50/50, requests carrying a routing key (hash + table lookup + statistics on every call;
     h2load sends one body, so every request has the same key and lands on the same arm);
  3. the same rollout, requests without a key (random 50/50 split: both versions serve);
then ROLLBACK, and the next round STARTs a new rollout. Medians over --rounds; the ratio of server CPU per request
(from /proc) is the figure to read on a busy machine, req/s the one on a quiet one.

  .venv/bin/python bench/routing_predict.py [--requests 100000] [--rounds 3]
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
MODELS = os.path.join(ROOT, "Tests", "fixtures", "models")
MODEL_DIR = os.path.join(MODELS, "spark_churn_rf")


def body_file(work, name, routing_key):
    with open(os.path.join(MODEL_DIR, "inputs.json")) as f:
        inputs = json.load(f)["inputs"]
    row = {i["name"]: i["data"][0][0] for i in inputs}
    request = pb.PredictRequest(model="churn", routing_key=routing_key,
                                features={k: pb.FeatureValue(number=v) for k, v in row.items()})
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(protos.grpc_frame(request))
    return path


def measure(pid, url, body, requests):
    r = h2run.run(pid, url, body, requests=requests)
    if r["failed"]:
        raise RuntimeError(f"{r['failed']} failed requests: {r.get('h2load_tail')}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    import grpc

    work = tempfile.mkdtemp(prefix="sluice-routing-bench-")
    registry = os.path.join(work, "registry")
    for stage in ("Production", "None"):
        subprocess.run([SLUICE, "models", "register", "--registry", registry, "--name", "churn", "--file",
                        os.path.join(MODEL_DIR, "model.onnx"), "--stage", stage], check=True, capture_output=True)
    keyed = body_file(work, "keyed.bin", "customer-0042")
    unkeyed = body_file(work, "unkeyed.bin", "")
    port = h2run.free_port()
    serve = [SLUICE, "serve", "--plaintext", "--threads", "1", "--listen", f"127.0.0.1:{port}", "--models", registry]
    if "--insecure-no-auth" in subprocess.run([SLUICE, "serve", "--help"], capture_output=True, text=True).stdout:
        serve.append("--insecure-no-auth")  # loopback benchmark: authentication is measured elsewhere
    proc = subprocess.Popen(["taskset", "-c", "0"] + serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {"none": [], "keyed": [], "random": []}
    try:
        h2run.wait_port(port, proc)
        time.sleep(1.0)
        stub = pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        url = f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict"
        measure(proc.pid, url, unkeyed, a.requests // 4)  # warm-up
        for _ in range(a.rounds):
            results["none"].append(measure(proc.pid, url, unkeyed, a.requests))
            stub.Rollout(pb.RolloutRequest(model="churn", action=pb.START, strategy=pb.AB_TEST,
                                           arms=[pb.Arm(name="a", version="1", weight=50),
                                                 pb.Arm(name="b", version="2", weight=50)]), timeout=30)
            time.sleep(0.5)  # version 2 loads
            results["keyed"].append(measure(proc.pid, url, keyed, a.requests))
            results["random"].append(measure(proc.pid, url, unkeyed, a.requests))
            status = stub.Rollout(pb.RolloutRequest(model="churn", action=pb.GET), timeout=30)
            served = {v.name: v.overall.requests for v in status.variants}
            results.setdefault("arm_requests", []).append(served)
            stub.Rollout(pb.RolloutRequest(model="churn", action=pb.ROLLBACK), timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    print("| Predict | req/s (median) | server CPU µs/req (median) | p50 µs | p99 µs |")
    print("|---|---|---|---|---|")
    labels = {"none": "no rollout", "keyed": "A/B 50/50, routing key", "random": "A/B 50/50, no key (random split)"}
    for name in ("none", "keyed", "random"):
        print(f"| {labels[name]} | {med(name, 'requests_per_s'):.0f} | {med(name, 'server_cpu_us_per_req'):.2f} "
              f"| {med(name, 'p50_us')} | {med(name, 'p99_us')} |")
    print()
    for name in ("keyed", "random"):
        print(f"- {labels[name]}: req/s {med(name, 'requests_per_s') / med('none', 'requests_per_s'):.3f}x, "
              f"CPU/req {med(name, 'server_cpu_us_per_req') / med('none', 'server_cpu_us_per_req'):.3f}x "
              f"of no rollout (target: within 5%)")
    print(f"- requests per arm as counted by the rollout, per round: {results['arm_requests']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
