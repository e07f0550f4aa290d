"""Drift monitoring through the real binary: reference profiles built by the CLI from training-like data, live
windows fed by Predict and BatchPredict, statistics in GetModelVersion, /metrics and `sluice models drift`, checked
against numpy/scipy on the same data.

The model is the shared `skl_ct_pipeline_churn` fixture (4 numeric features and the string feature `plan`). Training
and held-out rows come from a churn-like generator with fixed seeds. One registry holds the same model three times
(version 1: same-distribution replay, version 2: income x 1.5, version 3: a changed `plan` mix), so each scenario
has its own window. Windows are 1,000 requests (model.json), statistics are recomputed every 0.2 s, and BatchPredict
records every row (`--monitor-batch-stride 1`) so that one batch fills a window.
"""
import json
import math
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest
from scipy import stats

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, register, wait_serving

FEATURES = ["age", "income", "tenure_months", "credit_score"]
PLANS = ["basic", "plus", "premium"]
WINDOW = 1000


def make_rows(seed, n):
    """Churn-like rows (the fixture's input ranges), as float32-exact numbers and plan strings."""
    rng = np.random.default_rng(seed)
    columns = {
        "age": rng.integers(18, 81, n).astype(np.float32),
        "income": np.clip(np.round(np.exp(rng.normal(10.95, 0.45, n))), 10000, 270000).astype(np.float32),
        "tenure_months": rng.integers(0, 73, n).astype(np.float32),
        "credit_score": np.clip(np.round(rng.normal(660, 70, n)), 410, 850).astype(np.float32),
        "plan": rng.choice(PLANS, n, p=[0.5, 0.28, 0.22]),
    }
    return columns


def write_csv(path, columns):
    n = len(columns["plan"])
    with open(path, "w") as out:
        out.write(",".join(FEATURES + ["plan"]) + "\n")
        for i in range(n):
            out.write(",".join([repr(float(columns[f][i])) for f in FEATURES] + [str(columns["plan"][i])]) + "\n")


def write_jsonl(path, columns):
    n = len(columns["plan"])
    with open(path, "w") as out:
        for i in range(n):
            row = {f: float(columns[f][i]) for f in FEATURES}
            row["plan"] = str(columns["plan"][i])
            out.write(json.dumps(row) + "\n")


