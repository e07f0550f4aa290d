"""Predict, BatchPredict and GetModelVersion through the real binary on every shared fixture model, every converter
fixture (Tests/fixtures/converters) and every model make_models.py builds."""
import pathlib

import grpc
import pytest

from conftest import sluice_bin
from modelfixtures import (SHARED_MODELS, Fixture, close, feature_value, register, shared_model_names,
                           wait_serving)

EXTRA = pathlib.Path(__file__).resolve().parent / "_models"  # built by Tests/models/make_models.py
CONVERTERS = SHARED_MODELS.parent / "converters"  # Spark ML, CatBoost, HistGradientBoosting (committed)
MODEL_DIRS = {name: SHARED_MODELS / name for name in shared_model_names()}
MODEL_DIRS.update({d.name: d for d in sorted(CONVERTERS.iterdir()) if (d / "expected.json").exists()})
if EXTRA.is_dir():
    MODEL_DIRS.update({d.name: d for d in sorted(EXTRA.iterdir()) if (d / "expected.json").exists()})
MODELS = list(MODEL_DIRS)


@pytest.fixture(scope="module")
def served(tmp_path_factory, request):
    """One server with every shared model registered as version 1 (Production, alias champion)."""
    registry = tmp_path_factory.mktemp("registry")
    fixtures = {}
    for name in MODELS:
        fixture = Fixture(MODEL_DIRS[name])
        names = [f for f, _ in fixture.features] if fixture.single_multicolumn_input else None
        register(sluice_bin(), registry, name, fixture.model_path, aliases=["champion"], feature_names=names)
        fixtures[name] = fixture
    return registry, fixtures


@pytest.fixture
def client(served, sluice_server, proto_modules):
    registry, fixtures = served
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    return stub, proto_modules.inference_pb2, fixtures, server


def class_labels(stub, pb, model):
    version = stub.GetModelVersion(pb.GetModelVersionRequest(model=model)).versions[0]
    sig = version.signature
    return list(sig.class_labels_int) or list(sig.class_labels_string), version


def check_row(fixture, labels, row, label, scores, value=None, regressor=False):
    if regressor:
        # A regressor's values may sit in a [N, k] output; Sluice answers the first target.
        out = next(o for o in fixture.outputs if o["dtype"] == "float32")
        want = out["data"][row][0] if isinstance(out["data"][row], list) else out["data"][row]
        assert abs(value - want) <= 1e-5 * max(1.0, abs(want)), f"row {row}: {value} != {want}"
        return
    if fixture.labels is not None:
        assert label == fixture.labels[row], f"row {row}: label {label} != {fixture.labels[row]}"
    if fixture.probabilities is not None:
        expected = fixture.probabilities[row]
        if fixture.class_order is not None:  # ZipMap: expected is keyed by label text
            by_label = dict(zip(fixture.class_order, expected))
            expected = [by_label[str(l)] for l in labels]
        assert len(scores) == len(expected)
        for got, want in zip(scores, expected):
            assert close(got, want), f"row {row}: scores {list(scores)} != {expected}"
    if fixture.values is not None and value is not None:
        want = fixture.values[row]
        assert abs(value - want) <= 1e-5 * max(1.0, abs(want)), f"row {row}: {value} != {want}"


@pytest.mark.parametrize("model", MODELS)
def test_predict_named_features_matches_onnxruntime(client, model):
    stub, pb, fixtures, _ = client
    fixture = fixtures[model]
    labels, version = class_labels(stub, pb, model)
    regressor = version.signature.task == "regressor"
    for row in range(fixture.rows):
        features = {k: feature_value(pb, v) for k, v in fixture.row(row).items()}
        reply = stub.Predict(pb.PredictRequest(model=model, features=features))
        kind = reply.WhichOneof("prediction")
        label = reply.label_int if kind == "label_int" else reply.label_string
        check_row(fixture, labels, row, label, reply.scores, reply.value, regressor)
        assert reply.version == 1
        if not regressor and fixture.probabilities is not None:
            assert reply.confidence == pytest.approx(max(reply.scores), abs=1e-7)


@pytest.mark.parametrize("model", [m for m in MODELS if Fixture(MODEL_DIRS[m]).numeric_only])
def test_predict_dense_matches_onnxruntime(client, model):
    stub, pb, fixtures, _ = client
    fixture = fixtures[model]
    labels, version = class_labels(stub, pb, model)
    regressor = version.signature.task == "regressor"
    for row in range(0, fixture.rows, 3):
        dense = [float("nan") if v is None else v for v in fixture.numeric_row(row)]
        reply = stub.Predict(pb.PredictRequest(model=model, dense=dense))
        label = reply.label_int if reply.WhichOneof("prediction") == "label_int" else reply.label_string
        check_row(fixture, labels, row, label, reply.scores, reply.value, regressor)


@pytest.mark.parametrize("model", MODELS)
def test_batch_predict_columnar_matches_onnxruntime(client, model):
    stub, pb, fixtures, _ = client
    fixture = fixtures[model]
    labels, version = class_labels(stub, pb, model)
    regressor = version.signature.task == "regressor"
    columns = []
    for name, dtype in fixture.features:
        values = [fixture.row(r)[name] for r in range(fixture.rows)]
        if dtype == "string":
            columns.append(pb.Column(name=name, strings=values))
        else:
            columns.append(pb.Column(name=name, values=[float("nan") if v is None else v for v in values]))
    reply = stub.BatchPredict(pb.BatchPredictRequest(model=model, rows=fixture.rows, columns=columns))
    assert reply.rows == fixture.rows
    n = reply.num_classes
    for row in range(fixture.rows):
        if regressor:
            check_row(fixture, labels, row, None, None, reply.values[row], True)
            continue
        label = reply.labels_int[row] if len(reply.labels_int) else reply.labels_string[row]
        check_row(fixture, labels, row, label, reply.scores[row * n:(row + 1) * n])


