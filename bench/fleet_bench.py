#!/usr/bin/env python3
"""Issue 12's benchmarks: the per-call cost of following shared rollout state, and how fast a START spreads.

1. CPU per Predict with a fleet rollout vs a local one, in one sitting, alternating short rounds (median of
   --rounds each). Both servers run `--threads 1` pinned to CPU 0 (h2load on CPU 1, 8 connections x 16 streams,
   gRPC framing, a routing key) with the same auto canary at 50 % (versions 1 and 2 registered from the same file,
   so both variants cost the same), whose step never ends (so its guardrails are judged on every tick):
   - local: one server alone on its registry;
   - fleet: the same server with two more replicas on the same registry, each receiving a trickle of Predicts, so
     their statistics files change and the measured server (the lease holder) sums them on every tick.
   The figure is server CPU µs per request (utime+stime from /proc over the run, ticker included); the rollout
   ticker thread's own CPU (ms per second) is reported too, as it is the only code that differs.
2. Time from START on replica 1 to the same split on replica 3: from just before START is sent to replica 1,
   replica 3 gets a Predict every 5 ms with a key the documented hash puts on the candidate (docs/routing.md),
   until replica 3 serves it from the candidate (a `GET` would re-read the shared state itself; this measures the
   follower's own polling). --starts repetitions (ROLLBACK between), median and maximum.

  .venv/bin/python bench/fleet_bench.py [--requests 40000] [--rounds 5] [--starts 10]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
MODEL_DIR = os.path.join(ROOT, "Tests", "fixtures", "models", "spark_churn_rf")


def features():
    with open(os.path.join(MODEL_DIR, "inputs.json")) as f:
        inputs = json.load(f)["inputs"]
    return {i["name"]: pb.FeatureValue(number=i["data"][0][0]) for i in inputs}


def body_file(work):
    request = pb.PredictRequest(model="churn", routing_key="customer-0042", features=features())
    path = os.path.join(work, "keyed.bin")
    with open(path, "wb") as f:
        f.write(protos.grpc_frame(request))
    return path


def registry(work, name):
    path = os.path.join(work, name)
    for stage in ("Production", "None"):
        subprocess.run([SLUICE, "models", "register", "--registry", path, "--name", "churn", "--file",
                        os.path.join(MODEL_DIR, "model.onnx"), "--stage", stage], check=True, capture_output=True)
    return path


def serve(reg, name, cpu=None):
    port = h2run.free_port()
    cmd = [SLUICE, "serve", "--plaintext", "--threads", "1", "--listen", f"127.0.0.1:{port}", "--models", reg,
           "--replica-id", name, "--insecure-no-auth"]
    proc = subprocess.Popen((["taskset", "-c", cpu] if cpu else []) + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    h2run.wait_port(port, proc)
    import grpc
    return proc, port, pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def thread_cpu(pid, name):
    """utime + stime (seconds) of the threads of `pid` named `name`."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if open(f"/proc/{pid}/task/{tid}/comm").read().strip() != name:
                continue
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except FileNotFoundError:
            pass
    return total


def start_canary(stub, auto=True):
    return stub.Rollout(pb.RolloutRequest(
        model="churn", action=pb.START, strategy=pb.CANARY, candidate="2", auto=auto,
        steps=[pb.CanaryStep(percent=50, min_requests=10**12)], guardrails=pb.Guardrails(max_error_rate=0.5)),
        timeout=30)


M64 = (1 << 64) - 1


