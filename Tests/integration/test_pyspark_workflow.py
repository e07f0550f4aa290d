"""The PySpark workflow through the real binary: train in PySpark, convert to ONNX, log to a real MLflow server,
register, alias, gate @champion; serve the model and compare Predict with onnxruntime; score 100,000 rows on
Spark through BatchPredict over TLS with an API key and compare row for row; retries of UNAVAILABLE.

Real components, started here by PID on 127.0.0.1 and stopped by PID: one SparkSession in local mode
(`local[2]`, shared by the module), one `mlflow server` (SQLite backend, jobs off), `sluice serve` per test.
The client is the generated package in clients/python; the code under test is examples/pyspark.
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np
import pytest

from conftest import ROOT, sluice_bin

EXAMPLES = ROOT / "examples" / "pyspark"
CLIENT = ROOT / "clients" / "python"
for path in (EXAMPLES, CLIENT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import churn_data  # noqa: E402
import score_churn  # noqa: E402
import train_churn  # noqa: E402

TRAIN_ROWS = 4000
SCORE_ROWS = 100_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="sluice-pyspark-it-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def spark(workdir):
    """One local SparkSession for the module (the JVM starts once)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("sluice-pyspark-it")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "10000")
               .config("spark.driver.memory", "1g")
               .config("spark.local.dir", str(workdir / "spark-local"))
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


class MLflowServer:
    """`mlflow server` on loopback with a SQLite backend and jobs off, started and stopped by PID."""

    def __init__(self, directory: pathlib.Path):
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        self.log = open(directory / "mlflow-server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
             "--artifacts-destination", str(directory / "mlflow-artifacts")],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "mlflow server exited:\n" + (directory / "mlflow-server.log").read_text()
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise AssertionError("mlflow server did not answer /health within 120 s")

    def stop(self):
        if self.proc.poll() is None:
            # The server is the leader of its own session (uvicorn workers are its children): signal that group.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def mlflow_server(workdir):
    server = MLflowServer(workdir)
    import mlflow

    mlflow.set_tracking_uri(server.uri)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trained(spark, mlflow_server, workdir):
    """Both pipelines trained on small data; the random forest converted, logged, registered and gated."""
    df = spark.createDataFrame(churn_data.generate(TRAIN_ROWS, seed=churn_data.DEFAULT_SEED))
    train_df, test_df = df.randomSplit([0.8, 0.2], seed=7)
    train_df, test_df = train_df.cache(), test_df.cache()
    candidates = train_churn.train_and_evaluate(train_df, test_df, train_churn.pipelines(20, 6, seed=7, gbt=True))
    rf = next(c for c in candidates if c.name == "random_forest")
    onnx_model = train_churn.to_onnx(rf, spark)
    rf.metrics["onnx_max_abs_diff"] = train_churn.check_parity(rf, onnx_model, test_df)
    path = workdir / "churn-rf.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    # The reference profile of the training rows, built by the binary and logged beside the model.
    rows = train_churn.write_profile_rows(train_df, workdir / "train-rows.jsonl")
    profile = train_churn.build_profile(sluice_bin(), path, workdir / "train-rows.jsonl", workdir / "profile.json")
    train_churn.log_candidates(candidates, "churn-it", {"rows": TRAIN_ROWS})
    version = train_churn.log_and_register(rf, onnx_model, train_churn.input_example(test_df), "churn",
                                           profile_path=workdir / "profile.json")
    promoted = train_churn.gate_mlflow("churn", version, rf.metrics["auc_roc"], 0.85, stage_transition=True)
    return {"candidates": candidates, "rf": rf, "onnx": onnx_model, "onnx_path": path, "version": version,
            "promoted": promoted, "test_df": test_df, "train_rows": rows, "profile": profile}