@pytest.mark.parametrize("model", [m for m in MODELS if Fixture(MODEL_DIRS[m]).numeric_only])
def test_batch_predict_dense_block(client, model):
    stub, pb, fixtures, _ = client
    fixture = fixtures[model]
    labels, version = class_labels(stub, pb, model)
    regressor = version.signature.task == "regressor"
    dense = [float("nan") if v is None else v for r in range(fixture.rows) for v in fixture.numeric_row(r)]
    reply = stub.BatchPredict(pb.BatchPredictRequest(model=model, dense=dense))
    assert reply.rows == fixture.rows
    for row in range(fixture.rows):
        if regressor:
            check_row(fixture, labels, row, None, None, reply.values[row], True)
            continue
        n = reply.num_classes
        label = reply.labels_int[row] if len(reply.labels_int) else reply.labels_string[row]
        check_row(fixture, labels, row, label, reply.scores[row * n:(row + 1) * n])


def test_get_model_version_reports_registry(client):
    stub, pb, fixtures, _ = client
    version = stub.GetModelVersion(pb.GetModelVersionRequest(model="spark_churn_rf")).versions[0]
    assert version.version == 1
    assert version.stage == "Production"
    assert list(version.aliases) == ["champion"]
    assert version.state == pb.READY
    assert version.sha256 == "2734de3fba9cd87411c800d4533e4f2ca034daa313720aedd605d9e403210418"
    assert version.created_unix_ms > 0
    assert version.traffic_share == 1.0
    sig = version.signature
    assert [f.name for f in sig.features] == ["age", "income", "tenure_months", "credit_score"]
    assert list(sig.class_labels_int) == [0, 1]
    assert sig.task == "classifier"
    assert [i.name for i in sig.inputs] == ["age", "income", "tenure_months", "credit_score"]
    listed = stub.GetModelVersion(pb.GetModelVersionRequest(model="spark_churn_rf", list=True))
    assert [v.version for v in listed.versions] == [1]


@pytest.mark.parametrize("selector", ["", "1", "production", "Production", "@champion", "models:/spark_churn_rf/1",
                                      "models:/spark_churn_rf/Production", "models:/spark_churn_rf@champion"])
def test_every_selector_resolves(client, selector):
    stub, pb, fixtures, _ = client
    fixture = fixtures["spark_churn_rf"]
    features = {k: feature_value(pb, v) for k, v in fixture.row(0).items()}
    model = "" if selector.startswith("models:/") else "spark_churn_rf"
    reply = stub.Predict(pb.PredictRequest(model=model, version=selector, features=features))
    assert reply.version == 1 and reply.model == "spark_churn_rf"
    described = stub.GetModelVersion(pb.GetModelVersionRequest(model=model, version=selector))
    assert described.versions[0].version == 1


def expect_error(call, code, *fragments):
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    for fragment in fragments:
        assert fragment in info.value.details(), info.value.details()
    return info.value.details()


def test_validation_errors_are_precise(client):
    stub, pb, fixtures, _ = client
    row = {k: feature_value(pb, v) for k, v in fixtures["spark_churn_rf"].row(0).items()}
    I = grpc.StatusCode.INVALID_ARGUMENT
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="nope", features=row)), grpc.StatusCode.NOT_FOUND, '"nope"')
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", version="7", features=row)),
                 grpc.StatusCode.NOT_FOUND, "7")
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", version="@ghost", features=row)),
                 grpc.StatusCode.NOT_FOUND, "@ghost")
    missing = dict(row)
    del missing["income"]
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", features=missing)), I,
                 'feature "income" is missing')
    extra = dict(row, bogus=pb.FeatureValue(number=1))
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", features=extra)), I, '"bogus"')
    wrong = dict(row, age=pb.FeatureValue(text="old"))
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", features=wrong)), I, '"age"',
                 "number")
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="spark_churn_rf", dense=[1.0, 2.0])), I, "dense", "4")
    plan_model = fixtures["skl_ct_pipeline_churn"]
    ct_row = {k: feature_value(pb, v) for k, v in plan_model.row(0).items()}
    ct_row["plan"] = pb.FeatureValue(number=3)
    expect_error(lambda: stub.Predict(pb.PredictRequest(model="skl_ct_pipeline_churn", features=ct_row)), I,
                 '"plan"', "string")
    # Batches name the column (and the row, for values).
    columns = [pb.Column(name="age", values=[1, 2]), pb.Column(name="income", values=[1, 2]),
               pb.Column(name="tenure_months", values=[1, 2]), pb.Column(name="credit_score", values=[1])]
    expect_error(lambda: stub.BatchPredict(pb.BatchPredictRequest(model="spark_churn_rf", rows=2, columns=columns)), I,
                 '"credit_score"')
    expect_error(lambda: stub.GetModelVersion(pb.GetModelVersionRequest(model="spark_churn_rf", version="banana")), I,
                 '"banana"')


def test_large_batch_is_answered(client):
    stub, pb, fixtures, _ = client
    fixture = fixtures["spark_churn_rf"]
    rows = 10_000
    columns = [pb.Column(name=name, values=[fixture.row(r % fixture.rows)[name] for r in range(rows)])
               for name, _ in fixture.features]
    reply = stub.BatchPredict(pb.BatchPredictRequest(model="spark_churn_rf", rows=rows, columns=columns))
    assert reply.rows == rows and len(reply.labels_int) == rows
    assert list(reply.labels_int[:fixture.rows]) == fixture.labels
