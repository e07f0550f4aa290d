"""Issue 10: `sluice score` on real files, through the real binary.

Reads JSON records (pandas' orient="records"), JSON Lines and CSV; maps columns by feature name, by
`--feature-names` for an X[N,4] input, or by a one-column input's name; passes `--id-column` through; writes JSON,
JSON Lines or CSV with one row per input row (id, label, scores, confidence); shows progress on a terminal for
more than 100,000 rows; every error names the file, the line and the cause.
"""
import csv
import io
import json
import os
import pty
import subprocess

import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS

LOGREG = SHARED_MODELS / "skl_logreg_churn"
SPARK = SHARED_MODELS / "spark_churn_rf"
FEATURES = ["age", "income", "tenure_months", "credit_score"]
ROWS = 200


def run(*args, timeout=120):
    return subprocess.run([sluice_bin(), "score", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def fixture_rows(directory=LOGREG, n=ROWS):
    inputs = json.loads((directory / "inputs.json").read_text())["inputs"]
    expected = json.loads((directory / "expected.json").read_text())["outputs"]
    if len(inputs) == 1:
        rows = [dict(zip(FEATURES, values)) for values in inputs[0]["data"][:n]]
    else:
        rows = [{spec["name"]: spec["data"][r][0] for spec in inputs} for r in range(n)]
    labels = next(o["data"] for o in expected if o["dtype"] == "int64")[:n]
    probabilities = next(o["data"] for o in expected if o["dtype"] == "float32")[:n]
    for k, row in enumerate(rows):
        row["customer_id"] = f"c{k:04d}"
    return rows, labels, probabilities


def check_rows(got, labels, probabilities, with_id=True):
    assert len(got) == len(labels)
    for k, (row, label, probs) in enumerate(zip(got, labels, probabilities)):
        if with_id:
            assert row["id"] == f"c{k:04d}"
        assert int(row["label"]) == label, (k, row)
        scores = [float(row["scores"]["0"]), float(row["scores"]["1"])]
        assert all(abs(a - b) < 1e-5 for a, b in zip(scores, probs)), (k, scores, probs)
        assert abs(float(row["confidence"]) - max(scores)) < 1e-6


def test_records_jsonl_and_csv_with_feature_names_and_ids(tmp_path):
    rows, labels, probabilities = fixture_rows()
    model = LOGREG / "model.onnx"
    names = ",".join(FEATURES)
    records = tmp_path / "rows.json"
    records.write_text(json.dumps(rows))
    out = run("--model", model, "--input", records, "--feature-names", names, "--id-column", "customer_id")
    assert out.returncode == 0, out.stderr
    check_rows(json.loads(out.stdout), labels, probabilities)

    lines = tmp_path / "rows.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    target = tmp_path / "predictions.jsonl"
    out = run("--model", model, "--input", lines, "--feature-names", names, "--id-column", "customer_id",
              "--output", target)
    assert out.returncode == 0, out.stderr
    check_rows([json.loads(l) for l in target.read_text().splitlines()], labels, probabilities)

    table = tmp_path / "rows.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", *FEATURES])
        for r in rows:
            w.writerow([r["customer_id"], *[repr(r[k]) for k in FEATURES]])
    target = tmp_path / "predictions.csv"
    out = run("--model", model, "--input", table, "--feature-names", names, "--id-column", "customer_id",
              "--output", target, "--batch-size", 7)
    assert out.returncode == 0, out.stderr
    got = list(csv.DictReader(io.StringIO(target.read_text())))
    assert list(got[0].keys()) == ["id", "label", "score_0", "score_1", "confidence"]
    check_rows([{"id": g["id"], "label": g["label"], "scores": {"0": g["score_0"], "1": g["score_1"]},
                 "confidence": g["confidence"]} for g in got], labels, probabilities)


def test_fixture_layout_as_rows(tmp_path):
    expected = json.loads((LOGREG / "expected.json").read_text())["outputs"]
    labels = next(o["data"] for o in expected if o["dtype"] == "int64")
    out = run("--model", LOGREG / "model.onnx", "--input", LOGREG / "inputs.json", "--format", "csv")
    assert out.returncode == 0, out.stderr
    got = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [int(g["label"]) for g in got] == labels


