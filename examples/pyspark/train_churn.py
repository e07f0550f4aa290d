"""Train the churn models in PySpark, convert them to ONNX, log them to MLflow and gate the @champion alias.

    spark-submit examples/pyspark/train_churn.py --rows 100000 \\
        --tracking-uri http://127.0.0.1:5000 --model-name churn --promote

Steps (each is a function below, so tests and notebooks can call them one by one):

1. Data: a Parquet file (`--data`) or the synthetic generator of `churn_data.py` (`--rows`, `--seed`).
2. Two pipelines on the same features: StringIndexer + OneHotEncoder on `contract_type`, then VectorAssembler ->
   StandardScaler -> RandomForestClassifier, and the same with LogisticRegression (`--with-gbt`: also
   GBTClassifier).
3. Held-out evaluation (`--test-fraction`): AUC-ROC and F1 of the churn class.
4. The better pipeline by AUC (or the one `--register` names) is converted with onnxmltools (`convert_sparkml`), one ONNX input per column,
   and checked against Spark's own predictions on held-out rows (the conversion must agree before anything is
   registered).
5. Reference profile (for Sluice's drift monitoring): the training rows' features are written as JSON Lines and
   `sluice models profile --model-file churn.onnx --data rows.jsonl --output profile.json` builds the profile
   (quantile bins, category frequencies, the model's own score distribution; `--sluice-bin`, `--no-profile`).
6. MLflow (`--tracking-uri`): one run per pipeline (params, metrics); the best one's ONNX logged with
   `mlflow.onnx.log_model` (signature, input example), `profile.json` logged beside it in the same model
   artifact directory (`MlflowClient.log_model_artifact`), then registered as a new version of `--model-name` (so
   a server never sees the version without its profile) and aliased `@challenger`.
7. The validation gate (`--promote`): `@champion` moves to the new version (and, with `--stage-transition`, it
   is transitioned to Production) only when its held-out AUC is at least `--auc-threshold` (default 0.85);
   otherwise the version is tagged `validation_status=rejected`, `@champion` stays where it is and the job
   exits with status 3.
8. Without MLflow: `--export-dir DIR` writes `churn.onnx`, `metrics.json` and `profile.json`; `--sluice-registry
   DIR` registers the ONNX in a Sluice registry directory with `sluice models register` (alias `challenger`, its
   profile beside it) and applies the same gate to its `champion` alias.

The summary is printed as one JSON line starting with `TRAIN-SUMMARY `.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import churn_data  # noqa: E402

#: The gate's default: a version whose held-out AUC-ROC is below this never becomes @champion.
DEFAULT_AUC_THRESHOLD = 0.85
#: Largest difference allowed between Spark's and onnxruntime's churn probability on held-out rows.
PARITY_TOLERANCE = 1e-4
#: Exit status of the job when the gate refuses to promote.
EXIT_GATE_REFUSED = 3


@dataclass
class Candidate:
    """One trained pipeline and its held-out evaluation."""

    name: str
    model: object
    params: Dict[str, object]
    metrics: Dict[str, float] = field(default_factory=dict)
    run_id: Optional[str] = None


def spark_session(app_name: str = "churn-train"):
    """The session spark-submit configured (or a local one), with Arrow transfers on."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.appName(app_name)
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    return spark


def load_data(spark, data: Optional[str], rows: int, seed: int):
    """The training frame: the Parquet file `data`, or `rows` synthetic customers drawn with `seed`."""
    if data:
        return spark.read.parquet(data)
    return spark.createDataFrame(churn_data.generate(rows, seed))


