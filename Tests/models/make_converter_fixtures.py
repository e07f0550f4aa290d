#!/usr/bin/env python3
"""Builds the converter fixtures in Tests/fixtures/converters: small models written by the converters users
run (onnxmltools' `convert_sparkml` for Spark ML pipelines, CatBoost's own ONNX export), scored by onnxruntime.

These models are committed (each directory holds model.onnx, inputs.json and expected.json in the layout of
Tests/fixtures/models, see make_models.py) because building them needs a JVM + PySpark session and CatBoost,
which would cost the CI run more than its budget; this script rebuilds the same models from fixed seeds
(the bytes may differ where an exporter stamps metadata).
The converters' output is saved as they write it (no clean-up), since that is the file a user loads.

A converter that cannot write a model is recorded, with its exact error, in Tests/fixtures/converters/FAILED.md.

Usage: .venv/bin/pip install -r Tests/models/requirements-converters.txt
       .venv/bin/python Tests/models/make_converter_fixtures.py [--out Tests/fixtures/converters] [--only spark|catboost|hgb]
Needs: the test venv (Tests/integration/requirements.txt: pyspark, onnxmltools, onnxruntime; Java 17) plus
catboost (Tests/models/requirements-converters.txt).
"""
import argparse
import os
import sys
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import save, with_nans  # noqa: E402  (same directory)

ROWS = 200  # scored rows per fixture: enough to reach every leaf class of these small models, small on disk
TRAIN = 1500
FAILED = []


def attempt(name, build):
    """Runs one fixture's build; a converter failure is recorded (FAILED.md) instead of stopping the others."""
    try:
        build()
    except Exception as e:  # noqa: BLE001  (any converter error is the record we want)
        last = traceback.extract_tb(e.__traceback__)[-1]
        FAILED.append((name, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}",
                       f"{os.path.basename(last.filename)}:{last.lineno} in {last.name}"))
        print(f"{name}: FAILED {type(e).__name__}: {e}", file=sys.stderr)


def data(seed, classes=2, features=6, regression=False):
    """Fixed-seed synthetic data: float32 features (not constant, so no zero-variance scale), labels or targets."""
    from sklearn.datasets import make_classification, make_regression

    n = TRAIN + ROWS
    if regression:
        X, y = make_regression(n_samples=n, n_features=features, noise=3.0, random_state=seed)
    else:
        X, y = make_classification(n_samples=n, n_features=features, n_informative=min(features, 4),
                                   n_classes=classes, n_clusters_per_class=1, random_state=seed)
    return X.astype(np.float32), y


# ---------------------------------------------------------------- Spark ML (onnxmltools convert_sparkml)