def test_columns_named_after_features_or_inputs(tmp_path):
    # spark_churn_rf has one input per column (age, income, ...): headers match the input names directly.
    rows, labels, probabilities = fixture_rows(SPARK)
    table = tmp_path / "rows.csv"
    table.write_text("customer_id," + ",".join(FEATURES) + "\n" + "".join(
        f"{r['customer_id']}," + ",".join(repr(r[k]) for k in FEATURES) + "\n" for r in rows))
    out = run("--model", SPARK / "model.onnx", "--input", table, "--id-column", "customer_id", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    check_rows([json.loads(l) for l in out.stdout.splitlines()], labels, probabilities)
    # X[N,4] with X[0]..X[3] headers works without --feature-names; other names get a precise hint.
    xrows = [{f"X[{i}]": r[k] for i, k in enumerate(FEATURES)} for r in rows]
    records = tmp_path / "x.json"
    records.write_text(json.dumps(xrows))
    out = run("--model", LOGREG / "model.onnx", "--input", records)
    assert out.returncode == 0, out.stderr
    assert [r["label"] for r in json.loads(out.stdout)] == fixture_rows()[1]
    # Or one list per row under the input's name (X[N,4] as {"X": [...]}).
    lists = tmp_path / "lists.jsonl"
    lists.write_text("".join(json.dumps({"id": k, "X": [r[f] for f in FEATURES]}) + "\n" for k, r in enumerate(rows)))
    out = run("--model", LOGREG / "model.onnx", "--input", lists, "--id-column", "id", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    got = [json.loads(l) for l in out.stdout.splitlines()]
    assert [g["label"] for g in got] == fixture_rows()[1] and got[3]["id"] == "3"
    named = tmp_path / "named.json"
    named.write_text(json.dumps([{k: r[k] for k in FEATURES} for r in rows]))
    out = run("--model", LOGREG / "model.onnx", "--input", named)
    assert out.returncode == 1
    assert 'no column for features "X[0]", "X[1]", "X[2]", "X[3]"' in out.stderr, out.stderr
    assert "pass --feature-names age,income,tenure_months,credit_score" in out.stderr, out.stderr


def test_errors_name_file_line_and_cause(tmp_path):
    model = LOGREG / "model.onnx"
    names = ",".join(FEATURES)
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"age": 1, "income": 2},\n  {"age": 3 "income": 4}\n]\n')
    out = run("--model", model, "--input", broken, "--feature-names", names)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: {broken}: line 3, column 13: expected ',' or '}}'"), out.stderr
    assert "could not be completed" not in out.stderr

    table = tmp_path / "rows.csv"
    table.write_text("age,income,tenure_months,credit_score\n1,2,3,4\n5,6,7,8\n9,ten,11,12\n")
    out = run("--model", model, "--input", table, "--feature-names", names)
    assert out.returncode == 1 and f'{table}: line 4: column "income": "ten" is not a number' in out.stderr, out.stderr
    table.write_text("age,income,tenure_months,credit_score\n1,2,3,4\n5,6,7\n")
    out = run("--model", model, "--input", table, "--feature-names", names)
    assert out.returncode == 1 and f"{table}: line 3: 3 fields, but the header has 4" in out.stderr, out.stderr

    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"age": 1, "income": 2, "tenure_months": 3, "credit_score": 4}\n[1, 2]\n')
    out = run("--model", model, "--input", lines, "--feature-names", names)
    assert out.returncode == 1 and f"{lines}: line 2: expected a JSON object" in out.stderr, out.stderr

    good = tmp_path / "good.csv"
    good.write_text("age,income,tenure_months,credit_score\n1,2,3,4\n")
    out = run("--model", model, "--input", good, "--feature-names", names, "--output", tmp_path / "no" / "out.json")
    assert out.returncode == 1
    assert f"cannot write {tmp_path / 'no' / 'out.json'}: No such file or directory" in out.stderr, out.stderr
    assert "NSCocoaErrorDomain" not in out.stderr
    out = run("--model", model, "--input", tmp_path / "missing.csv")
    assert out.returncode == 1 and "cannot read" in out.stderr and "No such file or directory" in out.stderr
    out = run("--model", model, "--input", good, "--feature-names", names, "--id-column", "customer")
    assert out.returncode == 1 and 'no column "customer" for --id-column' in out.stderr, out.stderr


def test_progress_only_on_a_terminal_for_large_inputs(tmp_path):
    table = tmp_path / "big.csv"
    body = "".join(f"{20 + i % 60},{30000 + i % 9000},{i % 70},{600 + i % 200}\n" for i in range(100_001))
    table.write_text("age,income,tenure_months,credit_score\n" + body)
    args = [sluice_bin(), "score", "--model", str(LOGREG / "model.onnx"), "--input", str(table), "--feature-names",
            ",".join(FEATURES), "--output", str(tmp_path / "out.csv")]
    quiet = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 100_002

    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    assert b"scored 100001 of 100001 rows (100%)" in seen, seen[-300:]

    small = tmp_path / "small.csv"
    small.write_text("age,income,tenure_months,credit_score\n" + body[:2000].rsplit("\n", 1)[0] + "\n")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args[:5] + [str(small)] + args[6:], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    assert proc.wait(timeout=120) == 0
    try:
        rest = os.read(leader, 4096)
    except OSError:
        rest = b""
    os.close(leader)
    assert b"scored" not in rest
