#!/usr/bin/env python3
"""CPU per call: Open Inference Protocol ModelInfer vs sluice.v1 Predict, same model, same server, same sitting.

`sluice serve --threads 1` on the example registry's churn model (spark_churn_rf: four FP32 [1,1] inputs), pinned
to CPU 0; h2load with gRPC framing on CPU 1 (8 connections x 16 streams). Rounds alternate Predict and ModelInfer
so that load changes on the machine hit both alike; the table shows medians over the rounds. Server CPU per call is
utime + stime from /proc/PID/stat around each run, divided by the calls completed. Before measuring, one ModelInfer
through tritonclient checks that the body is answered OK (h2load counts HTTP 200s, not gRPC statuses).

  .venv/bin/python bench/open_inference.py [--requests 50000] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402
from predict import SLUICE, churn_rows, start, stop  # noqa: E402

pb, _, _, _ = protos.load()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    import numpy as np
    import tritonclient.grpc as grpcclient
    from tritonclient.grpc import service_pb2

    work = tempfile.mkdtemp(prefix="sluice-bench-oip-")
    inputs = churn_rows()
    row = {i["name"]: i["data"][0][0] for i in inputs}
    predict = pb.PredictRequest(model="churn", features={k: pb.FeatureValue(number=v) for k, v in row.items()})
    infer = service_pb2.ModelInferRequest(model_name="churn")
    for name, value in row.items():
        infer.inputs.add(name=name, datatype="FP32", shape=[1, 1])
        infer.raw_input_contents.append(np.array([[value]], dtype=np.float32).tobytes())
    bodies = {}
    for key, message in [("Predict", predict), ("ModelInfer", infer)]:
        bodies[key] = os.path.join(work, key + ".bin")
        with open(bodies[key], "wb") as f:
            f.write(protos.grpc_frame(message))

    port = h2run.free_port()
    registry = os.path.join(work, "registry")
    shutil.copytree(os.path.join(ROOT, "deploy", "registry"), registry)
    proc = start([SLUICE, "serve", "--plaintext", "--threads", "1", "--listen", f"127.0.0.1:{port}", "--models",
                  registry, "--insecure-no-auth"], port, settle=1.0)
    urls = {"Predict": f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict",
            "ModelInfer": f"http://127.0.0.1:{port}/inference.GRPCInferenceService/ModelInfer"}
    runs = {"Predict": [], "ModelInfer": []}
    try:
        client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        tensors = []
        for name, value in row.items():
            t = grpcclient.InferInput(name, [1, 1], "FP32")
            t.set_data_from_numpy(np.array([[value]], dtype=np.float32))
            tensors.append(t)
        check = client.infer("churn", tensors)
        assert check.as_numpy("probability").shape == (1, 2), "ModelInfer did not answer"
        client.close()
        load_before = os.getloadavg()
        for _ in range(a.repeat):
            for key in ("Predict", "ModelInfer"):
                runs[key].append(h2run.run(proc.pid, urls[key], bodies[key], requests=a.requests))
        load_after = os.getloadavg()
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)

    results = {}
    for key, rounds in runs.items():
        results[key] = {
            "server_cpu_us_per_req": statistics.median(r["server_cpu_us_per_req"] for r in rounds),
            "requests_per_s": statistics.median(r["requests_per_s"] for r in rounds),
            "p50_us": statistics.median(r["p50_us"] for r in rounds),
            "p99_us": statistics.median(r["p99_us"] for r in rounds),
            "failed": sum(r["failed"] or 0 for r in rounds),
            "rounds_cpu_us": [round(r["server_cpu_us_per_req"], 2) for r in rounds],
        }
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores, shared)")
    print("| RPC | server CPU µs/call (median) | per round | req/s | p50 µs | p99 µs | failed |")
    print("|---|---|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['server_cpu_us_per_req']:.2f} | {r['rounds_cpu_us']} | {r['requests_per_s']:.0f} "
              f"| {r['p50_us']} | {r['p99_us']} | {r['failed']} |")
    ratio = results["ModelInfer"]["server_cpu_us_per_req"] / results["Predict"]["server_cpu_us_per_req"]
    print(f"\n- ModelInfer / Predict server CPU per call: {ratio:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
