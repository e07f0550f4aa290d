#!/usr/bin/env python3
"""Predict throughput with JWT auth + RBAC + audit (a cached token) vs `--insecure-no-auth`, over TLS, in one
sitting (issue 6: the ratio must be at least 0.9).

Runs the real `sluice serve` pinned to CPU 0 and `h2load` on CPU 1, alternating the two modes `--rounds` times,
and reports the median req/s and server CPU µs per request (utime+stime from /proc) and their ratios.

    .venv/bin/python bench/auth_server_bench.py [--bin .build/release/sluice] [--onnx FILE] [--rounds 3]

The model (default: the shared spark_churn_rf fixture) is registered as `churn` with `sluice models register`.
Server flags used: sluice serve --listen 127.0.0.1:PORT --models REG --tls-cert C --tls-key K
                   (--security-config FILE | --insecure-no-auth)
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def predict_body(model: str, dense: list[float]) -> bytes:
    """gRPC frame of PredictRequest{model, dense} (hand-encoded protobuf: field 1 string, field 5 packed float)."""
    m = model.encode()
    floats = b"".join(struct.pack("<f", v) for v in dense)
    msg = b"\x0a" + bytes([len(m)]) + m + b"\x2a" + bytes([len(floats)]) + floats
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(args, work: Path, mode: str, token: str) -> tuple[float, float]:
    port = free_port()
    tls = ["--tls-cert", str(work / "server.crt"), "--tls-key", str(work / "server.key")]
    auth = ["--security-config", str(work / "security.json")] if mode == "auth" else ["--insecure-no-auth"]
    cmd = ["taskset", "-c", "0", args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--models", str(work / "registry"),
           *auth, *tls]
    log = open(work / f"server-{mode}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"server ({mode}) did not start; see {work}/server-{mode}.log")
                time.sleep(0.1)
        h2 = ["taskset", "-c", "1", "h2load", "-c", "8", "-m", "16", "-D", str(args.seconds), "-d",
              str(work / "body.bin"), "-H", "content-type: application/grpc", "-H", "te: trailers",
              "-H", f"authorization: Bearer {token}", f"https://127.0.0.1:{port}/sluice.v1.Inference/Predict"]
        # warm-up (first token verification, caches)
        subprocess.run(h2[:4] + ["-n", "2000"] + h2[10:], capture_output=True, timeout=60)
        c0 = cpu_seconds(proc.pid)
        out = subprocess.run(h2, capture_output=True, text=True, timeout=args.seconds + 60).stdout
        c1 = cpu_seconds(proc.pid)
        done = int(out.split("requests:")[1].split("succeeded,")[0].split(",")[-1].split()[0])
        rps = float(out.split("finished in")[1].split(",")[1].split("req/s")[0])
        return rps, (c1 - c0) * 1e6 / max(done, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/sluice"))
    ap.add_argument("--onnx", default=str(ROOT / "Tests/fixtures/models/spark_churn_rf/model.onnx"))
    ap.add_argument("--model", default="churn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sluice-auth-bench-"))
    subprocess.run([args.bin, "models", "register", "--registry", str(work / "registry"), "--name", args.model,
                    "--file", args.onnx, "--stage", "Production"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(work / "server.key"), "-out", str(work / "server.crt")], check=True,
                   capture_output=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "rsa.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (work / "security.json").write_text(json.dumps({
        "jwt": {"issuer": "https://issuer.bench", "audience": "sluice",
                "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"}]},
        "audit": {"path": str(work / "audit.log"), "onFailure": "fail-open"},
    }))
    token = jwt.encode({"sub": "bench", "iss": "https://issuer.bench", "aud": "sluice",
                        "exp": int(time.time()) + 3600, "roles": ["predictor"]}, key, algorithm="RS256",
                       headers={"kid": "rsa-1"})
    (work / "body.bin").write_bytes(predict_body(args.model, [35, 52000, 12, 640]))
    results = {"auth": [], "insecure": []}
    for r in range(args.rounds):
        for mode in ("insecure", "auth") if r % 2 == 0 else ("auth", "insecure"):
            results[mode].append(run_once(args, work, mode, token))
            print(f"round {r + 1} {mode:8s} {results[mode][-1][0]:10.0f} req/s  {results[mode][-1][1]:6.2f} µs CPU/req")
    med = {m: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for m, v in results.items()}
    print(f"median insecure: {med['insecure'][0]:.0f} req/s, {med['insecure'][1]:.2f} µs CPU/req")
    print(f"median auth:     {med['auth'][0]:.0f} req/s, {med['auth'][1]:.2f} µs CPU/req")
    print(f"throughput ratio auth/insecure: {med['auth'][0] / med['insecure'][0]:.3f} (must be >= 0.9)")
    print(f"CPU per request ratio auth/insecure: {med['auth'][1] / med['insecure'][1]:.3f}")
    # h2load cannot read gRPC trailers: check from the audit log that the auth runs really were allowed and OK.
    statuses = {}
    for path in sorted(work.glob("audit.log*")):
        for line in open(path):
            r = json.loads(line)
            statuses[(r["decision"], r["grpc_status"])] = statuses.get((r["decision"], r["grpc_status"]), 0) + 1
    print(f"audit records by (decision, grpc_status): {statuses}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
