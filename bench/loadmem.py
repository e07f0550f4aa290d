#!/usr/bin/env python3
"""Model-load memory (issue 15): the server's VmHWM/VmRSS idle, after N Predicts, and across Staging reloads.

Starts `sluice serve` as scripts/run-example does (TLS with dev-style certificates, an API key, RBAC, an audit
log) on a copy of the example registry (deploy/registry: the churn forest), then:
  1. idle: VmRSS and VmHWM from /proc/PID/status once the model is loaded;
  2. after --predicts sequential Predicts over one TLS channel;
  3. --reloads times: register a new Staging version, wait until the server serves it, archive the old one, and
     read VmRSS after each (the set of loaded versions stays the same, so RSS should stay flat).
Prints one JSON object per step and a summary. Loopback only; the server is started and stopped by PID.

  .venv/bin/python bench/loadmem.py [--predicts 10000] [--reloads 10] [--env NAME=VALUE ...]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402
from soak import make_certs  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
REGISTRY = os.path.join(ROOT, "deploy", "registry")


def sluice(*args):
    out = subprocess.run([SLUICE, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"sluice {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--predicts", type=int, default=10000)
    ap.add_argument("--reloads", type=int, default=10)
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server's environment")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sluice-loadmem-")
    registry = os.path.join(work, "registry")
    shutil.copytree(REGISTRY, registry)
    model_file = os.path.join(REGISTRY, "churn", "1", "model.onnx")
    created = sluice("keys", "create", "--principal", "bench", "--role", "admin", "--id", "bench").splitlines()
    key = created[1].strip()
    with open(os.path.join(work, "security.json"), "w") as f:
        f.write('{"apiKeys": [%s], "audit": {"path": "%s"}}' % (created[-1].strip(), os.path.join(work, "audit.log")))
    make_certs(work)
    port, admin = h2run.free_port(), h2run.free_port()
    env = dict(os.environ)
    for item in a.env:
        name, _, value = item.partition("=")
        env[name] = value
    server = subprocess.Popen(
        [SLUICE, "serve", "--models", registry,
         "--tls-cert", os.path.join(work, "server.pem"), "--tls-key", os.path.join(work, "server-key.pem"),
         "--security-config", os.path.join(work, "security.json"), "--listen", f"127.0.0.1:{port}",
         "--admin-listen", f"127.0.0.1:{admin}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    rows = []
    try:
        h2run.wait_port(port, server)
        import grpc
        creds = grpc.ssl_channel_credentials(open(os.path.join(work, "ca.pem"), "rb").read())
        stub = pb_grpc.InferenceStub(grpc.secure_channel(f"127.0.0.1:{port}", creds))
        md = [("x-api-key", key)]

        def served(selector):
            r = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version=selector), metadata=md, timeout=30)
            return r.versions[0]

        deadline = time.monotonic() + 60
        while served("production").state != pb.READY:
            if time.monotonic() > deadline:
                raise SystemExit("the model did not become ready in 60 s")
            time.sleep(0.1)
        time.sleep(1)
        rows.append({"step": "idle", **h2run.memory_status(server.pid)})
        print(json.dumps(rows[-1]), flush=True)

        request = pb.PredictRequest(model="churn", features={
            "age": pb.FeatureValue(number=42), "income": pb.FeatureValue(number=52000),
            "tenure_months": pb.FeatureValue(number=7), "credit_score": pb.FeatureValue(number=610)})
        started = time.monotonic()
        for _ in range(a.predicts):
            stub.Predict(request, metadata=md, timeout=30)
        rows.append({"step": f"after {a.predicts} Predicts", "seconds": round(time.monotonic() - started, 1),
                     **h2run.memory_status(server.pid)})
        print(json.dumps(rows[-1]), flush=True)

        staging = None
        for i in range(a.reloads):
            out = sluice("models", "register", "--registry", registry, "--name", "churn", "--file", model_file,
                         "--stage", "Staging")
            new = int(out.split(" version ")[1].split()[0])
            deadline = time.monotonic() + 60
            while True:
                try:
                    v = served("staging")
                    if v.version == new and v.state == pb.READY:
                        break
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"Staging version {new} was not served within 60 s")
                time.sleep(0.1)
            if staging is not None:
                sluice("models", "promote", "churn", str(staging), "--stage", "Archived", "--registry", registry)
            staging = new
            time.sleep(1.5)
            rows.append({"step": f"reload {i + 1}", **h2run.memory_status(server.pid)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        h2run.stop(server)
        shutil.rmtree(work, ignore_errors=True)

    idle, after = rows[0], rows[1]
    reloads = rows[2:]
    print(f"\nidle VmRSS {idle['VmRSS'] / 1024:.1f} MB, VmHWM {idle['VmHWM'] / 1024:.1f} MB; after {a.predicts} "
          f"Predicts VmRSS {after['VmRSS'] / 1024:.1f} MB, VmHWM {after['VmHWM'] / 1024:.1f} MB")
    if reloads:
        print(f"reloads: VmRSS {reloads[0]['VmRSS'] / 1024:.1f} -> {reloads[-1]['VmRSS'] / 1024:.1f} MB "
              f"(max {max(r['VmRSS'] for r in reloads) / 1024:.1f}), VmHWM {reloads[-1]['VmHWM'] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
