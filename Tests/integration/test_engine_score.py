"""Black-box tests of the inference engine through the real binary: `sluice score` and `sluice inspect`.

Parity: every model in Tests/fixtures/models, every converter fixture in Tests/fixtures/converters (Spark ML via
convert_sparkml, CatBoost's ONNX export, HistGradientBoosting via skl2onnx) and every model built by
Tests/models/make_models.py (into Tests/integration/_models) reproduces onnxruntime's expected.json: labels exactly, floats within 1e-5 (relative
for values above 1). Malformed models are refused with a clear message and a non-zero exit, never a crash.

Binary: $SLUICE_BIN, else .build/release/sluice, else .build/debug/sluice.
"""
import csv
import json
import math
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "Tests" / "fixtures" / "models"
EXTRA = ROOT / "Tests" / "integration" / "_models"
CONVERTERS = ROOT / "Tests" / "fixtures" / "converters"


def sluice():
    env = os.environ.get("SLUICE_BIN")
    if env:
        return env
    for p in (ROOT / ".build/release/sluice", ROOT / ".build/debug/sluice"):
        if p.exists():
            return str(p)
    pytest.skip("no sluice binary: build it or set SLUICE_BIN")


def model_dirs():
    dirs = []
    for base in (SHARED, CONVERTERS, EXTRA):
        if base.is_dir():
            dirs += [d for d in sorted(base.iterdir()) if (d / "model.onnx").exists() and (d / "expected.json").exists()]
    return dirs


def run(*args, timeout=120):
    return subprocess.run([sluice(), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def flat(v):
    if isinstance(v, list):
        for x in v:
            yield from flat(x)
    else:
        yield v


def assert_outputs_match(got, expected, name):
    by_name = {o["name"]: o for o in got["outputs"]}
    for e in expected["outputs"]:
        g = by_name[e["name"]]
        assert g["shape"][:1] == e["shape"][:1], f"{name}/{e['name']}: rows differ"
        if e["dtype"] == "map":
            for r, (gm, em) in enumerate(zip(g["data"], e["data"])):
                assert set(gm) == set(em), f"{name} row {r}: keys {set(gm)} != {set(em)}"
                for k in em:
                    assert math.isclose(gm[k], em[k], abs_tol=1e-5), f"{name} row {r} key {k}: {gm[k]} vs {em[k]}"
        elif e["dtype"] in ("int64", "string"):
            assert list(flat(g["data"])) == list(flat(e["data"])), f"{name}/{e['name']}: labels differ"
        else:
            gv, ev = list(flat(g["data"])), list(flat(e["data"]))
            assert len(gv) == len(ev)
            for i, (a, b) in enumerate(zip(gv, ev)):
                assert abs(a - b) <= 1e-5 * max(1.0, abs(b)), f"{name}/{e['name']}[{i}]: {a} vs {b}"


@pytest.mark.parametrize("model_dir", model_dirs(), ids=lambda d: d.name)
def test_score_matches_onnxruntime(model_dir, tmp_path):
    out = tmp_path / "preds.json"
    r = run("score", "--model", model_dir / "model.onnx", "--input", model_dir / "inputs.json", "--output", out)
    assert r.returncode == 0, r.stderr
    assert_outputs_match(json.loads(out.read_text()), json.loads((model_dir / "expected.json").read_text()), model_dir.name)


@pytest.mark.parametrize("name", ["spark_churn_rf", "skl_logreg3_zipmap", "xgb_classifier_nan"])
def test_score_one_row_at_a_time(name, tmp_path):
    d = SHARED / name if (SHARED / name).exists() else EXTRA / name
    if not d.exists():
        pytest.skip(f"{name} not built")
    r = run("score", "--model", d / "model.onnx", "--input", d / "inputs.json", "--batch-size", 1)
    assert r.returncode == 0, r.stderr
    assert_outputs_match(json.loads(r.stdout), json.loads((d / "expected.json").read_text()), name)


def test_score_csv_with_string_column(tmp_path):
    d = SHARED / "skl_ct_pipeline_churn"
    inputs = json.loads((d / "inputs.json").read_text())["inputs"]
    names = [i["name"] for i in inputs]
    columns = [list(flat(i["data"])) for i in inputs]
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row in zip(*columns):
            w.writerow([repr(v) if isinstance(v, float) else v for v in row])
    r = run("score", "--model", d / "model.onnx", "--input", path, "--format", "tensors")
    assert r.returncode == 0, r.stderr
    assert_outputs_match(json.loads(r.stdout), json.loads((d / "expected.json").read_text()), "csv")


def test_inspect_prints_signature():
    r = run("inspect", SHARED / "spark_churn_rf" / "model.onnx")
    assert r.returncode == 0, r.stderr
    for text in ["task: classifier", "age: tensor(float) [N, 1]", "prediction: tensor(int64) [N]  (label)",
                 "class labels: 0, 1", "ai.onnx.ml.TreeEnsembleClassifier × 1", "ai.onnx.ml 1", "load time:"]:
        assert text in r.stdout, r.stdout


# ---- malformed models -----------------------------------------------------------------------------------

def refuse(path, *needles):
    r = run("inspect", path, timeout=60)
    assert r.returncode != 0, f"{path.name} was accepted:\n{r.stdout}"
    assert r.returncode < 128 and "Fatal error" not in r.stderr, f"crash: {r.returncode} {r.stderr}"
    for n in needles:
        assert n in r.stderr, r.stderr
    return r.stderr


def test_truncated_file_is_refused(tmp_path):
    data = (SHARED / "skl_rf_churn" / "model.onnx").read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 3):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(data[:cut])
        refuse(p)


def test_wrong_magic_and_empty_files_are_refused(tmp_path):
    p = tmp_path / "x.onnx"
    p.write_bytes(b"PK\x03\x04 this is a zip file, not ONNX")
    refuse(p, "not")
    p.write_bytes(b"")
    refuse(p, "empty")
    refuse(tmp_path / "missing.onnx", "cannot open")


onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def save(tmp_path, graph, name, opsets=(("", 15), ("ai.onnx.ml", 3))):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    p = tmp_path / f"{name}.onnx"
    p.write_bytes(model.SerializeToString())
    return p


def test_unknown_op_is_refused_naming_node_and_op(tmp_path):
    node = helper.make_node("SVMClassifier", ["X"], ["label", "prob"], domain="ai.onnx.ml", name="TreeEnsembleClassifier_3")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
                          [helper.make_tensor_value_info("label", TensorProto.INT64, [None])])
    err = refuse(save(tmp_path, g, "svm"))
    assert 'node "TreeEnsembleClassifier_3": op ai.onnx.ml.SVMClassifier is not supported' in err