def ort_reference(onnx_path, pdf):
    """onnxruntime's labels and class scores for a pandas frame of raw features."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["prediction", "probability"], train_churn.onnx_feeds(pdf))
    return labels.reshape(-1), probabilities


def test_train_log_register_alias_and_gate(trained, mlflow_server):
    from mlflow import MlflowClient

    rf = trained["rf"]
    for c in trained["candidates"]:
        assert c.metrics["auc_roc"] >= 0.85, f"{c.name}: held-out AUC {c.metrics['auc_roc']:.3f}"
        assert 0.5 < c.metrics["f1"] <= 1.0
    assert rf.metrics["onnx_max_abs_diff"] <= train_churn.PARITY_TOLERANCE
    client = MlflowClient(mlflow_server.uri)
    version = str(trained["version"])
    mv = client.get_model_version("churn", version)
    assert mv.run_id == rf.run_id
    assert client.get_model_version_by_alias("churn", "challenger").version == version
    assert trained["promoted"] and client.get_model_version_by_alias("churn", "champion").version == version
    assert mv.current_stage == "Production" and mv.tags["validation_status"] == "approved"
    run = client.get_run(rf.run_id)
    assert run.data.metrics["auc_roc"] == pytest.approx(rf.metrics["auc_roc"])
    assert "f1" in run.data.metrics and run.data.params["num_trees"] == "20"

    # The registered artifact is the exported ONNX, with a signature over the five input columns.
    import mlflow

    info = mlflow.models.get_model_info("models:/churn@champion")
    assert set(info.flavors) >= {"onnx", "python_function"}
    assert [c.name for c in info.signature.inputs.inputs] == list(churn_data.FEATURE_COLUMNS)
    loaded = mlflow.onnx.load_model("models:/churn@champion")
    assert loaded.SerializeToString() == trained["onnx"].SerializeToString()

    # The reference profile sits beside MLmodel in the model's artifact directory: the training rows' bins.
    location = client.get_logged_model(mv.source.split("/")[-1]).artifact_location
    profile = json.loads(pathlib.Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"{location}/profile.json", dst_path=str(tempfile.mkdtemp()))).read_text())
    assert profile == trained["profile"] and profile["rows"] == trained["train_rows"]
    assert [f["name"] for f in profile["features"]] == list(churn_data.FEATURE_COLUMNS)
    assert profile["prediction"]["kind"] == "binary"


def test_gbt_conversion_scores_like_onnxruntime(trained, spark, workdir):
    """Spark's GBTClassifier converts to Neg/Exp/Add/Reciprocal around the trees; the engine answers like
    onnxruntime (`sluice score` on 2,000 rows given as CSV) and onnxruntime like Spark (check_parity)."""
    import onnxruntime  # noqa: F401  (reference below)

    gbt = next(c for c in trained["candidates"] if c.name == "gbt")
    onnx_model = train_churn.to_onnx(gbt, spark)
    ops = {n.op_type for n in onnx_model.graph.node}
    assert {"Neg", "Reciprocal", "TreeEnsembleRegressor"} <= ops
    assert train_churn.check_parity(gbt, onnx_model, trained["test_df"]) <= train_churn.PARITY_TOLERANCE
    path = workdir / "churn-gbt.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    inspect = subprocess.run([sluice_bin(), "inspect", str(path)], capture_output=True, text=True, check=True).stdout
    assert "ai.onnx.Neg" in inspect and "ai.onnx.Reciprocal" in inspect
    pdf = churn_data.generate(2000, seed=31)
    pdf[list(churn_data.FEATURE_COLUMNS)].to_csv(workdir / "gbt-rows.csv", index=False)
    scored = subprocess.run([sluice_bin(), "score", "--model", str(path), "--input", str(workdir / "gbt-rows.csv"),
                             "--format", "tensors"],
                            capture_output=True, text=True, check=True).stdout
    outputs = {o["name"]: o["data"] for o in json.loads(scored)["outputs"]}
    labels, probabilities = ort_reference(path, pdf)
    assert [int(v) for v in np.array(outputs["prediction"]).reshape(-1)] == labels.tolist()
    np.testing.assert_allclose(np.array(outputs["probability"], dtype=np.float64), probabilities, atol=1e-5)


def test_gate_refuses_a_weak_model(trained, mlflow_server, workdir, capfd):
    """A one-split stump through the CLI entry point: logged, registered, @challenger, but @champion stays."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    champion = client.get_model_version_by_alias("churn", "champion").version
    code = train_churn.main(["--rows", "3000", "--weak", "--tracking-uri", mlflow_server.uri,
                             "--experiment", "churn-it", "--promote", "--stage-transition",
                             "--export-dir", str(workdir / "weak"), "--sluice-bin", sluice_bin()])
    out, err = capfd.readouterr()
    assert code == train_churn.EXIT_GATE_REFUSED, out + err
    summary = json.loads(next(line for line in out.splitlines() if line.startswith("TRAIN-SUMMARY "))[14:])
    weak = summary["mlflow"]["version"]
    assert summary["candidates"]["stump"]["auc_roc"] < 0.85 and summary["mlflow"]["champion"] is False
    assert "refused to move @champion" in err
    assert client.get_model_version_by_alias("churn", "champion").version == champion
    assert client.get_model_version_by_alias("churn", "challenger").version == str(weak)
    mv = client.get_model_version("churn", str(weak))
    assert mv.tags["validation_status"] == "rejected" and mv.current_stage != "Production"
    assert (workdir / "weak" / "churn.onnx").stat().st_size > 0
    assert summary["profile"]["rows"] == json.loads((workdir / "weak" / "profile.json").read_text())["rows"] > 2000