def pipelines(rf_trees: int, rf_depth: int, seed: int, stump: bool = False, gbt: bool = False):
    """The unfitted pipelines by name: `random_forest` and `logistic_regression` (or one weak `stump`), plus
    `gbt` (GBTClassifier, 20 rounds of depth-4 trees) when asked.

    The categorical column is indexed with handleInvalid="error" and one-hot encoded without dropping a level:
    that is one of the two OneHotEncoder settings onnxmltools converts, and it leaves no constant column for the
    scaler (a zero standard deviation would become an infinite ONNX scale).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    def prefix():
        return [
            StringIndexer(inputCol="contract_type", outputCol="contract_index", handleInvalid="error",
                          stringOrderType="alphabetAsc"),
            OneHotEncoder(inputCols=["contract_index"], outputCols=["contract_vector"], handleInvalid="error",
                          dropLast=False),
            VectorAssembler(inputCols=list(churn_data.NUMERIC_COLUMNS) + ["contract_vector"],
                            outputCol="features_raw"),
            StandardScaler(inputCol="features_raw", outputCol="features", withMean=True, withStd=True),
        ]

    label = churn_data.LABEL_COLUMN
    if stump:
        rf = RandomForestClassifier(labelCol=label, numTrees=1, maxDepth=1, seed=seed, subsamplingRate=1.0,
                                    featureSubsetStrategy="all", bootstrap=False)
        return {"stump": (Pipeline(stages=prefix() + [rf]), {"algorithm": "random_forest", "num_trees": 1,
                                                             "max_depth": 1, "seed": seed})}
    rf = RandomForestClassifier(labelCol=label, numTrees=rf_trees, maxDepth=rf_depth, seed=seed)
    lr = LogisticRegression(labelCol=label, maxIter=100, regParam=0.001)
    specs = {
        "random_forest": (Pipeline(stages=prefix() + [rf]),
                          {"algorithm": "random_forest", "num_trees": rf_trees, "max_depth": rf_depth, "seed": seed}),
        "logistic_regression": (Pipeline(stages=prefix() + [lr]),
                                {"algorithm": "logistic_regression", "max_iter": 100, "reg_param": 0.001}),
    }
    if gbt:
        specs["gbt"] = (Pipeline(stages=prefix() + [GBTClassifier(labelCol=label, maxIter=20, maxDepth=4, seed=seed)]),
                        {"algorithm": "gbt", "max_iter": 20, "max_depth": 4, "seed": seed})
    return specs


def train_and_evaluate(train_df, test_df, specs) -> List[Candidate]:
    """Fits each pipeline on `train_df` and evaluates it on `test_df`: AUC-ROC and F1 of the churn class."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator

    label = churn_data.LABEL_COLUMN
    auc = BinaryClassificationEvaluator(labelCol=label, rawPredictionCol="probability", metricName="areaUnderROC")
    f1 = MulticlassClassificationEvaluator(labelCol=label, metricName="fMeasureByLabel", metricLabel=1.0)
    out = []
    for name, (pipeline, params) in specs.items():
        model = pipeline.fit(train_df)
        scored = model.transform(test_df).cache()
        metrics = {"auc_roc": float(auc.evaluate(scored)), "f1": float(f1.evaluate(scored)),
                   "train_rows": float(train_df.count()), "test_rows": float(scored.count())}
        scored.unpersist()
        out.append(Candidate(name, model, params, metrics))
    return out


def onnx_input_types():
    """One ONNX input per column: float [N,1] for the numbers, string [N,1] for the contract type."""
    from onnxmltools.convert.common.data_types import FloatTensorType, StringTensorType

    return ([(c, FloatTensorType([None, 1])) for c in churn_data.NUMERIC_COLUMNS]
            + [(c, StringTensorType([None, 1])) for c in churn_data.CATEGORICAL_COLUMNS])


def normalize_onnx(model):
    """Two fixes to what `convert_sparkml` emits, both semantics-preserving:

    - it stamps some nodes (Reshape) with the domain "ai.onnx" and imports the default domain twice ("" and
      "ai.onnx", at different opsets). Both names mean the same domain; the nodes are moved to "" and one
      import is kept, at the higher opset (every op the converter emits is unchanged between the two).
    - a StandardScaler column with zero standard deviation becomes an infinite `scale`; Spark outputs 0 for such
      a column, so the scale becomes 0.
    """
    default_versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    keep = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    if default_versions:
        entry = model.opset_import.add()
        entry.domain = ""
        entry.version = max(default_versions)
    for node in model.graph.node:
        if node.domain == "ai.onnx":
            node.domain = ""
        if node.op_type == "Scaler":
            for attr in node.attribute:
                if attr.name == "scale":
                    fixed = [v if math.isfinite(v) else 0.0 for v in attr.floats]
                    del attr.floats[:]
                    attr.floats.extend(fixed)
    return model