def run_cli(*args, check=True):
    out = subprocess.run([sluice_bin(), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A registry with three profiled versions of the churn pipeline and the training data they were profiled on."""
    root = tmp_path_factory.mktemp("monitoring")
    registry = root / "registry"
    model = SHARED_MODELS / "skl_ct_pipeline_churn" / "model.onnx"
    train = make_rows(1001, 5000)
    write_csv(root / "train.csv", train)
    write_jsonl(root / "train.jsonl", train)
    # Version 1 is profiled while registering; 2 and 3 afterwards, from JSON Lines.
    out = run_cli("models", "register", "--registry", registry, "--name", "churn", "--file", model,
                  "--stage", "Production", "--profile-data", root / "train.csv")
    assert "profiled: 5000 rows, 4 numeric and 1 categorical features, binary predictions" in out.stdout
    for alias in ("income", "plan"):
        version = register(sluice_bin(), registry, "churn", model, stage="None", aliases=[alias])
        run_cli("models", "profile", "churn", "--version", version, "--data", root / "train.jsonl",
                "--registry", registry)
    run_cli("models", "monitoring", "churn", "--window-requests", WINDOW, "--min-requests", 200,
            "--registry", registry)
    profiles = [json.loads((registry / "churn" / str(v) / "profile.json").read_text()) for v in (1, 2, 3)]
    # CSV and JSON Lines give the same features; the prediction profile matches too.
    assert profiles[0]["features"] == profiles[1]["features"] == profiles[2]["features"]
    assert profiles[0]["prediction"] == profiles[1]["prediction"]
    return {"registry": registry, "train": train, "profile": profiles[0]}


@pytest.fixture
def server(setup, sluice_server, proto_modules):
    admin = free_port()
    process = sluice_server("--models", setup["registry"], "--monitor-interval", "0.2", "--monitor-batch-stride", "1",
                            "--monitor-max-features", "3", "--admin-listen", f"127.0.0.1:{admin}")
    wait_serving(process, proto_modules)
    process.admin = admin
    return process


def batch(pb, version, columns):
    request = pb.BatchPredictRequest(model="churn", version=str(version))
    for name in FEATURES:
        request.columns.add(name=name, values=[float(v) for v in columns[name]])
    request.columns.add(name="plan", strings=[str(v) for v in columns["plan"]])
    return request


def monitoring(stub, pb, version):
    reply = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version=str(version)), timeout=10)
    return reply.versions[0].monitoring


def wait_window(stub, pb, version, rows, timeout=30.0):
    """Polls GetModelVersion until the version's window holds `rows` requests; returns the monitoring section."""
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        report = monitoring(stub, pb, version)
        if report.window_requests == rows:
            return report
        time.sleep(0.05)
    raise AssertionError(f"window of version {version} never held {rows} requests: {report}")


def wait_line(server, text, timeout=10.0):
    """Waits until the server's log (read by a thread) has a line containing `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in server.lines):
            return
        time.sleep(0.05)
    raise AssertionError(f"no log line with {text!r}:\n{server.output}")


def by_name(report):
    return {feature.name: feature for feature in report.features}


def reference_psi(feature_profile, live):
    """PSI as docs/monitoring.md defines it, on the profile's decile bins (right-closed), shares floored at 1e-4."""
    edges = np.array(feature_profile["edges"])
    counts = np.array(feature_profile["counts"], dtype=float)
    psi_edges = np.array(feature_profile["psi_edges"])
    groups = np.searchsorted(psi_edges, edges, side="left")
    expected = np.zeros(len(psi_edges) + 1)
    for fine, count in enumerate(counts):
        expected[groups[fine] if fine < len(edges) else len(psi_edges)] += count
    actual = np.bincount(np.searchsorted(psi_edges, live, side="left"), minlength=len(psi_edges) + 1).astype(float)
    a = np.maximum(actual / actual.sum(), 1e-4)
    e = np.maximum(expected / expected.sum(), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def check_numeric_against_scipy(feature, feature_profile, train, live):
    """PSI equals numpy's on the same bins; KS is within the documented bound of scipy.stats.ks_2samp on raw data."""
    assert feature.kind == "numeric"
    assert feature.count == len(live)
    assert math.isclose(feature.psi, reference_psi(feature_profile, live), rel_tol=1e-9, abs_tol=1e-12)
    exact = stats.ks_2samp(train, live)
    edges = np.array(feature_profile["edges"])
    ref_share = np.array(feature_profile["counts"]) / np.sum(feature_profile["counts"])
    live_share = np.bincount(np.searchsorted(edges, live, side="left"), minlength=len(edges) + 1) / len(live)
    bound = float(np.max(np.maximum(ref_share, live_share)))
    assert feature.ks_statistic <= exact.statistic + 1e-12
    assert exact.statistic - feature.ks_statistic <= bound + 1e-12, (feature.name, exact.statistic, feature.ks_statistic, bound)
    n, m = len(live), len(train)
    assert math.isclose(feature.ks_p_value, stats.kstwobign.sf(math.sqrt(n * m / (n + m)) * feature.ks_statistic),
                        rel_tol=1e-8, abs_tol=1e-12)


def check_plan_against_scipy(feature, feature_profile, live):
    categories = feature_profile["categories"]
    observed = np.array([np.sum(live == c) for c in categories], dtype=float)
    reference = np.array(feature_profile["category_counts"], dtype=float)
    expected = observed.sum() * reference / reference.sum()
    result = stats.chisquare(observed, expected)
    assert math.isclose(feature.chi_square, result.statistic, rel_tol=1e-9)
    assert math.isclose(feature.chi_square_p_value, result.pvalue, rel_tol=1e-6, abs_tol=1e-300)
    assert math.isnan(feature.ks_statistic)
    unseen = float(np.sum(~np.isin(live, categories)))
    assert math.isclose(feature.unseen_share, unseen / len(live), abs_tol=1e-12)
    actual = np.append(observed, unseen)
    ref = np.append(reference, feature_profile["other_count"])
    a = np.maximum(actual / actual.sum(), 1e-4)
    e = np.maximum(ref / ref.sum(), 1e-4)
    assert math.isclose(feature.psi, float(np.sum((a - e) * np.log(a / e))), rel_tol=1e-9, abs_tol=1e-12)


def test_drift_scenarios_match_scipy(setup, server, proto_modules):
    pb = proto_modules.inference_pb2
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    train, profile = setup["train"], {f["name"]: f for f in setup["profile"]["features"]}
    held_out = make_rows(2002, WINDOW)

    # Same distribution: every feature and the prediction stay OK.
    stub.BatchPredict(batch(pb, 1, held_out), timeout=30)
    same = wait_window(stub, pb, 1, WINDOW)
    assert same.profiled and same.reference_rows == 5000 and same.window_limit_requests == WINDOW
    assert same.verdict == pb.DRIFT_OK, same
    features = by_name(same)
    assert sorted(features) == sorted(FEATURES + ["plan"])
    assert all(f.verdict == pb.DRIFT_OK for f in same.features), same
    assert same.prediction.verdict == pb.DRIFT_OK and same.prediction.kind == "binary"
    for name in FEATURES:
        check_numeric_against_scipy(features[name], profile[name], train[name], held_out[name])
        assert features[name].missing_share == 0
    check_plan_against_scipy(features["plan"], profile["plan"], held_out["plan"])

    # income x 1.5: that feature, and only that one, is DRIFT within one window; the predictions follow.
    shifted = dict(held_out, income=(held_out["income"] * np.float32(1.5)).astype(np.float32))
    stub.BatchPredict(batch(pb, 2, shifted), timeout=30)
    income = wait_window(stub, pb, 2, WINDOW)
    features = by_name(income)
    assert features["income"].verdict == pb.DRIFT_DRIFT, income
    assert [f.name for f in income.features if f.verdict != pb.DRIFT_OK] == ["income"], income
    assert features["income"].ks_p_value < 1e-10
    check_numeric_against_scipy(features["income"], profile["income"], train["income"], shifted["income"])
    assert income.verdict == pb.DRIFT_DRIFT
    assert income.prediction.psi > 4 * same.prediction.psi
    assert abs(income.prediction.positive_rate_shift) > abs(same.prediction.positive_rate_shift) + 0.02

    # A changed plan mix with an unseen category: chi-square and PSI flag it.
    rng = np.random.default_rng(3003)
    moved = dict(held_out, plan=rng.choice(PLANS + ["enterprise"], WINDOW, p=[0.15, 0.2, 0.6, 0.05]))
    stub.BatchPredict(batch(pb, 3, moved), timeout=30)
    plan = wait_window(stub, pb, 3, WINDOW)
    features = by_name(plan)
    assert features["plan"].verdict == pb.DRIFT_DRIFT, plan
    assert features["plan"].chi_square_p_value < 1e-20
    assert 0.03 < features["plan"].unseen_share < 0.07
    check_plan_against_scipy(features["plan"], profile["plan"], moved["plan"])
    assert [f.name for f in plan.features if f.verdict == pb.DRIFT_DRIFT] == ["plan"]
    assert plan.prediction.psi > same.prediction.psi

    # Prometheus: per-feature PSI, prediction PSI, the verdict and the confidence histogram.
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.admin}/metrics", timeout=10).read().decode()
    series = {}
    for line in metrics.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            metric, _, labels = name.partition("{")
            pairs = frozenset(tuple(item.split("=", 1)) for item in labels.rstrip("}").replace('"', "").split(",") if item)
            series[(metric, pairs)] = float(value)

    def sample(metric, **labels):
        return series[(metric, frozenset(labels.items()))]

    assert sample("sluice_feature_psi", model="churn", version="2", feature="income") == pytest.approx(
        by_name(income)["income"].psi, rel=1e-6)
    assert sample("sluice_drift_verdict", model="churn", version="2") == 2
    assert sample("sluice_drift_verdict", model="churn", version="1") == 0
    assert sample("sluice_prediction_psi", model="churn", version="1") == pytest.approx(same.prediction.psi, rel=1e-6)
    assert sample("sluice_prediction_confidence_count", model="churn", version="1") == WINDOW
    assert sample("sluice_monitoring_window_requests", model="churn", version="3") == WINDOW
    # Cardinality cap (--monitor-max-features 3): the first 3 features in model order; all 5 stay in GetModelVersion.
    exported = sorted(dict(labels)["feature"] for (metric, labels) in series
                      if metric == "sluice_feature_psi" and dict(labels)["version"] == "1")
    assert exported == sorted([f.name for f in same.features][:3]) and len(same.features) == 5

    # The CLI view reads the state the server writes beside the registry.
    registry = setup["registry"]
    deadline = time.monotonic() + 30
    while True:
        out = run_cli("models", "drift", "churn", "--version", 2, "--json", "--registry", registry, check=False)
        report = json.loads(out.stdout) if out.returncode == 0 else {}
        if report.get("window_requests") == WINDOW or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert report["verdict"] == "DRIFT" and report["window_requests"] == WINDOW
    assert {f["name"]: f["verdict"] for f in report["features"]}["income"] == "DRIFT"
    table = run_cli("models", "drift", "churn", "--registry", registry).stdout
    assert "churn version 2: DRIFT" in table and "churn version 1: OK" in table
    assert any(line.split()[0] == "income" and line.split()[-1] == "DRIFT" for line in table.splitlines()[1:] if line.strip())


def test_predict_calls_fill_the_window_and_restart_keeps_the_reference(setup, server, sluice_server, proto_modules):
    pb = proto_modules.inference_pb2
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    rows = make_rows(4004, 150)
    for i in range(150):
        features = {name: pb.FeatureValue(number=float(rows[name][i])) for name in FEATURES}
        features["plan"] = pb.FeatureValue(text=str(rows["plan"][i]))
        stub.Predict(pb.PredictRequest(model="churn", version="1", features=features), timeout=10)
    report = wait_window(stub, pb, 1, 150)
    # Below min_requests (200) the verdicts wait, with a note saying so.
    assert report.verdict == pb.DRIFT_OK
    assert any("collecting: 150 of at least 200" in note for note in report.notes), report
    assert by_name(report)["age"].count == 150

    # An A/B rollout between versions 2 and 3: each variant's traffic fills its own version's window.
    stub.Rollout(pb.RolloutRequest(model="churn", action=pb.START, strategy=pb.AB_TEST,
                                   arms=[pb.Arm(name="a", version="2", weight=50),
                                         pb.Arm(name="b", version="3", weight=50)]), timeout=10)
    served = {2: 0, 3: 0}
    for i in range(200):
        features = {name: pb.FeatureValue(number=float(rows[name][i % 150])) for name in FEATURES}
        features["plan"] = pb.FeatureValue(text=str(rows["plan"][i % 150]))
        reply = stub.Predict(pb.PredictRequest(model="churn", routing_key=f"customer-{i}", features=features), timeout=10)
        served[reply.version] += 1
    assert served[2] > 40 and served[3] > 40, served
    for version, count in served.items():
        wait_window(stub, pb, version, count)
    stub.Rollout(pb.RolloutRequest(model="churn", action=pb.ROLLBACK), timeout=10)

    # A restart keeps the reference profile and the windows (saved at shutdown, restored at load); this time the
    # settings come from a config file: the PSI bands apply (model.json sets only the window and min_requests).
    assert server.stop() == 0
    registry = setup["registry"]
    assert (registry / ".monitoring" / "churn" / "1.window.json").exists()
    config = registry.parent / "serve.json"
    config.write_text(json.dumps({"models": str(registry), "plaintext": True, "insecureNoAuth": True,
                                  "monitorIntervalSeconds": 0.2, "monitorPsiWarn": 0.05, "monitorPsiDrift": 0.5,
                                  "monitorSnapshotSeconds": 0}))
    again = wait_serving(sluice_server("--config", config), proto_modules)
    stub = proto_modules.inference_pb2_grpc.InferenceStub(again.channel())
    restarted = wait_window(stub, pb, 1, 150)
    assert restarted.profiled and restarted.reference_rows == 5000
    assert restarted.psi_warn == pytest.approx(0.05) and restarted.psi_drift == pytest.approx(0.5)
    assert restarted.window_limit_requests == WINDOW  # model.json still wins over the server's default
    assert by_name(restarted)["age"].count == 150
    for version, count in served.items():
        wait_window(stub, pb, version, count)
    assert again.stop() == 0

    # A saved window older than the window's time limit (1 hour) is not restored: shift it 2 hours back.
    path = registry / ".monitoring" / "churn" / "1.window.json"
    saved = json.loads(path.read_text())
    for segment in saved["segments"]:
        segment["start_unix_ms"] -= 7_200_000
        segment["end_unix_ms"] -= 7_200_000
    path.write_text(json.dumps(saved))
    # A snapshot file that is not JSON: logged, ignored, the version still loads.
    (registry / ".monitoring" / "churn" / "2.window.json").write_text("{broken")
    stale = wait_serving(sluice_server("--config", config), proto_modules)
    stub = proto_modules.inference_pb2_grpc.InferenceStub(stale.channel())
    report = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (report is None or report.computed_unix_ms == 0):
        report = monitoring(stub, pb, 1)
        time.sleep(0.05)
    assert report.window_requests == 0, report
    wait_line(stale, "churn version 1: restored the saved window: 0 requests")
    wait_line(stale, "churn version 2: ignoring the saved window")


def test_bad_profiles_and_data_are_reported(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    model = SHARED_MODELS / "skl_ct_pipeline_churn" / "model.onnx"
    (tmp_path / "bad.csv").write_text("age,income,tenure_months,credit_score\n30,50000,12,700\n")
    out = run_cli("models", "register", "--registry", registry, "--name", "churn", "--file", model, "--stage",
                  "Production", "--profile-data", tmp_path / "bad.csv", check=False)
    assert out.returncode != 0 and 'no column "plan"' in out.stderr
    assert not (registry / "churn").exists(), "a failed profile must not leave a registered version"
    (tmp_path / "text.csv").write_text("age,income,tenure_months,credit_score,plan\nold,1,2,3,basic\n")
    register(sluice_bin(), registry, "churn", model)
    out = run_cli("models", "profile", "churn", "--data", tmp_path / "text.csv", "--registry", registry, check=False)
    assert out.returncode != 0 and '"old" is not a number' in out.stderr
    out = run_cli("models", "monitoring", "churn", "--psi-warn", "0.3", "--psi-drift", "0.2", "--registry", registry,
                  check=False)
    assert out.returncode != 0 and "psi-drift" in out.stderr
    out = run_cli("models", "drift", "churn", "--registry", registry, check=False)
    assert out.returncode != 0 and "no drift report" in out.stderr
    # An unreadable profile: the version serves, unmonitored, and says why.
    (registry / "churn" / "1" / "profile.json").write_text('{"format": 1, "rows": 0, "features": []}')
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    pb = proto_modules.inference_pb2
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    report = monitoring(stub, pb, 1)
    assert not report.profiled
    assert any("profile.json has no rows" in note for note in report.notes), report
    server.stop()

    # A registry where the drift state cannot be written (`.monitoring` is a file): the version is still monitored
    # (GetModelVersion), and the failure is logged once, not every interval.
    write_csv(tmp_path / "good.csv", make_rows(5005, 300))
    run_cli("models", "profile", "churn", "--data", tmp_path / "good.csv", "--registry", registry)
    (registry / ".monitoring").write_text("not a directory")
    server = wait_serving(sluice_server("--models", registry, "--monitor-interval", "0.1"), proto_modules)
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    stub.BatchPredict(batch(pb, 1, make_rows(6006, 40)), timeout=10)
    wait_window(stub, pb, 1, 1)  # stride 64 by default: one of 40 rows
    stub.BatchPredict(batch(pb, 1, make_rows(7007, 64)), timeout=10)
    wait_window(stub, pb, 1, 2)
    time.sleep(0.5)
    failures = [line for line in server.lines if "cannot write the drift state of churn/1" in line]
    assert len(failures) == 1, server.output
    server.stop()
    # The window snapshot at shutdown cannot be written either: logged (a restart would start it empty).
    wait_line(server, "cannot save the window of churn/1")

    # Monitoring off: no section at all.
    off = wait_serving(sluice_server("--models", registry, "--no-monitoring"), proto_modules)
    stub = proto_modules.inference_pb2_grpc.InferenceStub(off.channel())
    reply = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version="1"), timeout=10)
    assert not reply.versions[0].HasField("monitoring")