@pytest.fixture(scope="module")
def api_key(workdir):
    """A predictor key made with `sluice keys create`, its security configuration and the key file."""
    out = subprocess.run([sluice_bin(), "keys", "create", "--principal", "spark-job", "--role", "predictor"],
                         capture_output=True, text=True, check=True).stdout
    key = next(w for w in out.split() if w.startswith("slk_"))
    entry = json.loads(out[out.index("{"):out.rindex("}") + 1])
    (workdir / "security.json").write_text(json.dumps({"apiKeys": [entry]}))
    (workdir / "api-key").write_text(key + "\n")
    return key


@pytest.fixture
def served(trained, api_key, workdir, sluice_server):
    """The exported model in a local registry (`sluice models register`, @champion by the gate), served over TLS."""
    registry = workdir / f"registry-{time.monotonic_ns()}"
    result = train_churn.register_local(sluice_bin(), str(registry), "churn", str(trained["onnx_path"]),
                                        trained["rf"], 0.85, promote=True)
    assert result == {"registry": str(registry), "version": 1, "champion": True}

    def start(**kw):
        server = sluice_server("--models", registry, "--security-config", workdir / "security.json", tls=True, **kw)
        return server

    return start


def test_served_model_predicts_like_onnxruntime(served, trained, api_key, dev_certs):
    import sluice_client
    from sluice.v1 import inference_pb2 as pb

    server = served()
    stub = sluice_client.stub(sluice_client.connect(server.address, ca_file=str(dev_certs / "ca.pem"),
                                                    api_key=api_key))
    pdf = churn_data.generate(300, seed=99)
    labels, probabilities = ort_reference(trained["onnx_path"], pdf)
    for i, row in enumerate(pdf.itertuples(index=False)):
        features = {c: pb.FeatureValue(number=float(getattr(row, c))) for c in churn_data.NUMERIC_COLUMNS}
        features["contract_type"] = pb.FeatureValue(text=row.contract_type)
        reply = stub.Predict(pb.PredictRequest(model="churn", version="@champion", features=features), timeout=10)
        assert reply.version == 1 and reply.label_int == labels[i], i
        np.testing.assert_allclose(reply.scores, probabilities[i], atol=1e-5, err_msg=str(i))
    # The same rows in one columnar BatchPredict.
    req = pb.BatchPredictRequest(model="churn", version="models:/churn@champion", rows=len(pdf))
    for c in churn_data.NUMERIC_COLUMNS:
        req.columns.add(name=c, values=pdf[c].astype(np.float32).tolist())
    req.columns.add(name="contract_type", strings=pdf["contract_type"].tolist())
    reply = stub.BatchPredict(req, timeout=10)
    assert list(reply.labels_int) == labels.tolist()
    np.testing.assert_allclose(np.array(reply.scores).reshape(-1, 2), probabilities, atol=1e-5)