def to_onnx(candidate: Candidate, spark):
    """The fitted pipeline as an ONNX model (inputs by column, outputs `prediction` and `probability`)."""
    from onnxmltools import convert_sparkml

    model = convert_sparkml(candidate.model, "churn_" + candidate.name, onnx_input_types(), spark_session=spark,
                            target_opset=15)
    return normalize_onnx(model)


def onnx_feeds(pdf) -> Dict[str, np.ndarray]:
    """onnxruntime inputs for a pandas frame of raw features (one [N,1] tensor per column)."""
    feeds = {c: pdf[c].to_numpy(dtype=np.float32).reshape(-1, 1) for c in churn_data.NUMERIC_COLUMNS}
    for c in churn_data.CATEGORICAL_COLUMNS:
        feeds[c] = pdf[c].to_numpy(dtype=object).reshape(-1, 1)
    return feeds


def check_parity(candidate: Candidate, onnx_model, test_df, limit: int = 5000) -> float:
    """Largest |Spark - onnxruntime| churn probability on up to `limit` held-out rows; labels must be equal.

    Raises RuntimeError when the conversion disagrees (nothing is then registered).
    """
    import onnxruntime as ort

    columns = list(churn_data.FEATURE_COLUMNS)
    rows = candidate.model.transform(test_df.limit(limit)).select(*columns, "prediction", "probability")
    pdf = rows.toPandas()
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["prediction", "probability"], onnx_feeds(pdf))
    spark_p1 = np.array([v[1] for v in pdf["probability"]])
    diff = float(np.max(np.abs(spark_p1 - probabilities[:, 1]))) if len(pdf) else 0.0
    mismatched = int(np.sum(labels.reshape(-1) != pdf["prediction"].to_numpy().astype(np.int64)))
    # A label may differ only where the probability sits on the 0.5 boundary within float32 rounding.
    near_boundary = int(np.sum(np.abs(spark_p1 - 0.5) < PARITY_TOLERANCE))
    if not math.isfinite(diff) or diff > PARITY_TOLERANCE or mismatched > near_boundary:
        raise RuntimeError(f"ONNX conversion of {candidate.name} disagrees with Spark: max |dp| = {diff:.3g}, "
                           f"{mismatched} labels differ over {len(pdf)} held-out rows")
    return diff


def input_example(test_df, rows: int = 5):
    """A few raw feature rows as a pandas frame with the ONNX input types (float32 numbers, string category)."""
    pdf = test_df.select(*churn_data.FEATURE_COLUMNS).limit(rows).toPandas()
    for c in churn_data.NUMERIC_COLUMNS:
        pdf[c] = pdf[c].astype(np.float32)
    return pdf


def log_candidates(candidates: List[Candidate], experiment: str, data_params: Dict[str, object]):
    """One MLflow run per candidate with its params and held-out metrics; sets `run_id` on each."""
    import mlflow

    mlflow.set_experiment(experiment)
    for c in candidates:
        with mlflow.start_run(run_name=c.name) as run:
            mlflow.log_params({**data_params, **c.params})
            mlflow.log_metrics(c.metrics)
            c.run_id = run.info.run_id


def write_profile_rows(train_df, path) -> int:
    """The training rows' feature columns as JSON Lines (what `sluice models profile --data` reads); returns the
    row count. Numbers stay numbers, the category a string, a missing value null."""
    pdf = train_df.select(*churn_data.FEATURE_COLUMNS).toPandas()
    pdf.to_json(path, orient="records", lines=True)
    return len(pdf)


