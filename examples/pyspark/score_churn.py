"""Bulk scoring on Spark through Sluice: Parquet in, BatchPredict per partition, Parquet out by risk category.

    export SLUICE_API_KEY_FILE=/secrets/sluice-key        # or SLUICE_API_KEY; never a command-line argument
    spark-submit examples/pyspark/score_churn.py --input customers.parquet --output scored/ \\
        --server sluice.internal:50051 --ca-file ca.pem --model churn --version @champion \\
        [--tracking-uri http://mlflow:5000]

- Each partition is scored with `mapInArrow`: Arrow record batches are cut into chunks of at most `--chunk-rows`
  (10,000) rows, each chunk is one BatchPredict call (columnar: numbers as `values`, the category as `strings`),
  with up to `--in-flight` calls outstanding per partition so the server works while Python converts.
- TLS is verified against `--ca-file`; the API key comes from `$SLUICE_API_KEY` or the file in
  `$SLUICE_API_KEY_FILE` (or `--api-key-file`), and is sent as `x-api-key`.
- UNAVAILABLE (server starting, a version still loading, a connection lost) is retried with exponential backoff
  and jitter (`--max-retries`, `--backoff-initial`, `--backoff-max`); any other status fails the job with the
  server's message. A chunk's answer must have exactly as many rows as the chunk, or the job fails.
- Every row carries its id (`--id-column`, default `customer_id`; a generated `row_id` if the input has none).
  After the write the job reads the output back and fails unless it has exactly the input's row count and the
  same checksum of ids (the exact sum of their 64-bit hashes), so no row is lost or doubled. For local Parquet
  the input's totals and the output's read-back come from the files, read on the driver (no Spark job); for
  other file systems each is one Spark aggregation.
- Output: Parquet partitioned by `risk_category` (`high_risk`: churn predicted with confidence > 0.8,
  `medium_risk`: churn predicted otherwise, `low_risk`: churn not predicted), with the id, `label`,
  `probability` (of churn), `confidence`, `model_version` and `batch_id` (also the request id the server logs).
- With `--tracking-uri` (or `$MLFLOW_TRACKING_URI`) the run's counts, retries, wall time and the model
  version(s) that answered are logged to MLflow (experiment `--experiment`, default `churn-scoring`).

The summary is printed as one JSON line starting with `SCORE-SUMMARY `.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import sys
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, List, Optional

_CLIENT_DIR = pathlib.Path(__file__).resolve().parents[2] / "clients" / "python"
if (_CLIENT_DIR / "sluice_client").is_dir() and str(_CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(_CLIENT_DIR))

NUMERIC_COLUMNS = ("age", "income", "tenure_months", "credit_score")
STRING_COLUMNS = ("contract_type",)
RISK_CATEGORIES = ("high_risk", "medium_risk", "low_risk")
#: Confidence above which a predicted churn is `high_risk`.
HIGH_RISK_CONFIDENCE = 0.8
#: The issue's bound on one BatchPredict call.
MAX_CHUNK_ROWS = 10_000


def risk_categories(labels, confidence, positive_label: int = 1, threshold: float = HIGH_RISK_CONFIDENCE):
    """Vectorized risk category per row (numpy arrays in, numpy array of str out)."""
    import numpy as np

    churn = labels == positive_label
    return np.where(churn & (confidence > threshold), "high_risk", np.where(churn, "medium_risk", "low_risk"))


def risk_indices(labels, confidence, positive_label: int = 1, threshold: float = HIGH_RISK_CONFIDENCE):
    """Like `risk_categories`, as indices into `RISK_CATEGORIES` (int8), for a dictionary-style take."""
    import numpy as np

    churn = labels == positive_label
    return np.where(churn & (confidence > threshold), 0, np.where(churn, 1, 2)).astype(np.int8)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: tag byte, varint length, payload."""
    return bytes((tag,)) + _varint(len(payload)) + payload


