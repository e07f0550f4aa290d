#!/usr/bin/env python3
"""MLflow model source benchmark (issue 11, section 1).

Starts a real `mlflow server` (sqlite, proxied artifacts, loopback), logs the churn forest twice with
`mlflow.onnx.log_model` (versions 1 and 2) and serves it with `sluice serve --models mlflow+http://...`.

  1. Alias move → first Predict answered by the new version: one client calls Predict(@champion) in a loop
     while `@champion` is moved between versions 1 and 2 with MLflow's client; the time from just before the
     `set_registered_model_alias` call to the first reply from the new version. Median and max of --moves.
  2. Predict CPU per call, MLflow source vs local directory source: both servers `--threads 1` pinned to CPU 0,
     h2load on CPU 1 (bench/h2run.py), the same Predict(@champion) body, --requests per run, --rounds
     alternating rounds; server CPU from /proc/PID/stat (utime+stime).

  .venv/bin/python bench/mlflow_alias.py [--moves 10] [--requests 20000] [--rounds 3]
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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import h2run  # noqa: E402
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build", "release", "sluice"))
FIXTURE = os.path.join(ROOT, "Tests", "fixtures", "models", "spark_churn_rf")


def wait(predicate, timeout, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start_sluice(models, port, extra=(), log=None):
    cmd = ["taskset", "-c", "0", SLUICE, "serve", "--plaintext", "--insecure-no-auth", "--threads", "1",
           "--listen", f"127.0.0.1:{port}", "--models", models, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log, "w") if log else subprocess.DEVNULL)
    h2run.wait_port(port, proc)
    return proc


def stop(proc, group=False):
    if proc.poll() is None:
        (os.killpg(proc.pid, signal.SIGTERM) if group else proc.send_signal(signal.SIGTERM))
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            (os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill())
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--server-log", help="write the MLflow-backed server's log here (load times)")
    ap.add_argument("--skip-cpu", action="store_true", help="only measure alias moves")
    args = ap.parse_args()

    import grpc
    import mlflow
    import onnx

    work = tempfile.mkdtemp(prefix="sluice-mlflow-bench-")
    port = h2run.free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
         "--artifacts-destination", f"{work}/artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    procs = []
    try:
        if not wait(lambda: healthy(url), 120):
            raise SystemExit("mlflow server did not start")
        mlflow.set_tracking_uri(url)
        client = mlflow.MlflowClient(url)
        model = onnx.load(os.path.join(FIXTURE, "model.onnx"))
        for _ in range(2):
            with mlflow.start_run():
                mlflow.onnx.log_model(model, name="model", registered_model_name="churn", pip_requirements=["onnx"],
                                      await_registration_for=0)
        client.set_registered_model_alias("churn", "champion", "1")

        with open(os.path.join(FIXTURE, "inputs.json")) as f:
            inputs = json.load(f)["inputs"]
        row = {spec["name"]: spec["data"][0][0] for spec in inputs}
        request = pb.PredictRequest(model="churn", version="@champion",
                                    features={k: pb.FeatureValue(number=v) for k, v in row.items()})

        # 1. Alias moves.
        mlflow_port = h2run.free_port()
        sluice = start_sluice(f"mlflow+{url}", mlflow_port, ["--cache-dir", f"{work}/cache"], log=args.server_log)
        procs.append(sluice)
        stub = pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{mlflow_port}"))

        def version(on=None):
            try:
                return (on or stub).Predict(request, timeout=5).version
            except grpc.RpcError:
                return None

        if not wait(lambda: version() == 1, 60):
            raise SystemExit("sluice never served version 1 from MLflow")
        moves = []
        target = 2
        for _ in range(args.moves):
            started = time.monotonic()
            client.set_registered_model_alias("churn", "champion", str(target))
            while version() != target:
                if time.monotonic() - started > 30:
                    raise SystemExit("alias move not served within 30 s")
            moves.append(time.monotonic() - started)
            target = 3 - target
            time.sleep(0.3)

        # 2. CPU per Predict: MLflow source vs local directory, alternating rounds.
        cpu = {"mlflow": [], "local": []}
        if not args.skip_cpu:
            measure_cpu(args, work, request, sluice, mlflow_port, procs, cpu, version)
    finally:
        for proc in procs:
            stop(proc)
        stop(server, group=True)
        shutil.rmtree(work, ignore_errors=True)
    report(args, moves, cpu)


def measure_cpu(args, work, request, sluice, mlflow_port, procs, cpu, version):
    """Server CPU per Predict: the MLflow-backed server vs a local-directory server, alternating rounds."""
    import grpc

    registry = os.path.join(work, "registry")
    subprocess.run([SLUICE, "models", "register", "--registry", registry, "--name", "churn", "--file",
                    os.path.join(FIXTURE, "model.onnx"), "--stage", "Production", "--alias", "champion"],
                   check=True, capture_output=True)
    local_port = h2run.free_port()
    local = start_sluice(registry, local_port)
    procs.append(local)
    local_stub = pb_grpc.InferenceStub(grpc.insecure_channel(f"127.0.0.1:{local_port}"))
    if not wait(lambda: version(local_stub) == 1, 60):
        raise SystemExit("local sluice not serving")
    body = os.path.join(work, "predict.bin")
    with open(body, "wb") as f:
        f.write(protos.grpc_frame(request))
    for _ in range(args.rounds):
        for name, proc, p in (("mlflow", sluice, mlflow_port), ("local", local, local_port)):
            result = h2run.run(proc.pid, f"http://127.0.0.1:{p}/sluice.v1.Inference/Predict", body,
                               requests=args.requests, clients=4, streams=8)
            if result["failed"]:
                raise SystemExit(f"{name}: {result['failed']} failed requests")
            cpu[name].append(result["server_cpu_us_per_req"])


def report(args, moves, cpu):
    out = {
        "alias_move_s": {"median": statistics.median(moves), "max": max(moves), "all": moves},
        "cpu_us_per_predict": {k: {"median": statistics.median(v), "runs": v} for k, v in cpu.items() if v},
    }
    print("| measurement | value |\n|---|---|")
    print(f"| alias move → first Predict by the new version, median of {len(moves)} | {out['alias_move_s']['median']:.2f} s |")
    print(f"| alias move → first Predict by the new version, max of {len(moves)} | {out['alias_move_s']['max']:.2f} s |")
    for name in ("mlflow", "local") if cpu["mlflow"] else ():
        runs = ", ".join(f"{v:.1f}" for v in cpu[name])
        print(f"| server CPU per Predict, {name} source (median of {args.rounds}; runs {runs}) | "
              f"{out['cpu_us_per_predict'][name]['median']:.1f} µs |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
