"""Rollouts (issue 5) through the real `sluice` binary: canary and A/B splitting by routing key, automatic rollback
and promotion, A/B statistics against scipy, restart mid-rollout, and steering under load.

Key assignments are checked against the documented hash (docs/routing.md), re-implemented below.
"""
import os
import threading
import time

import grpc
import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving


LOGREG = SHARED_MODELS / "skl_logreg_churn"  # version 1, Production
FOREST = SHARED_MODELS / "skl_rf_churn"  # version 2, same four features
MLP = SHARED_MODELS / "skl_mlp_churn"  # version 3, same four features
PIPELINE = SHARED_MODELS / "skl_ct_pipeline_churn"  # four numeric features and a string one, `plan`
FEATURES = ["age", "income", "tenure_months", "credit_score"]
MODEL = "churn"

# ---- the documented routing hash (docs/routing.md) ---------------------------------------------------------

M64 = (1 << 64) - 1


def basis_points(rollout_id: str, key: str) -> int:
    h = 0xcbf29ce484222325
    for b in rollout_id.encode() + b"\x00" + key.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M64
    h ^= h >> 33
    return (h * 10000) >> 64


def binomial_bounds(n, p, level=1 - 1e-9):
    """Two-sided binomial bounds. The server draws the rollout id at random, so the split counts are random too:
    the level is set so that a correct hash fails by chance about once in a billion runs, not once in a thousand.
    (Each key's variant is checked exactly against the documented hash besides.)"""
    from scipy.stats import binom
    tail = (1 - level) / 2
    return int(binom.ppf(tail, n, p)), int(binom.ppf(1 - tail, n, p))


# ---- fixtures -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_rows():
    fixture = Fixture(LOGREG)
    return [fixture.row(i) for i in range(fixture.rows)]


