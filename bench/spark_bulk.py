"""Spark bulk scoring: Sluice BatchPredict (examples/pyspark/score_churn.py) vs the PySpark pipeline's own
`model.transform`, on the same rows read from Parquet and written to Parquet, `local[2]`, wall time of the whole
job (each one its own `spark-submit`, JVM start included).

    .venv/bin/python bench/spark_bulk.py [--rows 1000000] [--rounds 1] [--workdir /tmp/sluice-spark-bench]

Setup (not timed): synthetic churn rows (examples/pyspark/churn_data.py, seed 4242) to Parquet; the random-forest
pipeline of train_churn.py (100 trees, depth 10, like the bundled model) trained on 20,000 rows, saved as a Spark
PipelineModel and as ONNX; the ONNX registered in a local registry (@champion) and served by
`.build/release/sluice` over TLS with an API key (certs/dev).

Timed, alternating per round:
- transform: read Parquet -> PipelineModel.transform -> label, probability of churn, confidence, risk category
  -> write Parquet partitioned by risk category (bench/spark_transform_job.py);
- sluice: score_churn.py with the same input and output shape (BatchPredict per partition, chunks of 10,000,
  over TLS with the key; its read-back count and id-checksum checks included).
Also reported: the server's CPU seconds during the Sluice job. With `--floor`, each round also times
bench/spark_floor_job.py: the Sluice job with the BatchPredict call replaced by a constant answer, i.e. the
least any scorer can cost in this job's shape. Results go to bench/results/spark_bulk.json.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "pyspark"))
sys.path.insert(0, str(ROOT / "clients" / "python"))


def spark_submit(args, env):
    venv_bin = pathlib.Path(sys.executable).parent
    cmd = [str(venv_bin / "spark-submit"), "--master", "local[2]", "--driver-memory", "2g",
           "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false", *args]
    env = dict(env, PATH=f"{venv_bin}:{env.get('PATH', '')}", PYSPARK_PYTHON=sys.executable)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stdout


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup(work: pathlib.Path, rows: int):
    """Input Parquet, trained pipeline (Spark + ONNX), registry, key; returns paths."""
    import churn_data
    import train_churn

    data = work / "input.parquet"
    if not data.exists():
        churn_data.generate(rows, seed=4242).drop(columns=["churn"]).to_parquet(data, index=False,
                                                                                row_group_size=100_000)
    model_dir, onnx_path = work / "spark_model", work / "churn.onnx"
    if not onnx_path.exists():
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "2").getOrCreate())
        df = spark.createDataFrame(churn_data.generate(20_000, seed=churn_data.DEFAULT_SEED))
        train, test = df.randomSplit([0.8, 0.2], seed=1)
        pipeline, params = train_churn.pipelines(100, 10, seed=42)["random_forest"]
        model = pipeline.fit(train)
        model.write().overwrite().save(str(model_dir))
        candidate = train_churn.Candidate("random_forest", model, params)
        onnx_model = train_churn.to_onnx(candidate, spark)
        train_churn.check_parity(candidate, onnx_model, test)
        onnx_path.write_bytes(onnx_model.SerializeToString())
        spark.stop()
    registry = work / "registry"
    sluice = str(ROOT / ".build" / "release" / "sluice")
    if not registry.exists():
        subprocess.run([sluice, "models", "register", "--registry", str(registry), "--name", "churn", "--file",
                        str(onnx_path), "--alias", "champion"], check=True, capture_output=True)
    out = subprocess.run([sluice, "keys", "create", "--principal", "bench", "--role", "predictor"],
                         check=True, capture_output=True, text=True).stdout
    key = next(w for w in out.split() if w.startswith("slk_"))
    (work / "api-key").write_text(key)
    (work / "security.json").write_text(json.dumps({"apiKeys": [json.loads(out[out.index("{"):out.rindex("}") + 1])]}))
    return data, model_dir, registry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--floor", action="store_true",
                        help="also time bench/spark_floor_job.py (the Sluice job with a constant scorer)")
    parser.add_argument("--workdir", default=str(pathlib.Path(tempfile.gettempdir()) / "sluice-spark-bench"))
    args = parser.parse_args()
    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(ROOT / "certs" / "generate")], check=True, stdout=subprocess.DEVNULL)
    data, model_dir, registry = setup(work, args.rows)

    certs = ROOT / "certs" / "dev"
    server = subprocess.Popen([str(ROOT / ".build" / "release" / "sluice"), "serve", "--models", str(registry),
                               "--listen", "127.0.0.1:0", "--tls-cert", str(certs / "server.pem"),
                               "--tls-key", str(certs / "server-key.pem"),
                               "--security-config", str(work / "security.json")],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    port = None
    for line in server.stderr:
        if "serving gRPC on" in line:
            port = int(line.split(" over ")[0].rsplit(":", 1)[1])
            break
    assert port, "sluice did not start"
    env = dict(os.environ, SLUICE_API_KEY_FILE=str(work / "api-key"))
    results = {"rows": args.rows, "transform_s": [], "sluice_s": [], "server_cpu_s": [], "floor_s": []}
    try:
        time.sleep(1.0)
        for r in range(args.rounds):
            wall, _ = spark_submit([str(ROOT / "bench" / "spark_transform_job.py"), "--model", str(model_dir),
                                    "--input", str(data), "--output", str(work / "out-transform")], env)
            results["transform_s"].append(round(wall, 2))
            cpu0 = cpu_seconds(server.pid)
            wall, out = spark_submit([str(ROOT / "examples" / "pyspark" / "score_churn.py"), "--input", str(data),
                                      "--output", str(work / "out-sluice"), "--server", f"127.0.0.1:{port}",
                                      "--ca-file", str(certs / "ca.pem"), "--version", "@champion"], env)
            results["server_cpu_s"].append(round(cpu_seconds(server.pid) - cpu0, 2))
            results["sluice_s"].append(round(wall, 2))
            summary = json.loads(next(l for l in out.splitlines() if l.startswith("SCORE-SUMMARY "))[14:])
            assert summary["rows_out"] == args.rows
            floor = ""
            if args.floor:
                wall_floor, _ = spark_submit([str(ROOT / "bench" / "spark_floor_job.py"), "--input", str(data),
                                              "--output", str(work / "out-floor"), "--server", "unused:0"], env)
                results["floor_s"].append(round(wall_floor, 2))
                floor = f", floor (constant scorer) {wall_floor:.1f} s"
            print(f"round {r + 1}: transform {results['transform_s'][-1]:.1f} s, sluice {wall:.1f} s "
                  f"(server CPU {results['server_cpu_s'][-1]:.2f} s){floor}", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    t, s = statistics.median(results["transform_s"]), statistics.median(results["sluice_s"])
    results["speedup"] = round(t / s, 2)
    print(f"median: transform {t:.1f} s, sluice {s:.1f} s, speed-up {t / s:.2f}x")
    if results["floor_s"]:
        f = statistics.median(results["floor_s"])
        results["floor_speedup"] = round(t / f, 2)
        print(f"median floor (constant scorer) {f:.1f} s: transform / floor {t / f:.2f}x, "
              f"Sluice job - floor {s - f:+.1f} s")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "spark_bulk.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