def _packed_strings(array) -> bytes:
    """`repeated string` field 3 of `Column` (tag 0x1A per value) encoded from an Arrow string array's buffers.

    With every value shorter than 128 bytes (one-byte length varints) the encoding is done with numpy in one
    go; longer values fall back to a loop. Nulls are sent as "".
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pc.fill_null(array, "")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.string())
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=n + 1, offset=array.offset * 4)
    lengths = np.diff(offsets)
    if n and lengths.max() >= 0x80:
        return b"".join(_field(0x1A, v.encode()) for v in array.to_pylist())
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if n else np.empty(0, np.uint8)
    out = np.empty(2 * n + len(data), dtype=np.uint8)
    heads = np.arange(n) * 2 + (offsets[:-1] - offsets[0])
    is_data = np.ones(len(out), dtype=bool)
    is_data[heads] = False
    is_data[heads + 1] = False
    out[heads] = 0x1A
    out[heads + 1] = lengths
    out[is_data] = data
    return out.tobytes()


def encode_request(chunk, model: str, version: str, request_id: str, numeric, strings) -> bytes:
    """The serialized `BatchPredictRequest` for an Arrow record batch, built from the columns' buffers.

    Same message as filling the protobuf object (model 1, version 2, rows 4, one `Column` 5 per feature with
    the numbers as packed float32 `values` (2) and the strings as `strings` (3), request_id 7), without
    converting every value to a Python object: a numeric column is its float32 little-endian bytes
    (nulls are NaN), a string column is encoded by `_packed_strings`.
    """
    import numpy as np

    parts = [_field(0x0A, model.encode()), _field(0x12, version.encode()), b"\x20" + _varint(chunk.num_rows)]
    for name in numeric:
        values = chunk.column(name).to_numpy(zero_copy_only=False).astype("<f4", copy=False)
        column = _field(0x0A, name.encode()) + (_field(0x12, values.tobytes()) if len(values) else b"")
        parts.append(_field(0x2A, column))
    for name in strings:
        parts.append(_field(0x2A, _field(0x0A, name.encode()) + _packed_strings(chunk.column(name))))
    parts.append(_field(0x3A, request_id.encode()))
    return b"".join(parts)


_P1, _P2, _P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P4, _P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
#: Spark's seed of `xxhash64`.
_XXHASH_SEED = 42


def spark_xxhash64_longs(ids):
    """Spark's `xxhash64(col)` of 64-bit integers (seed 42), vectorized: an int64 numpy array in, int64 out.

    XXH64 of one 8-byte little-endian value (`XXH64.hashLong`), computed with wrapping uint64 arithmetic so the
    driver can checksum the input's ids exactly as the read-back check's Spark aggregation checksums the output.
    """
    import numpy as np

    def rotl(x, r):
        return (x << np.uint64(r)) | (x >> np.uint64(64 - r))

    with np.errstate(over="ignore"):
        x = np.asarray(ids, dtype=np.int64).view(np.uint64)
        h = np.full(x.shape, (_XXHASH_SEED + _P5 + 8) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
        h ^= rotl(x * np.uint64(_P2), 31) * np.uint64(_P1)
        h = rotl(h, 27) * np.uint64(_P1) + np.uint64(_P4)
        h ^= h >> np.uint64(33)
        h *= np.uint64(_P2)
        h ^= h >> np.uint64(29)
        h *= np.uint64(_P3)
        h ^= h >> np.uint64(32)
    return h.view(np.int64)


def exact_sum(values) -> int:
    """The exact (unbounded) sum of an int64 numpy array, as a Python int (high and low 32 bits summed apart)."""
    import numpy as np

    values = np.asarray(values, dtype=np.int64)
    return int((values >> 32).sum()) * (1 << 32) + int((values & 0xFFFFFFFF).sum())


def local_input_totals(path: str, id_column: str):
    """Row count and id checksum of a local Parquet input, read on the driver from its id column alone.

    The same totals as the Spark aggregation `count(*)`, `sum(xxhash64(cast(id as long)))` over the input, without a
    Spark job (the first job of a session pays the executors' warm-up). None when the input is not a local path
    or its id column is not a non-null integer column; the caller then runs the Spark aggregation instead.
    """
    if "://" in path and not path.startswith("file://"):
        return None
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path.removeprefix("file://"), format="parquet", partitioning="hive")
        if id_column not in dataset.schema.names or not pa.types.is_integer(dataset.schema.field(id_column).type):
            return None
        ids = dataset.to_table(columns=[id_column]).column(id_column)
    except (OSError, ValueError, pa.ArrowException):
        return None
    if ids.null_count:
        return None
    total = sum(exact_sum(spark_xxhash64_longs(chunk.to_numpy().astype("int64", copy=False)))
                for chunk in ids.chunks)
    return {"rows": len(ids), "ids": total}


def local_output_totals(path: str, id_column: str):
    """Rows per risk category, id checksum and model versions of a local Parquet output, read on the driver.

    The read-back check of what the job wrote, from the files themselves (pyarrow: the id and `model_version`
    columns, the category from the `risk_category=` directories), with the same checksum as the Spark aggregation
    (`sum(xxhash64(id))`, exact). None when the output is not a local path, is empty, or its id column is not a
    non-null integer column; the caller then runs the Spark aggregation instead.
    """
    if "://" in path and not path.startswith("file://"):
        return None
    import numpy as np
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path.removeprefix("file://"), format="parquet", partitioning="hive")
        names = dataset.schema.names
        if (id_column not in names or "model_version" not in names or "risk_category" not in names
                or not pa.types.is_integer(dataset.schema.field(id_column).type)):
            return None
        table = dataset.to_table(columns=[id_column, "model_version", "risk_category"])
    except (OSError, ValueError, pa.ArrowException):
        return None
    if table.num_rows == 0 or any(table.column(c).null_count for c in table.column_names):
        return None
    per_category: Dict[str, int] = {}
    for value in table.column("risk_category").value_counts().to_pylist():
        per_category[str(value["values"])] = int(value["counts"])
    ids = sum(exact_sum(spark_xxhash64_longs(chunk.to_numpy().astype("int64", copy=False)))
              for chunk in table.column(id_column).chunks)
    versions = sorted(int(v) for v in np.unique(table.column("model_version").to_numpy()))
    return {"per_category": per_category, "ids": ids, "versions": versions}


def make_scorer(settings: Dict[str, object]):
    """The `mapInArrow` function for one job: scores each partition's record batches through BatchPredict.

    `settings` is plain data (pickled into every task): target, CA bytes, API key, model, version, columns,
    chunk size, retry policy, batch prefix; `retries`/`chunks` are Spark accumulators for the run's counts.
    """
    retries_acc = settings.pop("retries_acc")
    chunks_acc = settings.pop("chunks_acc")

    def score(batches: Iterator) -> Iterator:
        import grpc
        import numpy as np
        import pyarrow as pa
        from pyspark import TaskContext

        import sluice_client
        from sluice.v1 import inference_pb2 as pb

        s = settings
        context = TaskContext.get()
        partition = context.partitionId() if context else 0
        attempt_no = context.attemptNumber() if context else 0
        # Reconnect quickly after a refused connection (gRPC's default backoff starts at 1 s and grows to 120 s).
        channel = sluice_client.connect(s["target"], ca_pem=s["ca_pem"], api_key=s["api_key"],
                                        insecure=s["insecure"], server_name=s["server_name"],
                                        options=[("grpc.initial_reconnect_backoff_ms", 200),
                                                 ("grpc.max_reconnect_backoff_ms", 5000)])
        # Requests go out as bytes encoded straight from the Arrow buffers (`encode_request`), replies come back
        # through protobuf's C parser; the method is the stub's `/sluice.v1.Inference/BatchPredict`.
        batch_predict = channel.unary_unary("/sluice.v1.Inference/BatchPredict", request_serializer=None,
                                            response_deserializer=pb.BatchPredictResponse.FromString)
        rng = random.Random(f"{s['batch_prefix']}-{partition}-{attempt_no}")
        id_column = s["id_column"]
        out_schema = pa.schema([(id_column, pa.int64()), ("label", pa.int64()), ("probability", pa.float32()),
                                ("confidence", pa.float32()), ("model_version", pa.int64()),
                                ("batch_id", pa.string()), ("risk_category", pa.string())])
        category_names = pa.array(RISK_CATEGORIES, type=pa.string())

        def request(chunk, batch_id):
            return encode_request(chunk, s["model"], s["version"], batch_id, s["numeric"], s["strings"])

        def call(req, batch_id):
            """The reply to `req`, retrying UNAVAILABLE with exponential backoff and jitter."""
            delay = s["backoff_initial"]
            for attempt in range(s["max_retries"] + 1):
                try:
                    return batch_predict(req, timeout=s["timeout"])
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == s["max_retries"]:
                        raise RuntimeError(f"BatchPredict {batch_id} failed after {attempt + 1} attempt(s): "
                                           f"{error.code().name}: {error.details()}") from None
                    retries_acc.add(1)
                    time.sleep(delay * rng.uniform(0.5, 1.0))
                    delay = min(delay * 2, s["backoff_max"])
            raise AssertionError("unreachable")

        def finish(chunk, batch_id, future, req):
            try:
                reply = future.result()
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise RuntimeError(f"BatchPredict {batch_id} failed: {error.code().name}: {error.details()}") \
                        from None
                retries_acc.add(1)
                time.sleep(s["backoff_initial"] * rng.uniform(0.5, 1.0))
                reply = call(req, batch_id)
            n = chunk.num_rows
            if reply.rows != n or len(reply.labels_int) != n or len(reply.confidence) != n:
                raise RuntimeError(f"BatchPredict {batch_id}: sent {n} rows, the answer has {reply.rows} rows, "
                                   f"{len(reply.labels_int)} labels, {len(reply.confidence)} confidences")
            labels = np.fromiter(reply.labels_int, dtype=np.int64, count=n)
            confidence = np.fromiter(reply.confidence, dtype=np.float32, count=n)
            scores = np.fromiter(reply.scores, dtype=np.float32, count=n * reply.num_classes)
            chunks_acc.add(1)
            return pa.RecordBatch.from_arrays([
                chunk.column(id_column).cast(pa.int64()),
                pa.array(labels),
                pa.array(scores[s["positive_index"]::reply.num_classes]),
                pa.array(confidence),
                pa.repeat(pa.scalar(reply.version, pa.int64()), n),
                pa.repeat(pa.scalar(batch_id, pa.string()), n),
                category_names.take(risk_indices(labels, confidence, s["positive_label"])),
            ], schema=out_schema)

        pending = []
        chunk_no = 0
        try:
            for batch in batches:
                for start in range(0, batch.num_rows, s["chunk_rows"]):
                    chunk = batch.slice(start, s["chunk_rows"])
                    batch_id = f"{s['batch_prefix']}-p{partition}-a{attempt_no}-c{chunk_no}"
                    chunk_no += 1
                    req = request(chunk, batch_id)
                    pending.append((chunk, batch_id, batch_predict.future(req, timeout=s["timeout"]), req))
                    while len(pending) >= s["in_flight"]:
                        yield finish(*pending.pop(0))
            while pending:
                yield finish(*pending.pop(0))
        finally:
            for _, _, future, _ in pending:
                future.cancel()
            channel.close()

    return score


_shipped_zip: Optional[str] = None


def client_zip() -> Optional[str]:
    """A zip of the `sluice` + `sluice_client` packages for the executors, when they come from a source tree.

    Installed with `pip install clients/python` (site-packages) nothing needs shipping; from the repository the
    driver zips them and `addPyFile`s the zip so executors on other machines can import them.
    """
    import sluice_client

    global _shipped_zip
    root = pathlib.Path(sluice_client.__file__).resolve().parents[1]
    if _shipped_zip or "site-packages" in root.parts or not (root / "sluice" / "v1").is_dir():
        return None
    path = pathlib.Path(tempfile.mkdtemp(prefix="sluice-client-")) / "sluice_client.zip"
    with zipfile.ZipFile(path, "w") as z:
        for package in ("sluice", "sluice_client"):
            for f in sorted((root / package).rglob("*.py")):
                z.write(f, f.relative_to(root))
        # `sluice` is a namespace package in the source tree (it merges with other generated copies); inside
        # the zip it is a regular one, since a zip added to sys.path at run time does not resolve namespaces.
        for init in ("sluice/__init__.py", "sluice/v1/__init__.py"):
            if not (root / init).exists():
                z.writestr(init, "")
    _shipped_zip = str(path)
    return _shipped_zip


def read_api_key(path: Optional[str]) -> Optional[str]:
    """The API key: `--api-key-file`, else `$SLUICE_API_KEY`, else the file in `$SLUICE_API_KEY_FILE`."""
    import sluice_client

    if path:
        return pathlib.Path(path).read_text().strip()
    return sluice_client.api_key_from_env()


def run(spark, args) -> Dict[str, object]:
    """Scores `args.input` into `args.output`; returns the summary (counts, versions, retries, wall time)."""
    from pyspark.sql import functions as F

    started = time.monotonic()
    if not 1 <= args.chunk_rows <= MAX_CHUNK_ROWS:
        raise SystemExit(f"--chunk-rows must be between 1 and {MAX_CHUNK_ROWS}")
    if __name__ != "__main__":
        # Imported (a test, a notebook): ship this module's code by value, executors cannot import it by name.
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    shipped = client_zip()
    if shipped:
        spark.sparkContext.addPyFile(shipped)
    df = spark.read.parquet(args.input)
    id_column = args.id_column
    if id_column not in df.columns:
        id_column = "row_id"
        df = df.withColumn(id_column, F.monotonically_increasing_id())
    missing = [c for c in NUMERIC_COLUMNS + STRING_COLUMNS if c not in df.columns]
    if missing:
        raise SystemExit(f"input {args.input} lacks the feature column(s) {', '.join(missing)}")
    df = df.select(id_column, *NUMERIC_COLUMNS, *STRING_COLUMNS)
    # Row count and a checksum of the ids (sum of their 64-bit hashes, as an exact decimal) in one pass: the output
    # must have the same count and the same checksum, so a lost row cannot hide behind a duplicated one.
    def id_checksum():
        return F.sum(F.xxhash64(F.col(id_column).cast("long")).cast("decimal(38,0)"))

    # The input's totals are an independent pass over the input (not rows counted on their way to the scorer),
    # run from a second thread while the driver plans and starts the scoring job: for a local Parquet input with
    # an integer id the driver reads the id column itself (no Spark job), otherwise it is a Spark aggregation.
    totals_pool = ThreadPoolExecutor(1, thread_name_prefix="input-totals")

    def input_totals_job():
        local = local_input_totals(args.input, id_column) if id_column == args.id_column else None
        return local or df.agg(F.count(F.lit(1)).alias("rows"), id_checksum().alias("ids")).first()

    input_totals = totals_pool.submit(input_totals_job)

    batch_prefix = args.batch_prefix or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    sc = spark.sparkContext
    retries_acc, chunks_acc = sc.accumulator(0), sc.accumulator(0)
    settings = {
        "target": args.server, "ca_pem": pathlib.Path(args.ca_file).read_bytes() if args.ca_file else None,
        "api_key": read_api_key(args.api_key_file), "insecure": args.plaintext, "server_name": args.server_name,
        "model": args.model, "version": args.version, "numeric": NUMERIC_COLUMNS, "strings": STRING_COLUMNS,
        "id_column": id_column, "chunk_rows": args.chunk_rows, "in_flight": max(1, args.in_flight),
        "timeout": args.timeout, "max_retries": args.max_retries, "backoff_initial": args.backoff_initial,
        "backoff_max": args.backoff_max, "batch_prefix": batch_prefix, "positive_label": 1,
        "positive_index": args.positive_index, "retries_acc": retries_acc, "chunks_acc": chunks_acc,
    }
    schema = (f"{id_column} long, label long, probability float, confidence float, model_version long, "
              f"batch_id string, risk_category string")
    scored = df.mapInArrow(make_scorer(settings), schema)
    try:
        scored.write.mode("overwrite").partitionBy("risk_category").parquet(args.output)
        totals = input_totals.result()
    finally:
        totals_pool.shutdown(wait=True)
    rows_in, ids_in = int(totals["rows"]), totals["ids"] or 0

    # The read-back check reads what was written, independently of the scoring job: on the driver for a local
    # output (pyarrow, no Spark job), else one Spark aggregation over the output.
    written = local_output_totals(args.output, id_column)
    if written is None:
        groups = (spark.read.parquet(args.output).groupBy("risk_category", "model_version")
                  .agg(F.count(F.lit(1)).alias("rows"), id_checksum().alias("ids")).collect())
        per_category: Dict[str, int] = {}
        for g in groups:
            per_category[g["risk_category"]] = per_category.get(g["risk_category"], 0) + int(g["rows"])
        written = {"per_category": per_category, "ids": sum((g["ids"] or 0) for g in groups),
                   "versions": sorted({int(g["model_version"]) for g in groups})}
    per_category = written["per_category"]
    rows_out = sum(per_category.values())
    ids_out = written["ids"]
    versions = written["versions"]
    summary: Dict[str, object] = {
        "input": args.input, "output": args.output, "model": args.model, "version_selector": args.version,
        "model_versions": versions, "rows_in": rows_in, "rows_out": rows_out,
        **{c: int(per_category.get(c, 0)) for c in RISK_CATEGORIES},
        "chunks": chunks_acc.value, "retries": retries_acc.value, "batch_prefix": batch_prefix,
    }
    if rows_out != rows_in:
        raise RuntimeError(f"scored {rows_out} rows of {rows_in}: rows were lost or duplicated; summary {summary}")
    if args.check_ids and ids_out != ids_in:
        raise RuntimeError(f"the ids in {args.output} are not the input's ids (same count, different checksum): "
                           f"rows were lost and others duplicated; summary {summary}")
    summary["wall_seconds"] = round(time.monotonic() - started, 3)
    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if tracking_uri:
        summary["mlflow_run_id"] = log_run(tracking_uri, args.experiment, summary, args)
    return summary


def log_run(tracking_uri: str, experiment: str, summary: Dict[str, object], args) -> str:
    """Logs the run's counts and the answering model version(s) to MLflow; returns the run id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"score-{summary['batch_prefix']}") as run:
        mlflow.log_params({"input": args.input, "output": args.output, "model": args.model,
                           "version_selector": args.version, "chunk_rows": args.chunk_rows, "server": args.server})
        mlflow.log_metrics({k: float(summary[k]) for k in ("rows_in", "rows_out", "high_risk", "medium_risk",
                                                           "low_risk", "chunks", "retries", "wall_seconds")})
        versions = summary["model_versions"]
        mlflow.set_tags({"model_version": ",".join(str(v) for v in versions),
                         "model_uri": f"models:/{args.model}/{versions[0]}" if len(versions) == 1 else "",
                         "batch_prefix": summary["batch_prefix"]})
        return run.info.run_id


def parse_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(description="Score a Parquet table through Sluice's BatchPredict on Spark.")
    parser.add_argument("--input", required=True, help="Parquet input (the churn feature columns and an id)")
    parser.add_argument("--output", required=True, help="Parquet output directory (overwritten)")
    parser.add_argument("--server", required=True, help="host:port of the Sluice server")
    parser.add_argument("--ca-file", help="CA certificate(s) to verify the server (default: system roots)")
    parser.add_argument("--server-name", help="expected server name in its certificate (if not the host)")
    parser.add_argument("--plaintext", action="store_true", help="no TLS (a server started with --plaintext)")
    parser.add_argument("--api-key-file", help="file holding the API key (default: $SLUICE_API_KEY(_FILE))")
    parser.add_argument("--model", default="churn")
    parser.add_argument("--version", default="", help='selector: "", "7", "production", "@champion", models:/...')
    parser.add_argument("--id-column", default="customer_id")
    parser.add_argument("--positive-index", type=int, default=1, help="index of the churn class in the scores")
    parser.add_argument("--chunk-rows", type=int, default=MAX_CHUNK_ROWS)
    parser.add_argument("--in-flight", type=int, default=2, help="BatchPredict calls outstanding per partition")
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline of one call, seconds")
    parser.add_argument("--max-retries", type=int, default=8)
    parser.add_argument("--backoff-initial", type=float, default=0.2)
    parser.add_argument("--backoff-max", type=float, default=10.0)
    parser.add_argument("--batch-prefix", help="prefix of the batch ids (default: time + random suffix)")
    parser.add_argument("--no-check-ids", dest="check_ids", action="store_false",
                        help="skip the id checksum of the output (the count check stays)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--experiment", default="churn-scoring")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from pyspark.sql import SparkSession

    args = parse_args(argv)
    spark = (SparkSession.builder.appName("churn-score")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.chunk_rows))
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    summary = run(spark, args)
    print("SCORE-SUMMARY " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