def spark_fixtures(out):
    """Spark ML pipelines, one ONNX input per column ([N,1] float, [N,1] string), converted with convert_sparkml."""
    import pandas as pd
    from onnxmltools import convert_sparkml
    from onnxmltools.convert.common.data_types import FloatTensorType, StringTensorType
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import (DecisionTreeClassifier, GBTClassifier, LogisticRegression,
                                           RandomForestClassifier)
    from pyspark.ml.feature import (Imputer, MinMaxScaler, OneHotEncoder, StandardScaler, StringIndexer,
                                    VectorAssembler)
    from pyspark.ml.regression import (DecisionTreeRegressor, GBTRegressor, LinearRegression,
                                       RandomForestRegressor)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("sluice-converter-fixtures")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
             .config("spark.driver.memory", "1g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    cols = [f"f{i}" for i in range(6)]
    rng = np.random.default_rng(11)

    def frame(X, y, cat=None):
        pdf = pd.DataFrame({c: X[:, i].astype(np.float64) for i, c in enumerate(cols)})
        if cat is not None:
            pdf["plan"] = cat
        pdf["label"] = y.astype(np.float64)
        return pdf

    def convert(model, name, with_cat=False):
        types = [(c, FloatTensorType([None, 1])) for c in cols]
        if with_cat:
            types.append(("plan", StringTensorType([None, 1])))
        return convert_sparkml(model, name, types, spark_session=spark, target_opset=15)

    def feeds(X, cat=None):
        f = {c: X[:, i:i + 1].copy() for i, c in enumerate(cols)}
        if cat is not None:
            f["plan"] = np.asarray(cat, dtype=object).reshape(-1, 1)
        return f

    def fit(stages, X, y, cat=None):
        return Pipeline(stages=stages).fit(spark.createDataFrame(frame(X[:TRAIN], y[:TRAIN],
                                                                        None if cat is None else cat[:TRAIN])))

    assemble = VectorAssembler(inputCols=cols, outputCol="features")
    Xb, yb = data(21)
    X3, y3 = data(22, classes=3)
    Xr, yr = data(23, regression=True)
    plans = np.array(["basic", "plus", "pro"])[rng.integers(0, 3, TRAIN + ROWS)]

    def std_logreg():
        m = fit([VectorAssembler(inputCols=cols, outputCol="raw"),
                 StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True),
                 LogisticRegression(maxIter=50, regParam=0.01)], Xb, yb)
        save(out, "spark_standardscaler_logreg", convert(m, "std_logreg"), feeds(Xb[TRAIN:]),
             "Spark VectorAssembler + StandardScaler(mean, std) + binary LogisticRegression (convert_sparkml)")

    def minmax_linreg():
        m = fit([VectorAssembler(inputCols=cols, outputCol="raw"), MinMaxScaler(inputCol="raw", outputCol="features"),
                 LinearRegression(maxIter=50, regParam=0.01)], Xr, yr)
        save(out, "spark_minmaxscaler_linreg", convert(m, "minmax_linreg"), feeds(Xr[TRAIN:]),
             "Spark VectorAssembler + MinMaxScaler + LinearRegression (convert_sparkml)")

    def multinomial_logreg():
        m = fit([assemble, LogisticRegression(maxIter=50, regParam=0.01, family="multinomial")], X3, y3)
        save(out, "spark_logreg_multinomial", convert(m, "logreg3"), feeds(X3[TRAIN:]),
             "Spark 3-class multinomial LogisticRegression (convert_sparkml)")

    def imputer_tree():
        Xn = with_nans(Xb, np.random.default_rng(12), rate=0.1)
        imputed = [c + "_i" for c in cols]
        m = fit([Imputer(inputCols=cols, outputCols=imputed, strategy="mean"),
                 VectorAssembler(inputCols=imputed, outputCol="features"),
                 DecisionTreeClassifier(maxDepth=6, seed=1)], Xn, yb)
        save(out, "spark_imputer_decisiontree", convert(m, "imputer_dt"), feeds(Xn[TRAIN:]),
             "Spark Imputer(mean) + VectorAssembler + DecisionTreeClassifier(depth 6); NaN in the scored rows")

    def gbt_classifier():
        m = fit([StringIndexer(inputCol="plan", outputCol="plan_index", stringOrderType="alphabetAsc"),
                 OneHotEncoder(inputCols=["plan_index"], outputCols=["plan_vector"], dropLast=False),
                 VectorAssembler(inputCols=cols + ["plan_vector"], outputCol="features"),
                 GBTClassifier(maxIter=15, maxDepth=4, seed=1)], Xb, yb, plans)
        save(out, "spark_gbt_classifier", convert(m, "gbt_cls", with_cat=True), feeds(Xb[TRAIN:], plans[TRAIN:]),
             "Spark StringIndexer + OneHotEncoder + VectorAssembler + GBTClassifier(15 trees, depth 4)")

    def gbt_regressor():
        m = fit([assemble, GBTRegressor(maxIter=15, maxDepth=4, seed=1)], Xr, yr)
        save(out, "spark_gbt_regressor", convert(m, "gbt_reg"), feeds(Xr[TRAIN:]),
             "Spark GBTRegressor(15 trees, depth 4)")

    def rf_multiclass():
        m = fit([assemble, RandomForestClassifier(numTrees=10, maxDepth=5, seed=1)], X3, y3)
        save(out, "spark_rf_multiclass", convert(m, "rf3"), feeds(X3[TRAIN:]),
             "Spark 3-class RandomForestClassifier(10 trees, depth 5)")

    def rf_regressor():
        m = fit([assemble, RandomForestRegressor(numTrees=10, maxDepth=5, seed=1)], Xr, yr)
        save(out, "spark_rf_regressor", convert(m, "rf_reg"), feeds(Xr[TRAIN:]),
             "Spark RandomForestRegressor(10 trees, depth 5)")

    def dt_regressor():
        m = fit([assemble, DecisionTreeRegressor(maxDepth=6, seed=1)], Xr, yr)
        save(out, "spark_decisiontree_regressor", convert(m, "dt_reg"), feeds(Xr[TRAIN:]),
             "Spark DecisionTreeRegressor(depth 6)")

    for name, build in [("spark_standardscaler_logreg", std_logreg), ("spark_minmaxscaler_linreg", minmax_linreg),
                        ("spark_logreg_multinomial", multinomial_logreg),
                        ("spark_imputer_decisiontree", imputer_tree), ("spark_gbt_classifier", gbt_classifier),
                        ("spark_gbt_regressor", gbt_regressor), ("spark_rf_multiclass", rf_multiclass),
                        ("spark_rf_regressor", rf_regressor), ("spark_decisiontree_regressor", dt_regressor)]:
        attempt(name, build)
    spark.stop()


# ---------------------------------------------------------------- CatBoost (save_model(format="onnx"))