def make_registry(path, failing_candidate=False):
    """churn v1 = logistic regression (Production), v2 = random forest, v3 = MLP. With `failing_candidate`, v2 is
    instead the column-transformer pipeline, whose signature needs a string feature (`plan`) the clients never
    send, so every call routed to it fails INVALID_ARGUMENT."""
    register(sluice_bin(), path, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    if failing_candidate:
        register(sluice_bin(), path, MODEL, PIPELINE / "model.onnx", stage="None")
    else:
        register(sluice_bin(), path, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    register(sluice_bin(), path, MODEL, MLP / "model.onnx", stage="None", feature_names=FEATURES)
    return path


class Client:
    def __init__(self, server, proto_modules, rows):
        self.server = server
        self.pb = proto_modules.inference_pb2
        self.stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
        self.rows = rows

    def request(self, i, key=None, version=""):
        pb = self.pb
        features = {k: feature_value(pb, v) for k, v in self.rows[i % len(self.rows)].items()}
        return pb.PredictRequest(model=MODEL, version=version, routing_key=key if key is not None else f"user-{i}",
                                 features=features)

    def predict(self, i, key=None, version=""):
        return self.stub.Predict(self.request(i, key, version), timeout=10)

    def rollout(self, action, **fields):
        return self.stub.Rollout(self.pb.RolloutRequest(model=MODEL, action=action, **fields), timeout=30)

    def canary(self, candidate="2", steps=((10, 0, 0), (25, 0, 0), (100, 0, 0)), **fields):
        pb = self.pb
        status = self.rollout(pb.START, strategy=pb.CANARY, candidate=candidate,
                              steps=[pb.CanaryStep(percent=p, min_requests=r, min_duration_ms=d) for p, r, d in steps],
                              **fields)
        self.wait_loaded(status)
        return status

    def start_ab(self, arms, **fields):
        pb = self.pb
        status = self.rollout(pb.START, strategy=pb.AB_TEST,
                              arms=[pb.Arm(name=n, version=v, weight=w) for n, v, w in arms], **fields)
        self.wait_loaded(status)
        return status

    def wait_loaded(self, status, timeout=20.0):
        """Waits until every version of the rollout is READY (the server loads them when the rollout starts)."""
        wanted = {v.version for v in status.variants}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            versions = self.stub.GetModelVersion(self.pb.GetModelVersionRequest(model=MODEL, list=True)).versions
            if all(v.state == self.pb.READY for v in versions if v.version in wanted):
                return
            time.sleep(0.02)
        raise AssertionError(f"versions {sorted(wanted)} not READY after {timeout}s")

    def production(self):
        versions = self.stub.GetModelVersion(self.pb.GetModelVersionRequest(model=MODEL, list=True)).versions
        return {v.version: v.stage for v in versions}


@pytest.fixture
def client(tmp_path, sluice_server, proto_modules, fixture_rows):
    registry = make_registry(tmp_path / "registry")
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    return Client(server, proto_modules, fixture_rows)


# ---- tests --------------------------------------------------------------------------------------------------

def test_split_follows_documented_hash_sticky_and_monotone(client):
    pb = client.pb
    status = client.canary()
    assert status.state == pb.RUNNING and status.strategy == pb.CANARY
    assert [(v.name, v.version, v.weight) for v in status.variants] == [("baseline", 1, 90.0), ("candidate", 2, 10.0)]
    rid = status.rollout_id
    versions = client.stub.GetModelVersion(pb.GetModelVersionRequest(model=MODEL, list=True)).versions
    assert {v.version: v.traffic_share for v in versions} == {1: pytest.approx(0.9), 2: pytest.approx(0.1), 3: 0}
    n = 10_000
    on_candidate = set()
    for i in range(n):
        reply = client.predict(i)
        expected = 2 if basis_points(rid, f"user-{i}") < 1000 else 1
        assert reply.version == expected, f"key user-{i}"
        assert reply.variant == ("candidate" if expected == 2 else "baseline")
        if reply.version == 2:
            on_candidate.add(i)
    low, high = binomial_bounds(n, 0.10)
    assert low <= len(on_candidate) <= high
    # Sticky: the same key gets the same variant again.
    for i in range(0, n, 50):
        assert client.predict(i).version == (2 if i in on_candidate else 1)
    # 10% -> 25%: keys only move from baseline to candidate.
    advanced = client.rollout(pb.ADVANCE)
    assert advanced.step_index == 1 and [v.weight for v in advanced.variants] == [75.0, 25.0]
    moved_back = 0
    count = 0
    for i in range(n):
        version = client.predict(i).version
        count += version == 2
        moved_back += i in on_candidate and version != 2
    assert moved_back == 0
    low, high = binomial_bounds(n, 0.25)
    assert low <= count <= high


def test_explicit_version_bypasses_splitter_and_is_not_counted(client):
    pb = client.pb
    client.canary()
    for i in range(200):
        assert client.predict(i, version="2").version == 2
        assert client.predict(i, version="production").version == 1
    status = client.rollout(pb.GET)
    assert sum(v.overall.requests for v in status.variants) == 0
    for i in range(100):
        client.predict(i)
    status = client.rollout(pb.GET)
    assert sum(v.overall.requests for v in status.variants) == 100


def test_invalid_starts_are_precise(client):
    pb = client.pb
    with pytest.raises(grpc.RpcError) as e:
        client.canary(candidate="9")
    assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert "9" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.canary(candidate="1")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "baseline" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.canary(steps=((10, 0, 0), (150, 0, 0)))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "out of range" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.rollout(pb.START, strategy=pb.AB_TEST, arms=[pb.Arm(name="a", version="1", weight=40),
                                                            pb.Arm(name="b", version="2", weight=50)])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not 100" in e.value.details()
    first = client.canary()
    with pytest.raises(grpc.RpcError) as e:
        client.canary(candidate="3")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first.rollout_id in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.rollout(pb.SET_WEIGHTS, weights={"baseline": 50, "blue": 50})
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "blue" in e.value.details()


def test_failing_candidate_is_rolled_back_automatically(tmp_path, sluice_server, proto_modules, fixture_rows):
    registry = make_registry(tmp_path / "registry", failing_candidate=True)
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    client = Client(server, proto_modules, fixture_rows)
    pb = client.pb
    status = client.canary(steps=((10, 200, 0), (50, 200, 0), (100, 200, 0)), auto=True,
                           guardrails=pb.Guardrails(max_error_rate=0.01), min_sample_requests=50)
    rid = status.rollout_id
    baseline_failures = candidate_failures = 0
    for i in range(5000):
        key = f"user-{i}"
        try:
            reply = client.predict(i, key)
            assert reply.version in (1, 2)
        except grpc.RpcError as error:
            if basis_points(rid, key) >= 1000:
                baseline_failures += 1
            else:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
                candidate_failures += 1
        if i % 100 == 99 and client.rollout(pb.GET).state == pb.ROLLED_BACK:
            break
    status = client.rollout(pb.GET)
    assert status.state == pb.ROLLED_BACK, status.last_decision
    assert baseline_failures == 0
    assert 0 < candidate_failures <= 200
    assert status.last_decision.startswith("rolled back: candidate error rate 100.0% > limit 1.0% over ")
    assert status.history[-1].to_state == "ROLLED_BACK" and status.history[-1].unix_ms > 0
    # Everything is served by the baseline now, without failures.
    for i in range(500):
        assert client.predict(i).version == 1
    assert client.production()[1] == "Production"


def slow_candidate_model(path):
    """An MLP with two 384-wide hidden layers on four inputs (the churn features): tens of times the logistic
    regression's evaluation time, so its p99 stands far above the baseline's whatever the scheduling noise. (A
    100-tree forest costs only about 1.5x the baseline per call, which p99 over ~100 calls cannot tell apart
    reliably.)"""
    import numpy as np
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few iterations on purpose: only its cost matters
        m = MLPClassifier(hidden_layer_sizes=(384, 384), max_iter=5, random_state=0).fit(X, y)
    onx = convert_sklearn(m, initial_types=[("X", FloatTensorType([None, 4]))], target_opset=15,
                          options={id(m): {"zipmap": False}})
    path.write_bytes(onx.SerializeToString())
    return path


def test_slow_candidate_is_rolled_back_automatically(tmp_path, sluice_server, proto_modules, fixture_rows):
    """A candidate many times slower than the baseline is rolled back by the p99-ratio guardrail once it has
    100 requests in the step, without a failed call."""
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, slow_candidate_model(tmp_path / "slow.onnx"), stage="None",
             feature_names=FEATURES)
    client = Client(wait_serving(sluice_server("--models", registry), proto_modules), proto_modules, fixture_rows)
    pb = client.pb
    status = client.canary(steps=((50, 300, 0), (100, 300, 0)), auto=True,
                           guardrails=pb.Guardrails(max_p99_ratio=1.5), min_sample_requests=100)
    for i in range(3000):
        assert client.predict(i).version in (1, 2)  # slow, not failing
        if i % 100 == 99 and client.rollout(pb.GET).state == pb.ROLLED_BACK:
            break
    status = client.rollout(pb.GET)
    assert status.state == pb.ROLLED_BACK, status.last_decision
    assert "candidate p99 latency" in status.last_decision and "baseline" in status.last_decision
    candidate = next(v for v in status.variants if v.name == "candidate")
    baseline = next(v for v in status.variants if v.name == "baseline")
    # Judged at the first evaluation past 100 candidate requests; on a loaded machine a descheduled call landing in
    # the baseline's top percentile can defer the verdict past the first step (300 requests), but the candidate
    # never completes the rollout (both steps: 600).
    assert 100 <= candidate.overall.requests < 600, (candidate.overall, baseline.overall)
    assert candidate.overall.latency.p99_ms > 1.5 * baseline.overall.latency.p99_ms
    for i in range(200):
        assert client.predict(i).version == 1


def test_healthy_candidate_is_promoted_automatically(client):
    pb = client.pb
    client.canary(steps=((10, 30, 0), (50, 30, 0), (100, 30, 0)), auto=True,
                  guardrails=pb.Guardrails(max_error_rate=0.05, max_error_rate_increase=0.05), min_sample_requests=30)
    seen_steps = set()
    status = None
    for i in range(20_000):
        reply = client.predict(i)
        assert reply.version in (1, 2)
        if i % 25 == 0:
            status = client.rollout(pb.GET)
            seen_steps.add(status.step_index)
            if status.state != pb.RUNNING:
                break
    status = client.rollout(pb.GET)
    assert status.state == pb.PROMOTED, status.last_decision
    assert {0, 2} <= seen_steps | {status.step_index}
    assert sum(t.reason.startswith("advanced to step") for t in status.history) == 2
    stages = client.production()
    assert stages[2] == "Production" and stages[1] == "Archived"
    for i in range(200):
        assert client.predict(i).version == 2


def test_ab_positive_rate_pvalue_and_sample_size_match_scipy(client):
    import numpy as np
    from scipy import stats
    pb = client.pb
    status = client.start_ab([("control", "1", 50), ("forest", "2", 50)], metric=pb.POSITIVE_RATE,
                             min_detectable_effect=0.03, significance=0.05)
    assert status.strategy == pb.AB_TEST
    counts = {"control": [0, 0], "forest": [0, 0]}
    for i in range(6000):
        reply = client.predict(i, key=f"ab-{i}")
        counts[reply.variant][0] += reply.label_int == 1
        counts[reply.variant][1] += 1
    status = client.rollout(pb.GET)
    by_name = {v.name: v for v in status.variants}
    for name, (x, n) in counts.items():
        assert by_name[name].overall.requests == n
        assert by_name[name].overall.positive_rate == pytest.approx(x / n, abs=1e-12)
    (x1, n1), (x2, n2) = counts["control"], counts["forest"]
    p = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    p_value = 2 * stats.norm.sf(abs(z))
    p1 = x1 / n1
    p2 = p1 + 0.03
    pb_ = (p1 + p2) / 2
    root = stats.norm.ppf(0.975) * np.sqrt(2 * pb_ * (1 - pb_)) + stats.norm.ppf(0.8) * np.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2))
    required = root * root / 0.03 ** 2
    assert abs(status.ab.p_value - p_value) < 1e-6
    assert abs(status.ab.required_sample_size_exact - required) < 1e-6
    assert status.ab.required_sample_size == int(np.ceil(required))
    assert status.ab.sample_size_reached == (min(n1, n2) >= np.ceil(required))
    assert status.ab.significant == (p_value < 0.05)