def basis_point(rollout_id, key):
    """The documented routing hash (docs/routing.md)."""
    h = 0xcbf29ce484222325
    for b in rollout_id.encode() + b"\x00" + key.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M64
    h ^= h >> 33
    return (h * 10000) >> 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--starts", type=int, default=10)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-fleet-bench-")
    body = body_file(work)
    shared, alone = registry(work, "shared"), registry(work, "alone")
    procs = []
    try:
        # ---- 1. CPU per Predict ------------------------------------------------------------------------
        fleet_proc, fleet_port, fleet_stub = serve(shared, "measured", cpu="0")
        local_proc, local_port, local_stub = serve(alone, "alone", cpu="0")
        procs += [fleet_proc, local_proc]
        others = [serve(shared, f"other-{i}", cpu="1") for i in range(2)]
        procs += [p for p, _, _ in others]
        time.sleep(1.0)
        start_canary(fleet_stub)
        start_canary(local_stub)
        time.sleep(1.0)
        stopping = threading.Event()

        def trickle():
            request = pb.PredictRequest(model="churn", routing_key="", features=features())
            while not stopping.is_set():
                for _, _, stub in others:
                    stub.Predict(request, timeout=10)
                time.sleep(0.02)

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        urls = {"local": (local_proc, f"http://127.0.0.1:{local_port}/sluice.v1.Inference/Predict"),
                "fleet": (fleet_proc, f"http://127.0.0.1:{fleet_port}/sluice.v1.Inference/Predict")}
        for name, (proc, url) in urls.items():
            h2run.run(proc.pid, url, body, requests=a.requests // 4)  # warm-up
        results = {"local": [], "fleet": []}
        ticker_start = {n: thread_cpu(p.pid, "sluice-rollouts") for n, (p, _) in urls.items()}
        wall_start = time.monotonic()
        for r in range(a.rounds):
            for name in (("local", "fleet") if r % 2 == 0 else ("fleet", "local")):
                proc, url = urls[name]
                out = h2run.run(proc.pid, url, body, requests=a.requests)
                if out["failed"]:
                    raise RuntimeError(f"{out['failed']} failed requests")
                results[name].append(out)
                print(f"round {r + 1} {name:5}  {out['requests_per_s']:8.0f} req/s  "
                      f"{out['server_cpu_us_per_req']:6.2f} µs CPU/req", flush=True)
        wall = time.monotonic() - wall_start
        ticker = {n: (thread_cpu(p.pid, "sluice-rollouts") - ticker_start[n]) / wall * 1000 for n, (p, _) in urls.items()}
        stopping.set()
        thread.join(10)
        status = fleet_stub.Rollout(pb.RolloutRequest(model="churn", action=pb.GET), timeout=30)
        cpu = {n: statistics.median(x["server_cpu_us_per_req"] for x in results[n]) for n in results}
        print(f"median CPU/req: local {cpu['local']:.2f} µs, fleet {cpu['fleet']:.2f} µs, "
              f"fleet/local {cpu['fleet'] / cpu['local']:.3f} (target within 5 %)")
        print(f"rollout ticker thread CPU over the rounds: local {ticker['local']:.2f} ms/s, "
              f"fleet {ticker['fleet']:.2f} ms/s (following, statistics, lease, summing the other replicas)")
        print(f"fleet rollout: {len(status.replicas)} replicas reporting, generation {status.generation}, "
              f"requests per replica {[sum(r.requests) for r in status.replicas]}")
        for proc in procs:
            stop(proc)
        procs = []

        # ---- 2. START on replica 1 → the same split on replica 3 ---------------------------------------
        reg = registry(work, "spread")
        replicas = [serve(reg, f"r{i + 1}") for i in range(3)]
        procs += [p for p, _, _ in replicas]
        time.sleep(1.0)
        r1, r3 = replicas[0][2], replicas[2][2]
        delays = []
        row = features()
        for _ in range(a.starts):
            begin = time.monotonic()
            started = start_canary(r1, auto=False)
            key = next(k for k in (f"k{i}" for i in range(10000)) if basis_point(started.rollout_id, k) < 5000)
            request = pb.PredictRequest(model="churn", routing_key=key, features=row)
            while True:
                answer = r3.Predict(request, timeout=30)
                if answer.variant == "candidate" and answer.version == 2:
                    break
                time.sleep(0.005)
            delays.append(time.monotonic() - begin)
            r1.Rollout(pb.RolloutRequest(model="churn", action=pb.ROLLBACK), timeout=30)
            time.sleep(0.3)
        print(f"START on r1 → same split on r3: median {statistics.median(delays) * 1000:.0f} ms, "
              f"max {max(delays) * 1000:.0f} ms over {len(delays)} starts (target ≤ 2000 ms); "
              f"all: {[round(d * 1000) for d in delays]}")
    finally:
        for proc in procs:
            stop(proc)


if __name__ == "__main__":
    main()