def catboost_fixtures(out, tmp):
    """CatBoost's own ONNX export: binary (with NaN), 3-class and regression, numeric features."""
    import catboost
    import onnx

    def export(m, name):
        path = os.path.join(tmp, name + ".onnx")
        m.save_model(path, format="onnx", export_parameters={"onnx_domain": "ai.catboost",
                                                              "onnx_model_version": 1})
        return onnx.load(path)

    Xb, yb = data(31, features=8)
    Xn = with_nans(Xb, np.random.default_rng(32), rate=0.05)
    X3, y3 = data(33, classes=3, features=8)
    Xr, yr = data(34, regression=True, features=8)
    common = {"iterations": 40, "depth": 6, "random_seed": 0, "verbose": False, "thread_count": 1,
              "allow_writing_files": False}

    def binary():
        m = catboost.CatBoostClassifier(**common).fit(Xn[:TRAIN], yb[:TRAIN])
        save(out, "catboost_binary_nan", export(m, "cb_bin"), {"features": Xn[TRAIN:]},
             "CatBoostClassifier binary (40 oblivious trees, depth 6), NaN in training and scored rows")

    def multiclass():
        m = catboost.CatBoostClassifier(loss_function="MultiClass", **common).fit(X3[:TRAIN], y3[:TRAIN])
        save(out, "catboost_multiclass", export(m, "cb_3"), {"features": X3[TRAIN:]},
             "CatBoostClassifier 3 classes (MultiClass loss)")

    def regressor():
        m = catboost.CatBoostRegressor(**common).fit(Xr[:TRAIN], yr[:TRAIN])
        save(out, "catboost_regressor", export(m, "cb_reg"), {"features": Xr[TRAIN:]}, "CatBoostRegressor")

    def categorical():
        import pandas as pd

        cats = np.array(["basic", "plus", "pro"])[np.random.default_rng(35).integers(0, 3, len(Xb))]
        frame = pd.DataFrame({f"f{i}": Xb[:, i] for i in range(Xb.shape[1])})
        frame["plan"] = cats
        m = catboost.CatBoostClassifier(cat_features=["plan"], **common).fit(frame[:TRAIN], yb[:TRAIN])
        export(m, "cb_cat")  # CatBoost refuses this export (see FAILED.md); no fixture

    for name, build in [("catboost_binary_nan", binary), ("catboost_multiclass", multiclass),
                        ("catboost_regressor", regressor), ("catboost_categorical", categorical)]:
        attempt(name, build)


# ---------------------------------------------------------------- scikit-learn HistGradientBoosting (skl2onnx)

def hgb_fixtures(out):
    """HistGradientBoosting with NaN through skl2onnx (the converter the issue names for scikit-learn)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    Xb, yb = data(41, features=6)
    Xn = with_nans(Xb, np.random.default_rng(42))
    Xr, yr = data(43, regression=True)
    Xrn = with_nans(Xr, np.random.default_rng(44))
    ft = [("X", FloatTensorType([None, 6]))]

    def classifier():
        m = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(Xn[:TRAIN], yb[:TRAIN])
        onx = convert_sklearn(m, initial_types=ft, target_opset=15, options={id(m): {"zipmap": False}})
        save(out, "skl_histgb_classifier_nan", onx, {"X": Xn[TRAIN:]}, "HistGradientBoostingClassifier, NaN")

    def regressor():
        m = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(Xrn[:TRAIN], yr[:TRAIN])
        onx = convert_sklearn(m, initial_types=ft, target_opset=15)
        save(out, "skl_histgb_regressor_nan", onx, {"X": Xrn[TRAIN:]}, "HistGradientBoostingRegressor, NaN")

    def categorical():
        Xc = Xn.copy()
        Xc[:, 0] = np.random.default_rng(45).integers(0, 5, len(Xc))
        m = HistGradientBoostingClassifier(max_iter=30, categorical_features=[0], random_state=0).fit(
            Xc[:TRAIN], yb[:TRAIN])
        onx = convert_sklearn(m, initial_types=ft, target_opset=15, options={id(m): {"zipmap": False}})
        save(out, "skl_histgb_categorical", onx, {"X": Xc[TRAIN:]}, "HistGradientBoostingClassifier, categorical")

    attempt("skl_histgb_classifier_nan", classifier)
    attempt("skl_histgb_categorical", categorical)
    attempt("skl_histgb_regressor_nan", regressor)


def main():
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "converters"))
    ap.add_argument("--only", choices=["spark", "catboost", "hgb"])
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "catboost"):
            catboost_fixtures(out, tmp)
        if args.only in (None, "hgb"):
            hgb_fixtures(out)
        if args.only in (None, "spark"):
            spark_fixtures(out)
    if args.only is None:
        with open(os.path.join(out, "FAILED.md"), "w") as f:
            f.write("# Converter runs that wrote no model\n\nWritten by Tests/models/make_converter_fixtures.py; "
                    "each line is the converter's own error (there is no file for Sluice to load).\n\n")
            for name, error, where in FAILED:
                f.write(f"- `{name}`: {error} (raised at {where})\n")
            if not FAILED:
                f.write("(none)\n")


if __name__ == "__main__":
    main()