def test_ab_mean_score_welch_matches_scipy(client):
    import numpy as np
    from scipy import stats
    pb = client.pb
    client.start_ab([("control", "1", 50), ("mlp", "3", 50)], metric=pb.MEAN_SCORE, min_detectable_effect=0.01,
                    significance=0.05)
    scores = {"control": [], "mlp": []}
    for i in range(3000):
        reply = client.predict(i, key=f"ms-{i}")
        scores[reply.variant].append(float(reply.scores[1]))  # the positive class's probability
    status = client.rollout(pb.GET)
    a, b = np.array(scores["control"]), np.array(scores["mlp"])
    result = stats.ttest_ind(b, a, equal_var=False)
    variance = (a.var(ddof=1) + b.var(ddof=1)) / 2
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert abs(status.ab.p_value - result.pvalue) < 1e-6
    # float32 scores on the wire vs the server's float32 -> double: the same values.
    assert abs(status.ab.required_sample_size_exact - 2 * variance * z * z / 0.01 ** 2) < 1e-6


def test_shadow_never_answers_and_reports_agreement(client):
    pb = client.pb
    client.canary(shadow="3")
    for i in range(300):
        assert client.predict(i).version in (1, 2)
    # Shadow runs go to the worker threads after the answer is sent: poll until all 300 are recorded.
    deadline = time.monotonic() + 30
    while True:
        status = client.rollout(pb.GET)
        shadow = next(v for v in status.variants if v.shadow)
        if shadow.overall.requests >= 300 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert shadow.version == 3 and shadow.weight == 0
    assert shadow.overall.requests == 300
    assert 0 < shadow.agreement_rate <= 1