def score_args(workdir, name, port, **overrides):
    args = score_churn.parse_args(["--input", str(workdir / f"{name}.parquet"), "--output", str(workdir / f"{name}-out"),
                                   "--server", f"127.0.0.1:{port}", "--ca-file", str(ROOT / "certs/dev/ca.pem"),
                                   "--version", "@champion", "--api-key-file", str(workdir / "api-key")])
    for k, v in overrides.items():
        setattr(args, k, v)
    return args


def read_output(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas().sort_values("customer_id").reset_index(drop=True)


def test_spark_job_scores_100k_rows_like_onnxruntime(served, trained, spark, workdir, mlflow_server):
    pdf = churn_data.generate(SCORE_ROWS, seed=2024, first_id=10_000_000)
    pdf.drop(columns=[churn_data.LABEL_COLUMN]).to_parquet(workdir / "bulk.parquet", index=False)
    server = served()
    summary = score_churn.run(spark, score_args(workdir, "bulk", server.port, tracking_uri=mlflow_server.uri))
    assert summary["rows_in"] == summary["rows_out"] == SCORE_ROWS
    assert summary["model_versions"] == [1] and summary["retries"] == 0
    assert summary["chunks"] >= SCORE_ROWS // score_churn.MAX_CHUNK_ROWS

    out = read_output(workdir / "bulk-out")
    assert len(out) == SCORE_ROWS and out["customer_id"].is_unique
    assert (out["customer_id"].to_numpy() == pdf["customer_id"].to_numpy()).all()
    labels, probabilities = ort_reference(trained["onnx_path"], pdf)
    assert (out["label"].to_numpy() == labels).all()
    np.testing.assert_allclose(out["probability"].to_numpy(), probabilities[:, 1], atol=1e-5)
    np.testing.assert_allclose(out["confidence"].to_numpy(), probabilities.max(axis=1), atol=1e-5)
    expected_risk = np.where(labels == 1, np.where(out["confidence"].to_numpy() > 0.8, "high_risk", "medium_risk"),
                             "low_risk")
    assert (out["risk_category"].astype(str).to_numpy() == expected_risk).all()
    for category in score_churn.RISK_CATEGORIES:
        assert summary[category] == int((expected_risk == category).sum()) > 0
    assert (out["model_version"] == 1).all()
    # Every chunk is one BatchPredict of at most 10,000 rows, named by its batch id.
    assert out.groupby("batch_id").size().max() <= score_churn.MAX_CHUNK_ROWS
    assert out["batch_id"].nunique() == summary["chunks"]

    from mlflow import MlflowClient

    run = MlflowClient(mlflow_server.uri).get_run(summary["mlflow_run_id"])
    assert run.data.metrics["rows_out"] == SCORE_ROWS and run.data.tags["model_version"] == "1"
    assert run.data.metrics["high_risk"] == summary["high_risk"]


def test_driver_input_totals_equal_the_spark_aggregation(spark, workdir):
    """The input totals read on the driver (id column, numpy xxhash64) are Spark's own count and id checksum."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    rng = np.random.default_rng(7)
    ids = np.concatenate([np.array([0, 1, -1, 42, 2**63 - 1, -2**63], dtype=np.int64),
                          rng.integers(-2**63, 2**63 - 1, 20_000, dtype=np.int64)])
    path = workdir / "totals.parquet"
    pq.write_table(pa.table({"customer_id": ids, "age": np.ones(len(ids))}), path, row_group_size=7_000)
    expected = spark.read.parquet(str(path)).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.xxhash64(F.col("customer_id").cast("long")).cast("decimal(38,0)")).alias("ids")).first()
    totals = score_churn.local_input_totals(str(path), "customer_id")
    assert totals == {"rows": len(ids), "ids": int(expected["ids"])}
    # Not a local integer id column: the job falls back to the Spark aggregation.
    assert score_churn.local_input_totals(str(path), "age") is None
    assert score_churn.local_input_totals("s3a://bucket/in.parquet", "customer_id") is None


def test_driver_output_totals_equal_the_spark_aggregation(spark, workdir):
    """The read-back totals read on the driver from a partitioned output are Spark's own per-category counts,
    id checksum and model versions over the same files."""
    import pandas as pd
    from pyspark.sql import functions as F

    rng = np.random.default_rng(11)
    n = 12_000
    ids = np.concatenate([np.array([0, -1, 2**63 - 1, -2**63], dtype=np.int64),
                          rng.integers(-2**63, 2**63 - 1, n - 4, dtype=np.int64)])
    pdf = pd.DataFrame({"customer_id": ids, "label": rng.integers(0, 2, n), "model_version": rng.integers(3, 5, n),
                        "batch_id": "b", "risk_category": rng.choice(list(score_churn.RISK_CATEGORIES), n)})
    out = workdir / "totals-out"
    spark.createDataFrame(pdf).repartition(3).write.mode("overwrite").partitionBy("risk_category").parquet(str(out))
    groups = (spark.read.parquet(str(out)).groupBy("risk_category")
              .agg(F.count(F.lit(1)).alias("rows"),
                   F.sum(F.xxhash64(F.col("customer_id").cast("long")).cast("decimal(38,0)")).alias("ids"))
              .collect())
    totals = score_churn.local_output_totals(str(out), "customer_id")
    assert totals == {"per_category": {g["risk_category"]: g["rows"] for g in groups},
                      "ids": sum(int(g["ids"]) for g in groups), "versions": [3, 4]}
    # Not local, or no such id column: the job falls back to the Spark aggregation.
    assert score_churn.local_output_totals("s3a://bucket/out", "customer_id") is None
    assert score_churn.local_output_totals(str(out), "row_id") is None


def test_spark_job_retries_unavailable_until_the_server_is_up(served, spark, workdir):
    """The server is not up when the job calls: the first calls fail UNAVAILABLE, are retried, no row is lost."""
    churn_data.generate(3000, seed=5).to_parquet(workdir / "late.parquet", index=False)
    # A listener that takes the job's first connection and closes it (the call fails UNAVAILABLE), then frees
    # the port; the server starts on it 1 s later, while the job backs off and retries.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    holder.settimeout(240)
    port = holder.getsockname()[1]
    started = []

    def start_late():
        try:
            conn, _ = holder.accept()
            conn.close()
        finally:
            holder.close()
        time.sleep(1.0)
        started.append(served(listen=f"127.0.0.1:{port}"))

    timer = threading.Thread(target=start_late, daemon=True)
    timer.start()
    try:
        summary = score_churn.run(spark, score_args(workdir, "late", port, backoff_initial=0.3, max_retries=12,
                                                    chunk_rows=1000))
    finally:
        timer.join()
    assert started and summary["retries"] > 0
    assert summary["rows_in"] == summary["rows_out"] == 3000
    out = read_output(workdir / "late-out")
    assert out["customer_id"].tolist() == list(range(3000))


def test_spark_job_fails_fast_on_a_bad_key(served, spark, workdir):
    """UNAUTHENTICATED is not retried: the job fails with the server's status and writes nothing."""
    churn_data.generate(50, seed=6).to_parquet(workdir / "badkey.parquet", index=False)
    server = served()
    (workdir / "bad-key").write_text("slk_not-a-key\n")
    args = score_args(workdir, "badkey", server.port, api_key_file=str(workdir / "bad-key"))
    started = time.monotonic()
    with pytest.raises(Exception) as failure:
        score_churn.run(spark, args)
    assert "UNAUTHENTICATED" in str(failure.value) and time.monotonic() - started < 60
    assert not (workdir / "badkey-out" / "_SUCCESS").exists()


def wait_for_version(stub, pb, model, selector, version, timeout=90.0):
    """Polls GetModelVersion until `selector` resolves to `version` in state READY (the source loads in the
    background); returns the ModelVersion message."""
    import grpc

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            reply = stub.GetModelVersion(pb.GetModelVersionRequest(model=model, version=selector), timeout=5)
            last = reply.versions[0] if reply.versions else None
            if last is not None and last.version == version and last.state == pb.READY:
                return last
        except grpc.RpcError as error:
            last = f"{error.code().name}: {error.details()}"
        time.sleep(0.25)
    raise AssertionError(f"{model} {selector} did not become version {version} READY within {timeout} s: {last}")


def test_sluice_serving_from_mlflow_answers_like_onnxruntime(trained, mlflow_server, api_key, spark, workdir,
                                                              sluice_server, dev_certs):
    """Train in PySpark -> mlflow.onnx.log_model -> register -> @champion (the gate) -> `sluice serve --models
    mlflow+http://...` picks it up -> Predict equals onnxruntime on the exported model; the Spark job scores
    through the same server and records the MLflow version it got."""
    import sluice_client
    from sluice.v1 import inference_pb2 as pb

    server = sluice_server("--models", f"mlflow+{mlflow_server.uri}", "--cache-dir", workdir / "mlflow-cache",
                           "--security-config", workdir / "security.json", tls=True)
    stub = sluice_client.stub(sluice_client.connect(server.address, ca_file=str(dev_certs / "ca.pem"),
                                                    api_key=api_key))
    rf, version = trained["rf"], trained["version"]
    mv = wait_for_version(stub, pb, "churn", "@champion", version)
    assert mv.run_id == rf.run_id and mv.metrics["auc_roc"] == pytest.approx(rf.metrics["auc_roc"])
    assert "champion" in mv.aliases and mv.stage == "Production"

    pdf = churn_data.generate(200, seed=77)
    labels, probabilities = ort_reference(trained["onnx_path"], pdf)
    for i, row in enumerate(pdf.itertuples(index=False)):
        features = {c: pb.FeatureValue(number=float(getattr(row, c))) for c in churn_data.NUMERIC_COLUMNS}
        features["contract_type"] = pb.FeatureValue(text=row.contract_type)
        reply = stub.Predict(pb.PredictRequest(version="models:/churn@champion", features=features), timeout=10)
        assert reply.version == version and reply.label_int == labels[i], i
        np.testing.assert_allclose(reply.scores, probabilities[i], atol=1e-5, err_msg=str(i))

    bulk = churn_data.generate(10_000, seed=78)
    bulk.to_parquet(workdir / "from-mlflow.parquet", index=False)
    summary = score_churn.run(spark, score_args(workdir, "from-mlflow", server.port))
    assert summary["rows_out"] == 10_000 and summary["model_versions"] == [version]
    out = read_output(workdir / "from-mlflow-out")
    labels, probabilities = ort_reference(trained["onnx_path"], bulk)
    assert (out["label"].to_numpy() == labels).all()
    np.testing.assert_allclose(out["probability"].to_numpy(), probabilities[:, 1], atol=1e-5)


def test_client_package_installs_with_pip(tmp_path):
    """`pip install clients/python` gives one importable package: the generated stubs and the helpers."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(CLIENT)],
                   check=True, timeout=300)
    code = ("import sluice_client, sluice.v1.inference_pb2 as pb, sluice.v1.inference_pb2_grpc as rpc;"
            "assert sluice_client.__file__.startswith(%r);"
            "assert pb.ModelVersion.DESCRIPTOR.fields_by_name['run_id'].number == 15;"
            "assert rpc.InferenceStub" % str(target))
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=str(target)), cwd=tmp_path)
    for leftover in ("build", "sluice_client.egg-info"):
        shutil.rmtree(CLIENT / leftover, ignore_errors=True)


def test_drift_monitoring_from_the_mlflow_profile(trained, mlflow_server, workdir, sluice_server):
    """`sluice serve --models mlflow+http://...` reads the version's profile.json artifact (logged by the training
    job) and caches it with the model; monitoring settings come from the config file. Held-out rows of the
    training distribution stay OK; the same rows with income x 1.5 flag income, and only income, as DRIFT; a
    restart keeps the reference and the window (from the cache's saved window)."""
    import sluice_client
    from sluice.v1 import inference_pb2 as pb

    cache = workdir / "monitor-cache"
    config = workdir / "monitor-serve.json"
    config.write_text(json.dumps({
        "models": f"mlflow+{mlflow_server.uri}", "cacheDir": str(cache), "plaintext": True, "insecureNoAuth": True,
        "monitorWindowRequests": 1000, "monitorMinRequests": 200, "monitorIntervalSeconds": 0.2,
        "monitorBatchStride": 1, "monitorPsiWarn": 0.12, "monitorPsiDrift": 0.3, "monitorSnapshotSeconds": 1}))
    server = sluice_server("--config", config)
    stub = sluice_client.stub(sluice_client.connect(server.address, insecure=True))
    version = trained["version"]
    wait_for_version(stub, pb, "churn", str(version), version)

    def report():
        reply = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version=str(version)), timeout=10)
        return reply.versions[0].monitoring

    def until(check, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = report()
            if check(current):
                return current
            time.sleep(0.1)
        raise AssertionError(f"{what}: {current}")

    def send(pdf):
        request = pb.BatchPredictRequest(model="churn", version=str(version))
        for c in churn_data.NUMERIC_COLUMNS:
            request.columns.add(name=c, values=[float(v) for v in pdf[c]])
        request.columns.add(name="contract_type", strings=[str(v) for v in pdf["contract_type"]])
        assert stub.BatchPredict(request, timeout=30).rows == len(pdf)

    first = report()
    assert first.profiled and first.reference_rows == trained["train_rows"]
    assert first.psi_warn == pytest.approx(0.12) and first.psi_drift == pytest.approx(0.3)
    assert first.window_limit_requests == 1000
    assert (cache / "artifacts" / "churn" / f"{version}.profile.json").exists()

    held_out = churn_data.generate(1000, seed=4242)
    send(held_out)
    same = until(lambda r: r.window_requests == 1000 and r.computed_unix_ms > 0, "window never held 1000 requests")
    assert same.verdict == pb.DRIFT_OK, same
    assert {f.name for f in same.features} == set(churn_data.FEATURE_COLUMNS)

    shifted = held_out.copy()
    shifted["income"] = shifted["income"] * 1.5
    send(shifted)
    drift = until(lambda r: {f.name: f.verdict for f in r.features}.get("income") == pb.DRIFT_DRIFT,
                  "income never reached DRIFT")
    verdicts = {f.name: f.verdict for f in drift.features}
    assert verdicts == {"income": pb.DRIFT_DRIFT, "age": pb.DRIFT_OK, "tenure_months": pb.DRIFT_OK,
                        "credit_score": pb.DRIFT_OK, "contract_type": pb.DRIFT_OK}, drift
    assert drift.verdict == pb.DRIFT_DRIFT and drift.window_requests == 1000
    # `sluice models drift` reads the reports the server writes under its MLflow cache directory.
    deadline = time.monotonic() + 30
    while True:
        table = subprocess.run([sluice_bin(), "models", "drift", "churn", "--version", str(version), "--registry",
                                str(cache)], capture_output=True, text=True).stdout
        if f"churn version {version}: DRIFT" in table or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert f"churn version {version}: DRIFT" in table, table

    # Restart: the profile comes from the cache with the model, the window from its snapshot at shutdown.
    assert server.stop() == 0
    assert (cache / ".monitoring" / "churn" / f"{version}.window.json").exists()
    again = sluice_server("--config", config)
    stub = sluice_client.stub(sluice_client.connect(again.address, insecure=True))
    wait_for_version(stub, pb, "churn", str(version), version)
    kept = until(lambda r: r.computed_unix_ms > 0, "no statistics after the restart")
    assert kept.profiled and kept.window_requests == 1000, kept
    assert {f.name: f.verdict for f in kept.features}["income"] == pb.DRIFT_DRIFT
    assert any(f"churn version {version}: restored the saved window" in line for line in again.lines), again.lines
