"""The floor of bench/spark_bulk.py's Sluice job: `examples/pyspark/score_churn.py` with the BatchPredict call
replaced by a constant answer, everything else the same (Parquet read, `mapInArrow` in chunks of 10,000 rows with
each request still encoded, the output columns, the partitioned write, the read-back check).

What this job costs is what Spark charges for the job's shape whatever the scorer; the Sluice job minus this is
what scoring through Sluice adds.

    spark-submit bench/spark_floor_job.py --input in.parquet --output out/ --server unused:0
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "pyspark"))

import score_churn  # noqa: E402


def constant_scorer(settings):
    """A `mapInArrow` function shaped like `score_churn.make_scorer`'s, answering label 0 / confidence 1."""
    settings.pop("retries_acc")
    chunks_acc = settings.pop("chunks_acc")
    # Module-level names resolved here, so the executors get the functions by value (not an import by name).
    encode_request, risk_indices = score_churn.encode_request, score_churn.risk_indices
    names = score_churn.RISK_CATEGORIES

    def score(batches):
        import numpy as np
        import pyarrow as pa

        s = settings
        out_schema = pa.schema([(s["id_column"], pa.int64()), ("label", pa.int64()), ("probability", pa.float32()),
                                ("confidence", pa.float32()), ("model_version", pa.int64()),
                                ("batch_id", pa.string()), ("risk_category", pa.string())])
        categories = pa.array(names, type=pa.string())
        chunk_no = 0
        for batch in batches:
            for start in range(0, batch.num_rows, s["chunk_rows"]):
                chunk = batch.slice(start, s["chunk_rows"])
                batch_id = f"{s['batch_prefix']}-floor-c{chunk_no}"
                chunk_no += 1
                encode_request(chunk, s["model"], s["version"], batch_id, s["numeric"], s["strings"])
                n = chunk.num_rows
                labels = np.zeros(n, dtype=np.int64)
                confidence = np.ones(n, dtype=np.float32)
                chunks_acc.add(1)
                yield pa.RecordBatch.from_arrays([
                    chunk.column(s["id_column"]).cast(pa.int64()), pa.array(labels),
                    pa.array(np.zeros(n, dtype=np.float32)), pa.array(confidence),
                    pa.repeat(pa.scalar(0, pa.int64()), n), pa.repeat(pa.scalar(batch_id, pa.string()), n),
                    categories.take(risk_indices(labels, confidence)),
                ], schema=out_schema)

    return score


if __name__ == "__main__":
    score_churn.make_scorer = constant_scorer
    sys.exit(score_churn.main())
