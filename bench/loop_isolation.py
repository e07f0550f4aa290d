#!/usr/bin/env python3
"""How much a big BatchPredict delays a 1-row Predict on the same event loop (issue: heavy work off the loop).

Starts `sluice serve --threads 1` on the example churn forest twice, once with large calls offloaded to worker
threads (the default) and once with `--offload-min-bytes 0` (everything on the loop). In each run one connection
sends 100,000-row BatchPredicts back to back while another sends 2,000 1-row Predicts one after the other; the
Predict latencies (client-side, grpcio) are reported as median, p99 and max, with the batches' own latency.

Usage: bench/loop_isolation.py [--calls 2000] [--rows 100000]   (SLUICE_BIN or .build/release/sluice)
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "integration"))

from conftest import SluiceProcess, proto_modules  # noqa: E402
from modelfixtures import Fixture, feature_value, register, wait_serving  # noqa: E402

MODEL = ROOT / "Tests" / "fixtures" / "models" / "spark_churn_rf"


def run(binary, offload, calls, rows, pb, pb_grpc, health):
    with tempfile.TemporaryDirectory() as tmp:
        registry = pathlib.Path(tmp) / "registry"
        register(binary, registry, "churn", MODEL / "model.onnx")
        args = [binary, "serve", "--plaintext", "--listen", "127.0.0.1:0", "--threads", "1", "--models",
                str(registry), "--insecure-no-auth", "--max-message-bytes", str(64 << 20)]
        if not offload:
            args += ["--offload-min-bytes", "0"]
        server = SluiceProcess(args, False).wait_ready()
        try:
            wait_serving(server, health)
            fixture = Fixture(MODEL)
            names = ["age", "income", "tenure_months", "credit_score"]
            base = [fixture.row(r)[n] for r in range(fixture.rows) for n in names]
            batch = pb.BatchPredictRequest(model="churn", dense=(base * (rows // fixture.rows + 1))[:rows * 4])
            big = {"grpc.max_send_message_length": 64 << 20, "grpc.max_receive_message_length": 64 << 20}
            batch_stub = pb_grpc.InferenceStub(server.channel(**big))
            stub = pb_grpc.InferenceStub(server.channel())
            small = pb.PredictRequest(model="churn",
                                      features={k: feature_value(pb, v) for k, v in fixture.row(3).items()})
            for _ in range(200):
                stub.Predict(small)
            stop = threading.Event()
            batch_latency = []

            def batches():
                while not stop.is_set():
                    started = time.perf_counter()
                    batch_stub.BatchPredict(batch, timeout=120)
                    batch_latency.append(time.perf_counter() - started)

            thread = threading.Thread(target=batches)
            thread.start()
            time.sleep(0.5)
            latency = []
            for _ in range(calls):
                started = time.perf_counter()
                stub.Predict(small)
                latency.append(time.perf_counter() - started)
            stop.set()
            thread.join()
            latency.sort()
            return {"p50_ms": 1e3 * statistics.median(latency), "p99_ms": 1e3 * latency[int(0.99 * len(latency))],
                    "max_ms": 1e3 * latency[-1], "batches": len(batch_latency),
                    "batch_ms": 1e3 * statistics.median(batch_latency) if batch_latency else 0}
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    options = parser.parse_args()
    binary = os.environ.get("SLUICE_BIN", str(ROOT / ".build" / "release" / "sluice"))
    modules = proto_modules.__wrapped__()
    pb, pb_grpc = modules.inference_pb2, modules.inference_pb2_grpc
    for offload in (True, False, True, False):
        result = run(binary, offload, options.calls, options.rows, pb, pb_grpc, modules)
        print(f"{'offload on ' if offload else 'offload off'}: Predict p50 {result['p50_ms']:.2f} ms, "
              f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.2f} ms over {options.calls} calls; "
              f"{result['batches']} batches of {options.rows} rows, median {result['batch_ms']:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
