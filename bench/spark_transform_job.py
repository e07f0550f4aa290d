"""The baseline of bench/spark_bulk.py: score Parquet with the PySpark pipeline's own `model.transform` and write
the same columns as score_churn.py (id, label, probability of churn, confidence, risk category), partitioned by
risk category.

    spark-submit bench/spark_transform_job.py --model DIR --input in.parquet --output out/
"""

import argparse

from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    spark = SparkSession.builder.appName("churn-transform").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    model = PipelineModel.load(args.model)
    probability = vector_to_array(F.col("probability"))
    scored = (model.transform(spark.read.parquet(args.input))
              .select("customer_id", F.col("prediction").cast("long").alias("label"),
                      probability[1].cast("float").alias("probability"),
                      F.array_max(probability).cast("float").alias("confidence")))
    risk = (F.when((F.col("label") == 1) & (F.col("confidence") > 0.8), "high_risk")
            .when(F.col("label") == 1, "medium_risk").otherwise("low_risk"))
    scored.withColumn("risk_category", risk).write.mode("overwrite").partitionBy("risk_category").parquet(args.output)
    spark.stop()


if __name__ == "__main__":
    main()