def build_profile(sluice_bin: str, onnx_path, rows_path, profile_path) -> Dict[str, object]:
    """Runs `sluice models profile --model-file` on the exported training rows: the reference profile the server
    compares live traffic with (the same file `sluice models register --profile-data` stores). Returns it."""
    done = subprocess.run([sluice_bin, "models", "profile", "--model-file", str(onnx_path), "--data", str(rows_path),
                           "--output", str(profile_path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sluice models profile failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(pathlib.Path(profile_path).read_text())


def log_and_register(best: Candidate, onnx_model, example_pdf, model_name: str, alias: str = "challenger",
                     profile_path=None) -> int:
    """Logs the ONNX model into the best candidate's run (with `profile_path` as `profile.json` beside it),
    registers it, points `alias` at it; returns the version."""
    import mlflow
    import onnxruntime as ort
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["prediction", "probability"], onnx_feeds(example_pdf))
    signature = infer_signature(example_pdf, {"prediction": labels, "probability": probabilities})
    client = MlflowClient()
    with mlflow.start_run(run_id=best.run_id):
        # One self-contained model.onnx (no external-data side files): what a server downloads and loads.
        info = mlflow.onnx.log_model(onnx_model, name="model", signature=signature, input_example=example_pdf,
                                     save_as_external_data=False)
    if profile_path is not None:
        # Beside MLmodel and model.onnx in the model's artifact directory, where the server looks for it.
        client.log_model_artifact(info.model_id, str(profile_path))
    # Registered only now, so that a server polling MLflow never loads the version before its profile is there.
    version = int(mlflow.register_model(info.model_uri, model_name).version)
    client.set_model_version_tag(model_name, str(version), "auc_roc", f"{best.metrics['auc_roc']:.6f}")
    client.set_model_version_tag(model_name, str(version), "source_run", best.run_id)
    client.set_registered_model_alias(model_name, alias, str(version))
    return version


def gate_mlflow(model_name: str, version: int, auc: float, threshold: float, stage_transition: bool) -> bool:
    """Moves `@champion` to `version` (and Production, if asked) only when `auc >= threshold`; True if moved."""
    from mlflow import MlflowClient

    client = MlflowClient()
    if not auc >= threshold:
        client.set_model_version_tag(model_name, str(version), "validation_status", "rejected")
        return False
    client.set_model_version_tag(model_name, str(version), "validation_status", "approved")
    client.set_registered_model_alias(model_name, "champion", str(version))
    if stage_transition:
        client.transition_model_version_stage(model_name, str(version), "Production", archive_existing_versions=True)
    return True


def register_local(sluice_bin: str, registry: str, model_name: str, onnx_path: str, best: Candidate,
                   threshold: float, promote: bool, profile_rows=None) -> Dict[str, object]:
    """Registers the ONNX in a Sluice registry directory (alias `challenger`, profiled from `profile_rows` when
    given) and applies the gate to `champion`."""
    metrics = [arg for k in ("auc_roc", "f1") for arg in ("--metric", f"{k}={best.metrics[k]:.6f}")]
    profile = ["--profile-data", str(profile_rows)] if profile_rows else []
    out = subprocess.run([sluice_bin, "models", "register", "--registry", registry, "--name", model_name,
                          "--file", onnx_path, "--alias", "challenger", "--tag", f"algorithm={best.name}", *metrics,
                          *profile],
                         check=True, capture_output=True, text=True).stdout
    # "registered churn version 3 (None)"
    version = int(out.split(" version ")[1].split()[0])
    promoted = False
    if promote and best.metrics["auc_roc"] >= threshold:
        subprocess.run([sluice_bin, "models", "alias", model_name, "champion", str(version), "--registry", registry],
                       check=True, capture_output=True)
        promoted = True
    return {"registry": registry, "version": version, "champion": promoted}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Train, convert, log, register and gate the churn models.")
    parser.add_argument("--data", help="Parquet file with the churn columns (default: synthetic data)")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic rows when --data is not given")
    parser.add_argument("--seed", type=int, default=churn_data.DEFAULT_SEED)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--rf-trees", type=int, default=100)
    parser.add_argument("--rf-depth", type=int, default=10)
    parser.add_argument("--with-gbt", action="store_true", help="also train a GBTClassifier candidate")
    parser.add_argument("--register", default="best", choices=["best", "random_forest", "logistic_regression", "gbt"],
                        help="which pipeline to convert and register (default: the better held-out AUC-ROC)")
    parser.add_argument("--weak", action="store_true", help="train only a one-split stump (to see the gate refuse)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI; none: no MLflow)")
    parser.add_argument("--experiment", default="churn")
    parser.add_argument("--model-name", default="churn")
    parser.add_argument("--auc-threshold", type=float, default=DEFAULT_AUC_THRESHOLD)
    parser.add_argument("--promote", action="store_true", help="move @champion if the gate passes")
    parser.add_argument("--stage-transition", action="store_true", help="with --promote: also transition to Production")
    parser.add_argument("--export-dir", help="write churn.onnx and metrics.json here")
    parser.add_argument("--sluice-registry", help="register the ONNX in this Sluice registry directory")
    parser.add_argument("--sluice-bin", default=shutil.which("sluice") or "sluice",
                        help="the sluice binary (builds the reference profile, registers locally)")
    parser.add_argument("--no-profile", action="store_true",
                        help="do not build or log the reference profile (no drift monitoring for the version)")
    args = parser.parse_args(argv)

    spark = spark_session()
    df = load_data(spark, args.data, args.rows, args.seed)
    train_df, test_df = df.randomSplit([1.0 - args.test_fraction, args.test_fraction], seed=args.seed)
    train_df, test_df = train_df.cache(), test_df.cache()
    candidates = train_and_evaluate(train_df, test_df,
                                    pipelines(args.rf_trees, args.rf_depth, args.seed, stump=args.weak,
                                              gbt=args.with_gbt))
    if args.register == "best" or args.weak:
        best = max(candidates, key=lambda c: c.metrics["auc_roc"])
    else:
        best = next(c for c in candidates if c.name == args.register)
    onnx_model = to_onnx(best, spark)
    best.metrics["onnx_max_abs_diff"] = check_parity(best, onnx_model, test_df)
    summary: Dict[str, object] = {"best": best.name, "auc_threshold": args.auc_threshold,
                                  "candidates": {c.name: c.metrics for c in candidates}}

    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    scratch = None
    if args.export_dir or args.sluice_registry:
        export = pathlib.Path(args.export_dir or args.sluice_registry + ".export")
        export.mkdir(parents=True, exist_ok=True)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="churn-train-")
        export = pathlib.Path(scratch.name)
    onnx_path = export / "churn.onnx"
    onnx_path.write_bytes(onnx_model.SerializeToString())
    if args.export_dir or args.sluice_registry:
        (export / "metrics.json").write_text(json.dumps({"model": best.name, **best.metrics}, indent=1))
        summary["onnx"] = str(onnx_path)
    profile_path = rows_path = None
    if not args.no_profile and (tracking_uri or args.export_dir or args.sluice_registry):
        rows_path = export / "profile-rows.jsonl"
        write_profile_rows(train_df, rows_path)
        profile_path = export / "profile.json"
        profile = build_profile(args.sluice_bin, onnx_path, rows_path, profile_path)
        summary["profile"] = {"path": str(profile_path), "rows": profile["rows"]}

    gate_passed = best.metrics["auc_roc"] >= args.auc_threshold
    if tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        data_params = {"data": args.data or f"synthetic(rows={args.rows}, seed={args.seed})",
                       "test_fraction": args.test_fraction}
        log_candidates(candidates, args.experiment, data_params)
        version = log_and_register(best, onnx_model, input_example(test_df), args.model_name,
                                   profile_path=profile_path)
        summary["mlflow"] = {"version": version, "run_id": best.run_id, "alias": "challenger"}
        if args.promote:
            summary["mlflow"]["champion"] = gate_mlflow(args.model_name, version, best.metrics["auc_roc"],
                                                        args.auc_threshold, args.stage_transition)
    if args.sluice_registry:
        summary["sluice"] = register_local(args.sluice_bin, args.sluice_registry, args.model_name, str(onnx_path),
                                           best, args.auc_threshold, args.promote, profile_rows=rows_path)
    if scratch is not None:
        scratch.cleanup()

    print("TRAIN-SUMMARY " + json.dumps(summary), flush=True)
    if args.promote and not gate_passed:
        print(f"validation gate: refused to move @champion: held-out AUC-ROC {best.metrics['auc_roc']:.4f} "
              f"< threshold {args.auc_threshold}", file=sys.stderr, flush=True)
        return EXIT_GATE_REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
