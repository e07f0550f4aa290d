#!/usr/bin/env python3
"""Builds the engine benchmark model set (issue 14) reproducibly, fixed seeds, into bench/models/<name>/.

Per model: model.onnx (what Sluice and onnxruntime load), inputs.json (64 rows in the Tests/fixtures/models
layout, used by sluice-bench-engine and engine_ort.py) and the native model the compiled-tree tools load:
model.txt (LightGBM, for lleaves and treelite) or model.json (XGBoost, for treelite). scikit-learn models are
retrained by bench/engine_compare.py from the same seeds when treelite needs them (a pickle is not portable).

Usage: bench/.venv-engine/bin/python bench/make_engine_models.py [--out bench/models]
Needs: numpy, scikit-learn, skl2onnx, onnxmltools, lightgbm, xgboost, onnxruntime.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "models"))

ROWS = 256  # distinct scored rows (inputs.json); a branch predictor must not learn a handful of rows


def data(features, classes, seed, nan=0.0, n=20000):
    """Synthetic classification rows; the last ROWS are held out (scored, never trained on)."""
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=n, n_features=features, n_informative=min(features, 6),
                               n_redundant=0, n_classes=classes, n_clusters_per_class=2, random_state=seed)
    x = x.astype(np.float32)
    if nan > 0:
        rng = np.random.default_rng(seed)
        x[rng.random(x.shape) < nan] = np.nan
    return x, y


def write(out, name, onx, x, native=None, note=""):
    """model.onnx, inputs.json and expected.json (onnxruntime's outputs) as Tests/models/make_models.py writes
    them, on the last ROWS rows (held out from training), plus the native model file."""
    import make_models
    d = os.path.join(out, name)
    make_models.save(out, name, onx, {onx.graph.input[0].name: x[-ROWS:]}, note or name)
    if native:
        native(d)
    print(name, os.path.getsize(os.path.join(d, "model.onnx")) // 1024, "KiB")


def lightgbm_model(out, trees, leaves, classes, seed):
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType
    x, y = data(8, classes, seed, nan=0.02 if trees > 200 else 0.0)
    params = dict(n_estimators=trees, num_leaves=leaves, learning_rate=0.05, min_child_samples=5,
                  random_state=seed, deterministic=True, n_jobs=1, verbose=-1)
    m = lgb.LGBMClassifier(**params).fit(x[:-ROWS], y[:-ROWS])
    onx = convert_lightgbm(m, initial_types=[("input", FloatTensorType([None, 8]))], zipmap=False,
                           target_opset=15)
    kind = "binary" if classes == 2 else f"{classes}class"
    write(out, f"lgbm_{trees}x{leaves}_{kind}", onx, x, lambda d: m.booster_.save_model(os.path.join(d, "model.txt")))


def xgboost_model(out):
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType
    x, y = data(16, 2, 7, nan=0.1)
    m = xgb.XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, random_state=7, n_jobs=1,
                          tree_method="hist").fit(x[:-ROWS], y[:-ROWS])
    onx = convert_xgboost(m, initial_types=[("input", FloatTensorType([None, 16]))], target_opset=15)
    write(out, "xgb_300xd6_nan", onx, x, lambda d: m.save_model(os.path.join(d, "model.json")))


def sklearn_models(out):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    for name, est, x in sklearn_estimators(only=""):
        onx = convert_sklearn(est, initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
                              options={id(est): {"zipmap": False}}, target_opset=15)
        write(out, name, onx, x)


def sklearn_estimators(only=""):
    """The scikit-learn models, trained from fixed seeds (also used by engine_compare.py for treelite)."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    out = []
    if only in ("", "skl_rf_100xd10"):
        x, y = data(16, 2, 11)
        rf = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=11, n_jobs=1)
        out.append(("skl_rf_100xd10", rf.fit(x[:-ROWS], y[:-ROWS]), x))
    if only in ("", "skl_gbt_200xd3"):
        x2, y2 = data(16, 2, 13, n=10000)
        gbt = GradientBoostingClassifier(n_estimators=200, max_depth=3, random_state=13)
        out.append(("skl_gbt_200xd3", gbt.fit(x2[:-ROWS], y2[:-ROWS]), x2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "models"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    jobs = {
        "lgbm": lambda: [lightgbm_model(a.out, t, l, c, 3) for t, l in ((200, 31), (500, 63)) for c in (2, 3)],
        "xgb": lambda: xgboost_model(a.out),
        "skl": lambda: sklearn_models(a.out),
    }
    for k, f in jobs.items():
        if not a.only or k in a.only.split(","):
            f()


if __name__ == "__main__":
    main()
