#!/usr/bin/env python3
"""Open Inference Protocol REST benchmarks (issue 16), one sitting:

1. server CPU per call, REST infer (JSON tensors, and Triton's binary tensors) vs gRPC ModelInfer, same model,
   same Sluice process (one event-loop thread; the REST listener has its own thread);
2. requests/s of REST infer, Sluice vs the Python reference (FastAPI + onnxruntime on uvicorn,
   bench/rest_reference_fastapi.py), same model, same client: h2load --h1 with keep-alive connections and a fixed
   number of requests.

Servers run pinned to CPU 0, the load generator to CPU 1, loopback only, bounded request counts. Prints one JSON
line per run and a summary with medians over --rounds rounds.

  .venv/bin/pip install -r bench/requirements-rest.txt     # FastAPI + uvicorn for the reference
  .venv/bin/python bench/rest_bench.py --rounds 3
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from h2run import cpu_seconds, free_port, run as h2_run, wait_port  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODEL = ROOT / "Tests" / "fixtures" / "models" / "skl_logreg_churn" / "model.onnx"
ROW = [35.0, 52000.0, 12.0, 640.0]


def loadavg():
    return os.getloadavg()[0]


def h1_run(pid, url, body, headers, requests, clients=8):
    """h2load over HTTP/1.1 (keep-alive, no pipelining): req/s and server CPU µs per request."""
    cmd = ["taskset", "-c", "1", "h2load", "--h1", "-n", str(requests), "-c", str(clients), "-m", "1", "-d", body]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(url)
    before = cpu_seconds(pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    after = cpu_seconds(pid)
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    completed = int(done.group(4)) if done else 0
    return {"requests_per_s": float(m.group(3)) if m else 0.0, "completed": completed,
            "failed": int(done.group(5)) if done else None,
            "server_cpu_us_per_req": (after - before) * 1e6 / completed if completed else None,
            "h2load_tail": None if m and completed == requests else out.strip().splitlines()[-8:]}


def bodies(directory):
    """The JSON, binary and gRPC request bodies for one row of the churn model."""
    json_body = json.dumps({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}]}).encode()
    header = json.dumps({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}],
                         "parameters": {"binary_data_output": True}}).encode()
    binary_body = header + struct.pack("<4f", *ROW)
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name="churn")
    tensor = request.inputs.add(name="X", datatype="FP32", shape=[1, 4])
    del tensor
    request.raw_input_contents.append(struct.pack("<4f", *ROW))
    payload = request.SerializeToString()
    grpc_body = b"\x00" + struct.pack(">I", len(payload)) + payload
    paths = {}
    for name, data in [("json", json_body), ("binary", binary_body), ("grpc", grpc_body)]:
        paths[name] = str(directory / f"{name}.body")
        pathlib.Path(paths[name]).write_bytes(data)
    return paths, len(header)


def start_sluice(binary, registry, rest_port):
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "serve", "--plaintext", "--insecure-no-auth",
                             "--threads", "1", "--listen", "127.0.0.1:0", "--models", str(registry),
                             "--http-listen", f"127.0.0.1:{rest_port}", "--no-monitoring"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    grpc_port = None
    for line in proc.stderr:
        if "serving gRPC on" in line:
            grpc_port = int(line.split(" over ")[0].rsplit(":", 1)[1])
            break
    wait_port(rest_port, proc)
    deadline = time.time() + 30
    import urllib.request

    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v2/models/churn/ready", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.05)
    return proc, grpc_port


def start_reference(rest_port):
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, str(ROOT / "bench" / "rest_reference_fastapi.py"),
                             "--model", str(MODEL), "--name", "churn", "--port", str(rest_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(rest_port, proc, timeout=60)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / ".build" / "release" / "sluice"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20000, help="requests per Sluice run")
    ap.add_argument("--reference-requests", type=int, default=4000, help="requests per FastAPI run")
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="rest-bench-"))
    registry = work / "registry"
    subprocess.run([a.binary, "models", "register", "--registry", str(registry), "--name", "churn", "--file",
                    str(MODEL), "--stage", "Production"], check=True, stdout=subprocess.DEVNULL)
    paths, header_length = bodies(work)
    results = {k: [] for k in ["rest_json", "rest_binary", "grpc_modelinfer", "rest_json_same_count", "fastapi"]}
    for round_index in range(a.rounds):
        rest_port = free_port()
        proc, grpc_port = start_sluice(a.binary, registry, rest_port)
        url = f"http://127.0.0.1:{rest_port}/v2/models/churn/infer"
        try:
            h1_run(proc.pid, url, paths["json"], ["content-type: application/json"], 2000)  # warm-up
            runs = {
                "rest_json": h1_run(proc.pid, url, paths["json"], ["content-type: application/json"], a.requests),
                "rest_binary": h1_run(proc.pid, url, paths["binary"],
                                      [f"inference-header-content-length: {header_length}"], a.requests),
                "grpc_modelinfer": h2_run(proc.pid, f"http://127.0.0.1:{grpc_port}/inference.GRPCInferenceService/"
                                          "ModelInfer", paths["grpc"], requests=a.requests, clients=8, streams=1),
                "rest_json_same_count": h1_run(proc.pid, url, paths["json"], ["content-type: application/json"],
                                               a.reference_requests),
            }
        finally:
            stop(proc)
        ref_port = free_port()
        ref = start_reference(ref_port)
        try:
            ref_url = f"http://127.0.0.1:{ref_port}/v2/models/churn/infer"
            h1_run(ref.pid, ref_url, paths["json"], ["content-type: application/json"], 200)  # warm-up
            runs["fastapi"] = h1_run(ref.pid, ref_url, paths["json"], ["content-type: application/json"],
                                     a.reference_requests)
        finally:
            stop(ref)
        for name, result in runs.items():
            result["round"] = round_index
            result["load1"] = round(loadavg(), 2)
            results[name].append(result)
            print(json.dumps({"run": name, **{k: v for k, v in result.items() if v is not None}}), flush=True)

    def median(name, key):
        values = [r[key] for r in results[name] if r.get(key)]
        return statistics.median(values) if values else None

    summary = {name: {"requests_per_s": median(name, "requests_per_s"),
                      "server_cpu_us_per_req": median(name, "server_cpu_us_per_req")} for name in results}
    summary["cpu_rest_json_over_grpc"] = (summary["rest_json"]["server_cpu_us_per_req"]
                                          / summary["grpc_modelinfer"]["server_cpu_us_per_req"])
    summary["cpu_rest_binary_over_grpc"] = (summary["rest_binary"]["server_cpu_us_per_req"]
                                            / summary["grpc_modelinfer"]["server_cpu_us_per_req"])
    summary["rps_sluice_rest_over_fastapi"] = (summary["rest_json_same_count"]["requests_per_s"]
                                               / summary["fastapi"]["requests_per_s"])
    summary["rounds"] = a.rounds
    print(json.dumps({"summary": summary}, indent=1))


if __name__ == "__main__":
    main()