def test_cycle_is_refused(tmp_path):
    a = helper.make_node("Relu", ["b"], ["a"], name="first")
    b = helper.make_node("Relu", ["a"], ["b"], name="second")
    g = helper.make_graph([a, b], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
                          [helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1])])
    refuse(save(tmp_path, g, "cycle"), "cycle")


def test_undefined_tensor_is_refused(tmp_path):
    n = helper.make_node("Relu", ["nope"], ["y"], name="r")
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
    refuse(save(tmp_path, g, "undef"), '"nope"', "never defined")


def test_huge_declared_dims_are_refused(tmp_path):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
    n = helper.make_node("Add", ["X", "w"], ["y"], name="add")
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], initializer=[t])
    refuse(save(tmp_path, g, "huge"), "initializer", "w")


def test_bad_opset_and_ir_version_are_refused(tmp_path):
    n = helper.make_node("Relu", ["X"], ["y"], name="r")
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
    refuse(save(tmp_path, g, "opset", opsets=(("", 99),)), "opset 99")
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 2
    p = tmp_path / "ir.onnx"
    p.write_bytes(model.SerializeToString())
    refuse(p, "IR version 2")


def test_shape_mismatch_is_refused_at_load(tmp_path):
    coef = [0.1] * 6  # 3 features × 2 classes
    n = helper.make_node("LinearClassifier", ["X"], ["label", "prob"], domain="ai.onnx.ml", name="lin",
                         coefficients=coef, intercepts=[0.0, 0.0], classlabels_ints=[0, 1])
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 5])],
                          [helper.make_tensor_value_info("label", TensorProto.INT64, [None])])
    refuse(save(tmp_path, g, "shape"), 'node "lin"', "5 features")