def test_restart_mid_rollout_keeps_state_and_assignments(tmp_path, sluice_server, proto_modules, fixture_rows):
    registry = make_registry(tmp_path / "registry")
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    client = Client(server, proto_modules, fixture_rows)
    pb = client.pb
    client.canary(steps=((10, 0, 0), (30, 0, 0), (100, 0, 0)))
    client.rollout(pb.ADVANCE)
    before_versions = [client.predict(i).version for i in range(2000)]
    time.sleep(1.5)  # statistics are saved about once a second
    before = client.rollout(pb.GET)
    assert server.stop() == 0

    server = wait_serving(sluice_server("--models", registry), proto_modules)
    client = Client(server, proto_modules, fixture_rows)
    after = client.rollout(pb.GET)
    assert after.rollout_id == before.rollout_id
    assert after.state == pb.RUNNING and after.step_index == 1
    assert [(v.name, v.version, v.weight) for v in after.variants] == [(v.name, v.version, v.weight)
                                                                        for v in before.variants]
    assert [v.overall.requests for v in after.variants] == [v.overall.requests for v in before.variants]
    assert len(after.history) == len(before.history)
    assert [client.predict(i).version for i in range(2000)] == before_versions


def test_steering_under_load_fails_no_call(client):
    pb = client.pb
    stop = threading.Event()
    failures, served, versions = [], [0], set()

    def load(worker):
        stub = type(client.stub)(client.server.channel())
        i = 0
        while not stop.is_set():
            try:
                reply = stub.Predict(client.request(i, key=f"w{worker}-{i}" if i % 3 else ""), timeout=10)
                versions.add(reply.version)
                served[0] += 1
            except grpc.RpcError as error:
                failures.append(error)
            i += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        client.canary()
        for percent in (30, 60, 100, 20):
            time.sleep(0.2)
            client.rollout(pb.SET_WEIGHTS, weights={"baseline": 100 - percent, "candidate": percent})
        time.sleep(0.2)
        assert client.rollout(pb.ROLLBACK).state == pb.ROLLED_BACK
        time.sleep(0.2)
        client.canary(candidate="3")
        time.sleep(0.2)
        client.rollout(pb.SET_WEIGHTS, weights={"baseline": 30, "candidate": 70})
        time.sleep(0.2)
        assert client.rollout(pb.PROMOTE).state == pb.PROMOTED
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, f"{len(failures)} failed calls, first: {failures[0]}"
    assert served[0] > 100
    assert versions <= {1, 2, 3} and 3 in versions
    assert client.production()[3] == "Production"


