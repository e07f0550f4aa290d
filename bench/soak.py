#!/usr/bin/env python3
"""Soak test: a fixed rate of Predicts over TLS with an API key for a long run, while rollouts start and end,
versions are registered and promoted (registry reloads) and the server certificate is rotated (SIGHUP).

Reports per interval: calls completed and failed, p50/p99 latency, server RSS, CPU per call; then whether the
run held: zero failed calls, RSS flat within 5 % (last interval vs the first after warm-up), p99 stable.

  .venv/bin/python bench/soak.py [--minutes 10] [--rate 2000] [--interval 30]
Loopback only; the server is started and stopped by PID.
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
MODEL = os.path.join(ROOT, "Tests", "fixtures", "models", "spark_churn_rf", "model.onnx")


def sluice(*args):
    out = subprocess.run([SLUICE, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"sluice {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def make_certs(directory):
    """A CA and a server certificate for 127.0.0.1 (re-run to rotate the leaf)."""
    ca_key, ca = os.path.join(directory, "ca-key.pem"), os.path.join(directory, "ca.pem")
    if not os.path.exists(ca):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=soak CA", "-addext", "basicConstraints=critical,CA:TRUE",
                        "-keyout", ca_key, "-out", ca], check=True, capture_output=True)
    key, csr = os.path.join(directory, "server-key.pem.new"), os.path.join(directory, "server.csr")
    ext = os.path.join(directory, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                    "-days", "1", "-extfile", ext, "-out", os.path.join(directory, "server.pem.new")],
                   check=True, capture_output=True)
    # Replace key and certificate by rename, as a secret mount would.
    os.replace(key, os.path.join(directory, "server-key.pem"))
    os.replace(os.path.join(directory, "server.pem.new"), os.path.join(directory, "server.pem"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=2000, help="offered Predicts per second")
    ap.add_argument("--interval", type=int, default=30, help="seconds per measured interval")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sluice-soak-")
    registry = os.path.join(work, "registry")
    sluice("models", "register", "--registry", registry, "--name", "churn", "--file", MODEL, "--stage", "Production")
    sluice("models", "register", "--registry", registry, "--name", "churn", "--file", MODEL, "--stage", "Staging")
    created = sluice("keys", "create", "--principal", "soak", "--role", "admin", "--id", "soak").splitlines()
    key = created[1].strip()
    with open(os.path.join(work, "security.json"), "w") as f:
        f.write('{"apiKeys": [%s], "audit": {"path": "%s"}}' % (created[-1].strip(), os.path.join(work, "audit.log")))
    make_certs(work)
    port, admin = h2run.free_port(), h2run.free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", SLUICE, "serve", "--models", registry, "--threads", "1",
         "--tls-cert", os.path.join(work, "server.pem"), "--tls-key", os.path.join(work, "server-key.pem"),
         "--security-config", os.path.join(work, "security.json"), "--listen", f"127.0.0.1:{port}",
         "--admin-listen", f"127.0.0.1:{admin}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    h2run.wait_port(port, server)
    time.sleep(2)

    import grpc
    creds = grpc.ssl_channel_credentials(open(os.path.join(work, "ca.pem"), "rb").read())
    stub = pb_grpc.InferenceStub(grpc.secure_channel(f"127.0.0.1:{port}", creds))
    md = [("x-api-key", key)]
    request = pb.PredictRequest(model="churn", features={
        "age": pb.FeatureValue(number=42), "income": pb.FeatureValue(number=52000),
        "tenure_months": pb.FeatureValue(number=7), "credit_score": pb.FeatureValue(number=610)}).SerializeToString()
    body = os.path.join(work, "predict.bin")
    with open(body, "wb") as f:
        f.write(b"\x00" + len(request).to_bytes(4, "big") + request)

    def rollout(action, **fields):
        return stub.Rollout(pb.RolloutRequest(model="churn", action=action, **fields), metadata=md, timeout=30)

    staging = {"version": 2}

    def replace_staging():
        """A new Staging version is loaded and the old one archived (released): the set of loaded versions, and
        so the memory they need, stays the same."""
        out = sluice("models", "register", "--registry", registry, "--name", "churn", "--file", MODEL,
                     "--stage", "Staging")
        new = int(out.split(" version ")[1].split()[0])
        sluice("models", "promote", "churn", str(staging["version"]), "--stage", "Archived", "--registry", registry)
        staging["version"] = new

    events = [
        ("start a canary", lambda: rollout(pb.START, strategy=pb.CANARY, candidate="staging")),
        ("advance it", lambda: rollout(pb.ADVANCE)),
        ("rotate the certificate", lambda: (make_certs(work), server.send_signal(signal.SIGHUP))),
        ("roll it back", lambda: rollout(pb.ROLLBACK)),
        ("replace the Staging version", lambda: replace_staging()),
        ("start an A/B test", lambda: rollout(pb.START, strategy=pb.AB_TEST, arms=[
            pb.Arm(name="a", version="production", weight=50), pb.Arm(name="b", version="staging", weight=50)])),
        ("end it (rollback)", lambda: rollout(pb.ROLLBACK)),
        ("rotate the certificate", lambda: (make_certs(work), server.send_signal(signal.SIGHUP))),
    ]
    rows = []
    intervals = max(1, int(a.minutes * 60 / a.interval))
    try:
        for i in range(intervals):
            if i > 0:
                name, action = events[(i - 1) % len(events)]
                try:
                    action()
                    event = name
                except Exception as error:  # a failed control action is a soak failure too
                    event = f"{name} FAILED: {error}"
            else:
                event = "warm-up"
            r = h2run.run(server.pid, f"https://127.0.0.1:{port}/sluice.v1.Inference/Predict", body,
                          requests=a.rate * a.interval, rate=a.rate, extra_headers=[f"x-api-key: {key}"])
            rows.append({"interval": i, "event": event, **{k: r[k] for k in (
                "completed", "failed", "p50_us", "p99_us", "rss_now_kib", "server_cpu_us_per_req")}})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)

    failed = sum((r["failed"] or 0) for r in rows)
    measured = rows[1:] or rows
    rss_growth = (measured[-1]["rss_now_kib"] - measured[0]["rss_now_kib"]) / measured[0]["rss_now_kib"]
    p99s = [r["p99_us"] for r in measured if r["p99_us"] is not None]
    print(f"\n{len(rows)} intervals of {a.interval} s at {a.rate}/s: {sum(r['completed'] for r in rows)} calls, "
          f"{failed} failed; RSS {measured[0]['rss_now_kib'] / 1024:.1f} -> {measured[-1]['rss_now_kib'] / 1024:.1f} MB "
          f"({100 * rss_growth:+.1f} %); p99 median {statistics.median(p99s) / 1000:.2f} ms, "
          f"max {max(p99s) / 1000:.2f} ms")
    held = failed == 0 and abs(rss_growth) <= 0.05
    print("HELD" if held else "NOT HELD")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
