#!/usr/bin/env python3
"""Builds the extra engine test models the shared fixtures do not cover.

For each model it writes <out>/<name>/model.onnx, inputs.json (one entry per graph input, row-major data) and
expected.json (onnxruntime's outputs on those rows, one run, one thread) in the layout of
Tests/fixtures/models (see its README). Float32 values are written with repr() of their float64 widening, so
Float(Double(text)) recovers the exact bits; NaN
(a missing value) is written as null.

Usage: make_models.py [--out Tests/integration/_models]
Needs: numpy, scikit-learn, skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime (Tests/integration/requirements.txt).
"""
import argparse
import json
import os

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

ROWS = 500


def tolist(a):
    a = np.asarray(a)
    if a.dtype == np.float32:
        # NaN (a missing value) is written as null: JSON has no NaN.
        return [tolist(x) for x in a] if a.ndim > 1 else [None if np.isnan(x) else float(x) for x in a.astype(np.float64)]
    if a.dtype.kind in "iu":
        return a.astype(np.int64).tolist()
    if a.dtype.kind in "OUS":
        return a.astype(str).tolist()
    return a.tolist()


def dtype_name(a):
    a = np.asarray(a)
    if a.dtype == np.float32:
        return "float32"
    if a.dtype.kind in "iu":
        return "int64"
    if a.dtype == np.float64:
        return "float64"
    return "string"


def save(out, name, onx, feeds, note):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"])
    results = sess.run(None, feeds)
    inputs = []
    for i in sess.get_inputs():
        v = feeds[i.name]
        inputs.append({"name": i.name, "type": i.type, "dtype": dtype_name(v), "shape": list(v.shape),
                       "data": tolist(v)})
    outputs = []
    for o, r in zip(sess.get_outputs(), results):
        if isinstance(r, list):  # ZipMap
            outputs.append({"name": o.name, "type": o.type, "dtype": "map", "shape": [len(r)],
                            "data": [{str(k): float(np.float32(v)) for k, v in row.items()} for row in r]})
        else:
            outputs.append({"name": o.name, "type": o.type, "dtype": dtype_name(r), "shape": list(r.shape),
                            "data": tolist(r)})
    with open(os.path.join(d, "inputs.json"), "w") as f:
        rows = len(next(iter(feeds.values())))
        json.dump({"model": name, "rows": rows, "note": note, "inputs": inputs}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"model": name, "produced_by": f"onnxruntime {ort.__version__}, one run, 1 thread",
                   "outputs": outputs}, f)
    print(f"{name}: {', '.join(o['name'] for o in outputs)}")


