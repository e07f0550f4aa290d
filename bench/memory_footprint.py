#!/usr/bin/env python3
"""Memory footprint and startup of `sluice serve` (issue 15, memory): one or more binaries, alternating.

Each run starts the server as scripts/run-example does (TLS with the development certificates, an API key, RBAC,
an audit log, the example registry deploy/registry), pinned to CPU 0, and reads /proc/PID/status:
  - startup: from exec to the first `GET /readyz` that answers 200 (the model is loaded);
  - idle: 1 s after ready (VmHWM, VmRSS, RssAnon, RssFile);
  - after --requests Predicts over TLS with the API key, h2load 8 connections x 16 streams on CPU 1; VmRSS is
    also sampled every 20 ms during the load (the peak of those samples is "RSS under load").
One Predict through grpcio checks the answer first (h2load counts HTTP 200, not grpc-status). Also prints each
binary's file size and its .text/.rodata sizes (readelf). Medians of --repeat runs; loopback only, bounded.

  certs/generate >/dev/null
  .venv/bin/python bench/memory_footprint.py --bin .build/release/sluice [--bin OTHER] [--repeat 3]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
CERTS = os.path.join(ROOT, "certs", "dev")


def sections(binary):
    """File size and the sizes of .text, .rodata and whether .cfstr.data exists (CoreFoundation)."""
    out = {"file": os.path.getsize(binary)}
    text = subprocess.run(["readelf", "-S", "-W", binary], capture_output=True, text=True, check=True).stdout
    for name in (".text", ".rodata", ".cfstr.data"):
        m = re.search(r"\s" + re.escape(name) + r"\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", text)
        out[name] = int(m.group(1), 16) if m else 0
    return out


def security_config(binary, work):
    """An admin API key (as scripts/run-example makes it) and a security configuration with an audit log."""
    out = subprocess.run([binary, "keys", "create", "--principal", "bench", "--role", "admin", "--id", "bench"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    key = out[1].strip()
    entry = out[-1].strip()
    path = os.path.join(work, "security.json")
    with open(path, "w") as f:
        f.write('{"apiKeys": [%s], "audit": {"path": "%s"}}\n' % (entry, os.path.join(work, "audit.log")))
    return key, path


def wait_ready(proc, admin_port, timeout=60):
    """Seconds until /readyz answers 200 (fails if the server exits first)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("server did not become ready")


def check_predict(port, key, row):
    """One Predict through grpcio over TLS with the API key; fails unless it answers with a label."""
    import grpc

    with open(os.path.join(CERTS, "ca.pem"), "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        reply = pb_grpc.InferenceStub(channel).Predict(
            pb.PredictRequest(model="churn", features={k: pb.FeatureValue(number=v) for k, v in row.items()}),
            metadata=[("x-api-key", key)], timeout=30)
    if not reply.scores:
        raise RuntimeError(f"Predict answered without scores: {reply}")


def one_run(binary, requests, body, row):
    work = tempfile.mkdtemp(prefix="sluice-mem-")
    try:
        registry = os.path.join(work, "registry")
        shutil.copytree(os.path.join(ROOT, "deploy", "registry"), registry)
        key, config = security_config(binary, work)
        port, admin = h2run.free_port(), h2run.free_port()
        cmd = ["taskset", "-c", "0", binary, "serve", "--models", registry,
               "--tls-cert", os.path.join(CERTS, "server.pem"), "--tls-key", os.path.join(CERTS, "server-key.pem"),
               "--security-config", config, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            startup = wait_ready(proc, admin)
            time.sleep(1.0)
            idle = h2run.memory_status(proc.pid)
            check_predict(port, key, row)
            samples = []
            done = threading.Event()

            def sample():
                while not done.is_set():
                    samples.append(h2run.memory_status(proc.pid)["VmRSS"])
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                load = h2run.run(proc.pid, f"https://127.0.0.1:{port}/sluice.v1.Inference/Predict", body,
                                 requests=requests, extra_headers=[f"x-api-key: {key}"])
            finally:
                done.set()
                sampler.join()
            if load["completed"] != requests or load["failed"]:
                raise RuntimeError(f"h2load: {load}")
            after = h2run.memory_status(proc.pid)
        finally:
            h2run.stop(proc, timeout=15)
        return {"startup_ms": startup * 1000, "idle": idle, "after": after,
                "rss_under_load": max(samples) if samples else after["VmRSS"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def median(runs, path):
    values = []
    for r in runs:
        v = r
        for p in path:
            v = v[p]
        values.append(v)
    return statistics.median(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True, help="a sluice binary (repeat to compare)")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    with open(os.path.join(ROOT, "Tests", "fixtures", "models", "spark_churn_rf", "inputs.json")) as f:
        inputs = json.load(f)["inputs"]
    row = {i["name"]: i["data"][0][0] for i in inputs}
    request = pb.PredictRequest(model="churn", features={k: pb.FeatureValue(number=v) for k, v in row.items()})
    work = tempfile.mkdtemp(prefix="sluice-mem-body-")
    body = os.path.join(work, "predict.bin")
    with open(body, "wb") as f:
        f.write(protos.grpc_frame(request))
    runs = {b: [] for b in a.bin}
    try:
        for _ in range(a.repeat):
            for b in a.bin:
                runs[b].append(one_run(b, a.requests, body, row))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = lambda kib: f"{kib / 1024:.1f}"  # noqa: E731
    print(f"| binary | file MB | .text MB | .rodata MB | startup ms | idle VmHWM | idle VmRSS (anon + file) | "
          f"VmHWM after {a.requests:,} | VmRSS after (anon + file) | VmRSS under 8x16 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in a.bin:
        s = sections(b)
        r = runs[b]
        m = lambda *p: median(r, p)  # noqa: E731
        print(f"| {b} | {s['file'] / 1e6:.1f} | {s['.text'] / 1e6:.1f} | {s['.rodata'] / 1e6:.1f} | "
              f"{m('startup_ms'):.0f} | {mb(m('idle', 'VmHWM'))} | {mb(m('idle', 'VmRSS'))} "
              f"({mb(m('idle', 'RssAnon'))} + {mb(m('idle', 'RssFile'))}) | {mb(m('after', 'VmHWM'))} | "
              f"{mb(m('after', 'VmRSS'))} ({mb(m('after', 'RssAnon'))} + {mb(m('after', 'RssFile'))}) | "
              f"{mb(m('rss_under_load'))} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({b: {"sections": sections(b), "runs": runs[b]} for b in a.bin}, f, indent=1)


if __name__ == "__main__":
    main()