def test_metrics_count_each_variant_across_rollouts(tmp_path, sluice_server, proto_modules, fixture_rows):
    """Per-variant request counters match the answers' variants, also when a later rollout serves the same
    versions under other arm names (the series of a version's first arm name are cached; others are looked up)."""
    import urllib.request

    registry = make_registry(tmp_path / "registry")
    server = wait_serving(sluice_server("--models", registry, "--admin-listen", "127.0.0.1:0"), proto_modules)
    client = Client(server, proto_modules, fixture_rows)
    pb = client.pb
    admin_port = int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])
    expected = {}
    for arms in ((("a", "1", 50), ("b", "2", 50)), (("control", "1", 50), ("treatment", "2", 50))):
        client.start_ab(arms)
        names = {n: v for n, v, _ in arms}
        for i in range(120):
            answer = client.predict(i)
            key = (str(answer.version), answer.variant)
            assert names[answer.variant] == str(answer.version)
            expected[key] = expected.get(key, 0) + 1
        client.rollout(pb.ROLLBACK)
    assert len(expected) == 4, expected
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    for (version, variant), count in expected.items():
        line = f'sluice_requests_total{{rpc="Predict",model="churn",version="{version}",variant="{variant}",code="OK"}} {count}'
        assert line in text, (line, [l for l in text.splitlines() if l.startswith("sluice_requests_total")])