def with_nans(X, rng, rate=0.05):
    X = X.copy()
    X[rng.random(X.shape) < rate] = np.nan
    return X


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "integration", "_models"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    rng = np.random.default_rng(7)
    nozip = {"zipmap": False}

    # Regression data.
    Xr, yr = make_regression(n_samples=2000 + ROWS, n_features=6, noise=5.0, random_state=1)
    Xr = Xr.astype(np.float32)
    Xr_tr, Xr_te = Xr[:-ROWS], Xr[-ROWS:]
    yr_tr = yr[:-ROWS]
    ft = [("X", FloatTensorType([None, 6]))]

    m = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0).fit(Xr_tr, yr_tr)
    save(out, "skl_rf_regressor", convert_sklearn(m, initial_types=ft, target_opset=15), {"X": Xr_te},
         "RandomForestRegressor(30 trees, depth 8): TreeEnsembleRegressor, aggregate SUM of weights/30")
    m = GradientBoostingRegressor(n_estimators=40, max_depth=4, random_state=0).fit(Xr_tr, yr_tr)
    save(out, "skl_gb_regressor", convert_sklearn(m, initial_types=ft, target_opset=15), {"X": Xr_te},
         "GradientBoostingRegressor(40 trees): TreeEnsembleRegressor with base_values")
    m = LinearRegression().fit(Xr_tr, yr_tr)
    save(out, "skl_linear_regressor", convert_sklearn(m, initial_types=ft, target_opset=15), {"X": Xr_te},
         "LinearRegression: LinearRegressor")
    y2 = np.stack([yr_tr, yr_tr * 0.5 + 3], axis=1)
    m = DecisionTreeRegressor(max_depth=6, random_state=0).fit(Xr_tr, y2)
    save(out, "skl_tree_regressor_2targets", convert_sklearn(m, initial_types=ft, target_opset=15), {"X": Xr_te},
         "DecisionTreeRegressor with 2 targets: TreeEnsembleRegressor n_targets=2")

    # Classification data.
    Xc, yc = make_classification(n_samples=3000 + ROWS, n_features=8, n_informative=5, n_classes=2, random_state=2)
    Xc = Xc.astype(np.float32)
    Xc_tr, Xc_te, yc_tr = Xc[:-ROWS], Xc[-ROWS:], yc[:-ROWS]
    fc = [("X", FloatTensorType([None, 8]))]
    m = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(Xc_tr, yc_tr)
    save(out, "skl_gb_classifier", convert_sklearn(m, initial_types=fc, target_opset=15, options={id(m): nozip}),
         {"X": Xc_te}, "GradientBoostingClassifier binary: mixed-sign weights, LOGISTIC, base_values")

    X3, y3 = make_classification(n_samples=3000 + ROWS, n_features=8, n_informative=6, n_classes=3,
                                 n_clusters_per_class=1, random_state=3)
    X3 = X3.astype(np.float32)
    X3_tr, X3_te, y3_tr = X3[:-ROWS], X3[-ROWS:], y3[:-ROWS]
    m = RandomForestClassifier(n_estimators=25, max_depth=7, random_state=0).fit(X3_tr, y3_tr)
    save(out, "skl_rf_multiclass", convert_sklearn(m, initial_types=fc, target_opset=15, options={id(m): nozip}),
         {"X": X3_te}, "RandomForestClassifier 3 classes: multi-weight leaves")
    names = np.array(["bronze", "gold", "silver"])
    m = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X3_tr, names[y3_tr])
    save(out, "skl_rf_string_labels", convert_sklearn(m, initial_types=fc, target_opset=15),
         {"X": X3_te}, "RandomForestClassifier with string class labels and ZipMap(string keys)")
    m = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X3_tr, y3_tr)
    save(out, "skl_gb_multiclass", convert_sklearn(m, initial_types=fc, target_opset=15, options={id(m): nozip}),
         {"X": X3_te}, "GradientBoostingClassifier 3 classes: SOFTMAX post-transform, base_values")

    # XGBoost and LightGBM (with missing values in the scored rows).
    import lightgbm
    import xgboost
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat

    Xn_tr = with_nans(Xc_tr, rng)
    Xn_te = with_nans(Xc_te, rng)
    m = xgboost.XGBClassifier(n_estimators=30, max_depth=4, learning_rate=0.2, random_state=0).fit(Xn_tr, yc_tr)
    onx = convert_xgboost(m, initial_types=[("X", MLFloat([None, 8]))], target_opset=15)
    save(out, "xgb_classifier_nan", onx, {"X": Xn_te}, "XGBClassifier binary, NaN inputs: BRANCH_LT + missing tracks")
    m = xgboost.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(X3_tr, y3_tr)
    onx = convert_xgboost(m, initial_types=[("X", MLFloat([None, 8]))], target_opset=15)
    save(out, "xgb_multiclass", onx, {"X": X3_te}, "XGBClassifier 3 classes: SOFTMAX")
    m = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, random_state=0, verbose=-1).fit(Xn_tr, yc_tr)
    onx = convert_lightgbm(m, initial_types=[("X", MLFloat([None, 8]))], target_opset=15, zipmap=False)
    save(out, "lgbm_classifier_nan", onx, {"X": Xn_te}, "LGBMClassifier binary, NaN inputs")
    m = lightgbm.LGBMRegressor(n_estimators=30, num_leaves=15, random_state=0, verbose=-1).fit(Xr_tr, yr_tr)
    onx = convert_lightgbm(m, initial_types=[("X", MLFloat([None, 6]))], target_opset=15)
    save(out, "lgbm_regressor", onx, {"X": Xr_te}, "LGBMRegressor")

    # LightGBM categorical splits (onnxmltools writes them as chains of BRANCH_EQ nodes) and a 3-class model with
    # missing values (the leaf-mask kernel adds each tree into its class).
    Xcat_tr, Xcat_te = Xn_tr.copy(), Xn_te.copy()
    Xcat_tr[:, 0] = rng.integers(0, 12, len(Xcat_tr))
    Xcat_te[:, 0] = rng.integers(0, 14, len(Xcat_te))  # 12, 13: categories never seen in training
    ycat_tr = (yc_tr + (Xcat_tr[:, 0] % 3 == 0)) % 2
    m = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=15, min_data_per_group=5, cat_smooth=1, random_state=0,
                                verbose=-1).fit(Xcat_tr, ycat_tr, categorical_feature=[0])
    onx = convert_lightgbm(m, initial_types=[("X", MLFloat([None, 8]))], target_opset=15, zipmap=False)
    save(out, "lgbm_categorical", onx, {"X": Xcat_te}, "LGBMClassifier with a categorical feature: BRANCH_EQ chains")
    m = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=31, random_state=0, verbose=-1).fit(
        with_nans(X3_tr, rng), y3_tr)
    onx = convert_lightgbm(m, initial_types=[("X", MLFloat([None, 8]))], target_opset=15, zipmap=False)
    save(out, "lgbm_multiclass_nan", onx, {"X": with_nans(X3_te, rng)}, "LGBMClassifier 3 classes, NaN inputs")

    # scikit-learn HistGradientBoosting, Spark ML stages and CatBoost: committed converter fixtures in
    # Tests/fixtures/converters (make_converter_fixtures.py).

    # Preprocessing ops: Imputer, Normalizer L1/L2/MAX.
    m = Pipeline([("imp", SimpleImputer(strategy="mean")), ("lr", LogisticRegression(max_iter=500))]).fit(Xn_tr, yc_tr)
    save(out, "skl_imputer_logreg", convert_sklearn(m, initial_types=fc, target_opset=15, options={id(m): nozip}),
         {"X": Xn_te}, "SimpleImputer(mean) + LogisticRegression: Imputer with NaN inputs")
    for norm in ["l1", "l2", "max"]:
        m = Pipeline([("norm", Normalizer(norm=norm)), ("lr", LogisticRegression(max_iter=500))]).fit(Xc_tr, yc_tr)
        save(out, f"skl_normalizer_{norm}", convert_sklearn(m, initial_types=fc, target_opset=15,
             options={id(m): nozip}), {"X": Xc_te}, f"Normalizer(norm={norm}) + LogisticRegression")
    m = Pipeline([("sc", StandardScaler()), ("lr", LogisticRegression(max_iter=500))]).fit(X3_tr, names[y3_tr])
    save(out, "skl_logreg_string_labels", convert_sklearn(m, initial_types=fc, target_opset=15,
         options={id(m): nozip}), {"X": X3_te}, "multinomial LogisticRegression with string labels")

    # A categorical pipeline with an unknown category in the scored rows.
    cats = np.array(["a", "b", "c", "d"])
    cat_tr = cats[rng.integers(0, 3, len(Xc_tr))].reshape(-1, 1)
    cat_te = np.array(["a", "b", "c", "zz"])[rng.integers(0, 4, ROWS)].reshape(-1, 1)
    m = Pipeline([("ohe", OneHotEncoder(handle_unknown="ignore")),
                  ("lr", LogisticRegression(max_iter=500))]).fit(cat_tr, yc_tr)
    onx = convert_sklearn(m, initial_types=[("cat", StringTensorType([None, 1]))], target_opset=15,
                          options={id(m): nozip})
    save(out, "skl_onehot_unknown_category", onx, {"cat": cat_te.astype(object)},
         "OneHotEncoder(handle_unknown=ignore) + LogisticRegression; scored rows hold an unseen category (zeros)")

    # PROBIT post-transforms (sqrt(2) * erfinv(2v - 1)), on scores kept inside (0, 1) where they are defined.
    from onnx import TensorProto, helper

    Xp = rng.uniform(-4.9, 4.9, size=(ROWS, 2)).astype(np.float32)
    node = helper.make_node("LinearRegressor", ["X"], ["variable"], domain="ai.onnx.ml", name="lin_probit",
                            coefficients=[0.06, 0.04], intercepts=[0.5], post_transform="PROBIT")
    graph = helper.make_graph([node], "lin_probit", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])])
    onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)])
    onx.ir_version = 8
    save(out, "linear_regressor_probit", onx, {"X": Xp}, "LinearRegressor with post_transform PROBIT")
    yp = 1 / (1 + np.exp(-(Xr_tr[:, 0] + 0.5 * Xr_tr[:, 1])))  # targets in (0, 1)
    m = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(Xr_tr, np.clip(yp, 0.02, 0.98))
    onx = convert_sklearn(m, initial_types=ft, target_opset=15)
    ensemble = next(n for n in onx.graph.node if n.op_type == "TreeEnsembleRegressor")
    for attribute in list(ensemble.attribute):
        if attribute.name == "post_transform":
            ensemble.attribute.remove(attribute)
    ensemble.attribute.append(helper.make_attribute("post_transform", "PROBIT"))
    save(out, "skl_rf_regressor_probit", onx, {"X": Xr_te},
         "RandomForestRegressor on targets in (0, 1), post_transform set to PROBIT")


if __name__ == "__main__":
    main()
