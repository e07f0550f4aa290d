"""Open Inference Protocol (KServe v2 / Triton gRPC) through the real binary, with the unmodified `tritonclient`.

One server (plaintext, no auth) serves every fixture model as version 1 (Production, alias champion) plus a
`churn` model with two versions for the selector and canary checks; a second server runs with TLS and a security
configuration for the credential and RBAC checks. Outputs are compared with onnxruntime's, recorded with the
fixtures, at the tolerance of the Predict parity tests.
"""
import json
import hashlib
import pathlib
import secrets
import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import CERTS, SluiceProcess, sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, register, shared_model_names

EXTRA = pathlib.Path(__file__).resolve().parent / "_models"  # built by Tests/models/make_models.py
MODEL_DIRS = {name: SHARED_MODELS / name for name in shared_model_names()}
if EXTRA.is_dir():
    MODEL_DIRS.update({d.name: d for d in sorted(EXTRA.iterdir()) if (d / "expected.json").exists()})
MODELS = list(MODEL_DIRS)
CHURN_FEATURES = ["age", "income", "tenure_months", "credit_score"]
NUMPY = {"float32": np.float32, "int64": np.int64, "float64": np.float64}
DATATYPE = {"float32": "FP32", "int64": "INT64", "float64": "FP64", "string": "BYTES"}


def start_server(*extra, tls=False):
    args = [sluice_bin(), "serve", "--listen", "127.0.0.1:0", *[str(a) for a in extra]]
    if tls:
        args += ["--tls-cert", str(CERTS / "server.pem"), "--tls-key", str(CERTS / "server-key.pem")]
    else:
        args += ["--plaintext"]
    return SluiceProcess(args, tls).wait_ready()


def stop_server(server):
    code = server.stop()
    assert code == 0, f"sluice exited with {code}\n{server.output}"


def wait_ready(client, server, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.is_server_ready():
                return
        except InferenceServerException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server not ready after {timeout}s\n{server.output}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, dev_certs):
    registry = tmp_path_factory.mktemp("oip-registry")
    fixtures = {}
    for name in MODELS:
        fixture = Fixture(MODEL_DIRS[name])
        names = [f for f, _ in fixture.features] if fixture.single_multicolumn_input else None
        register(sluice_bin(), registry, name, fixture.model_path, aliases=["champion"], feature_names=names)
        fixtures[name] = fixture
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "skl_logreg_churn" / "model.onnx",
             feature_names=CHURN_FEATURES)
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "skl_rf_churn" / "model.onnx", stage="Staging",
             aliases=["challenger"], feature_names=CHURN_FEATURES)
    server = start_server("--models", registry, "--insecure-no-auth")
    client = grpcclient.InferenceServerClient(url=server.address)
    wait_ready(client, server)
    yield client, fixtures, server
    client.close()
    stop_server(server)


def infer_inputs(fixture, rows=None):
    """tritonclient InferInputs for the fixture's rows (all by default), one per ONNX graph input."""
    inputs = []
    for spec in fixture.inputs:
        data = spec["data"] if rows is None else [spec["data"][i] for i in rows]
        if spec["dtype"] == "string":
            array = np.array([[v] if not isinstance(v, list) else v for v in data], dtype=np.object_)
        else:
            array = np.array([[np.nan if x is None else x for x in (v if isinstance(v, list) else [v])] for v in data],
                             dtype=NUMPY[spec["dtype"]])
            if len(spec["shape"]) == 1:
                array = array.reshape(-1)
        tensor = grpcclient.InferInput(spec["name"], list(array.shape), DATATYPE[spec["dtype"]])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def check_outputs(fixture, result, metadata, rows, class_labels=None):
    """Every output equals onnxruntime's: labels exactly, scores and values within 1e-5. A ZipMap's columns are in
    the model's class-label order (`class_labels`)."""
    outputs = {o["name"]: o for o in metadata["outputs"]}
    for expected in fixture.outputs:
        got = result.as_numpy(expected["name"])
        assert got is not None, f"output {expected['name']} missing; served: {list(outputs)}"
        want = [expected["data"][i] for i in rows]
        if expected["dtype"] == "map":  # ZipMap: probabilities in class-label order, FP32 [N, C]
            order = [str(label) for label in class_labels]
            assert got.shape == (len(rows), len(order))
            want = [[row[k] for k in order] for row in want]
            np.testing.assert_allclose(got, np.array(want, dtype=np.float64), atol=1e-5, rtol=0)
        elif expected["dtype"] == "string":
            assert got.dtype == np.object_ and got.shape == (len(rows),)
            assert [v.decode() for v in got] == want
        elif expected["dtype"] == "int64":
            assert got.dtype == np.int64 and got.shape == (len(rows),)
            assert got.tolist() == want
        else:
            assert got.dtype == np.float32
            want = np.array(want, dtype=np.float64).reshape(got.shape)
            if not any(o["dtype"] in ("int64", "string") for o in fixture.outputs):  # regression values
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            else:
                np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", MODELS)
def test_infer_every_fixture_matches_onnxruntime(served, model, proto_modules):
    client, fixtures, server = served
    fixture = fixtures[model]
    metadata = client.get_model_metadata(model, as_json=True)
    pb = proto_modules.inference_pb2
    signature = proto_modules.inference_pb2_grpc.InferenceStub(server.channel()).GetModelVersion(
        pb.GetModelVersionRequest(model=model), timeout=30).versions[0].signature
    labels = list(signature.class_labels_int) or list(signature.class_labels_string)
    rows = list(range(fixture.rows))
    result = client.infer(model, infer_inputs(fixture), request_id="r-" + model)
    assert result.get_response().model_name == model
    assert result.get_response().model_version == "1"
    assert result.get_response().id == "r-" + model
    check_outputs(fixture, result, metadata, rows, labels)
    # One row at a time (the shape a per-request client sends) answers the same.
    single = client.infer(model, infer_inputs(fixture, rows=[7]))
    check_outputs(fixture, single, metadata, [7], labels)


def test_health_metadata_and_config(served):
    client, fixtures, _ = served
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("skl_rf_churn")
    assert client.is_model_ready("skl_rf_churn", "1")
    assert client.is_model_ready("churn", "staging")  # Staging v2 is loaded
    server_metadata = client.get_server_metadata(as_json=True)
    assert server_metadata["name"] == "sluice" and "statistics" in server_metadata["extensions"]

    metadata = client.get_model_metadata("skl_ct_pipeline_churn", as_json=True)
    assert metadata["platform"] == "onnx" and metadata["versions"] == ["1"]
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        ("age", "FP32", ["-1", "1"]), ("income", "FP32", ["-1", "1"]), ("tenure_months", "FP32", ["-1", "1"]),
        ("credit_score", "FP32", ["-1", "1"]), ("plan", "BYTES", ["-1", "1"])]
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("label", "INT64", ["-1"]), ("probabilities", "FP32", ["-1", "2"])]

    config = client.get_model_config("skl_logreg3_zipmap", as_json=True)["config"]
    assert config["name"] == "skl_logreg3_zipmap"
    assert config["platform"] == "onnxruntime_onnx" and config["backend"] == "onnxruntime"
    assert config.get("max_batch_size", 0) == 0  # shapes carry the batch dimension as -1
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [("X", "TYPE_FP32", ["-1", "6"])]
    assert [(o["name"], o["data_type"], o["dims"]) for o in config["output"]] == [
        ("output_label", "TYPE_INT64", ["-1"]), ("output_probability", "TYPE_FP32", ["-1", "3"])]


def test_statistics_count_real_calls(served):
    client, fixtures, _ = served
    fixture = fixtures["skl_mlp_churn"]
    before = client.get_inference_statistics("skl_mlp_churn", as_json=True)["model_stats"][0]
    before_ok = int(before["inference_stats"].get("success", {}).get("count", 0))
    before_rows = int(before.get("inference_count", 0))
    for _ in range(3):
        client.infer("skl_mlp_churn", infer_inputs(fixture, rows=[0, 1, 2, 3, 4]))
    with pytest.raises(InferenceServerException):
        bad = grpcclient.InferInput("X", [1, 3], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
        client.infer("skl_mlp_churn", [bad])
    stats = client.get_inference_statistics("skl_mlp_churn", as_json=True)["model_stats"]
    assert [(s["name"], s["version"]) for s in stats] == [("skl_mlp_churn", "1")]
    infer = stats[0]["inference_stats"]
    assert int(infer["success"]["count"]) == before_ok + 3
    assert int(stats[0]["inference_count"]) == before_rows + 15
    assert int(infer["success"]["ns"]) > 0 and int(infer["fail"]["count"]) >= 1
    assert int(infer["compute_infer"]["count"]) == before_ok + 3
    assert int(stats[0]["last_inference"]) > 1_600_000_000_000
    every = client.get_inference_statistics(as_json=True)["model_stats"]
    assert {"skl_mlp_churn", "churn"} <= {s["name"] for s in every}


def test_typed_contents_equal_raw_contents(served):
    """A request with typed `contents` (fp32_contents, bytes_contents) instead of raw_input_contents."""
    _, fixtures, server = served
    fixture = fixtures["skl_ct_pipeline_churn"]
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.address))
    request = service_pb2.ModelInferRequest(model_name="skl_ct_pipeline_churn", id="typed")
    for spec in fixture.inputs:
        tensor = request.inputs.add(name=spec["name"], datatype=DATATYPE[spec["dtype"]], shape=[3, 1])
        values = [spec["data"][i][0] if isinstance(spec["data"][i], list) else spec["data"][i] for i in range(3)]
        if spec["dtype"] == "string":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        else:
            tensor.contents.fp32_contents.extend(values)
    response = stub.ModelInfer(request, timeout=30)
    assert response.id == "typed" and len(response.raw_output_contents) == 2
    result = grpcclient.InferResult(response)
    assert result.as_numpy("label").tolist() == fixture.labels[:3]
    np.testing.assert_allclose(result.as_numpy("probabilities"), np.array(fixture.probabilities[:3]), atol=1e-5)
    # Only the requested output comes back.
    request.outputs.add(name="probabilities")
    response = stub.ModelInfer(request, timeout=30)
    assert [o.name for o in response.outputs] == ["probabilities"]


def expect_error(call, code, *fragments):
    with pytest.raises(InferenceServerException) as info:
        call()
    error = info.value
    assert error.status() == f"StatusCode.{code}", (error.status(), error.message())
    for fragment in fragments:
        assert fragment in error.message(), error.message()
    return error


def test_bad_inputs_are_invalid_argument_with_precise_messages(served):
    client, fixtures, server = served
    fixture = fixtures["skl_rf_churn"]

    def tensor(name, shape, datatype, array):
        t = grpcclient.InferInput(name, shape, datatype)
        t.set_data_from_numpy(array)
        return t

    good = np.zeros((2, 4), dtype=np.float32)
    expect_error(lambda: client.infer("fraud", [tensor("X", [2, 4], "FP32", good)]), "NOT_FOUND", '"fraud"')
    expect_error(lambda: client.infer("skl_rf_churn", [tensor("X", [2, 4], "INT64", good.astype(np.int64))]),
                 "INVALID_ARGUMENT", 'input "X"', "INT64", "FP32")
    expect_error(lambda: client.infer("skl_rf_churn", [tensor("X", [2, 3], "FP32", good[:, :3].copy())]),
                 "INVALID_ARGUMENT", 'input "X"', "[2,3]", "[-1,4]")
    expect_error(lambda: client.infer("skl_rf_churn", [tensor("Y", [2, 4], "FP32", good)]),
                 "INVALID_ARGUMENT", 'input "Y" is not an input', "X")
    expect_error(lambda: client.infer("skl_ct_pipeline_churn", infer_inputs(fixtures["skl_ct_pipeline_churn"], [0])[:4]),
                 "INVALID_ARGUMENT", 'input "plan" is missing')
    expect_error(lambda: client.infer("skl_rf_churn", [tensor("X", [2, 4], "FP32", good)], model_version="9"),
                 "NOT_FOUND", "no version 9")
    expect_error(lambda: client.infer("skl_rf_churn", [tensor("X", [2, 4], "FP32", good)],
                                      outputs=[grpcclient.InferRequestedOutput("scores")]),
                 "INVALID_ARGUMENT", 'output "scores"', "probabilities")
    nan = good.copy()
    nan[1, 2] = np.nan
    expect_error(lambda: client.infer("skl_logreg_churn", [tensor("X", [2, 4], "FP32", nan)]),
                 "INVALID_ARGUMENT", "NaN", "tenure_months")
    expect_error(lambda: client.get_model_metadata("fraud"), "NOT_FOUND", '"fraud"')

    # Byte counts and BYTES framing, which tritonclient itself never gets wrong: raw protobuf requests.
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.address))

    def raw(model, inputs, contents):
        request = service_pb2.ModelInferRequest(model_name=model)
        for name, datatype, shape in inputs:
            request.inputs.add(name=name, datatype=datatype, shape=shape)
        request.raw_input_contents.extend(contents)
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(request, timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        return info.value.details()

    assert "needs 32 bytes, got 28" in raw("skl_rf_churn", [("X", "FP32", [2, 4])], [bytes(28)])
    assert "raw_input_contents has 2 entries" in raw("skl_rf_churn", [("X", "FP32", [1, 4])], [bytes(16), bytes(4)])
    numeric = [(n, "FP32", [1, 1]) for n in CHURN_FEATURES]
    message = raw("skl_ct_pipeline_churn", numeric + [("plan", "BYTES", [1, 1])],
                  [bytes(4)] * 4 + [(10).to_bytes(4, "little") + b"basic"])
    assert 'input "plan"' in message and "declares 10 bytes" in message
    message = raw("skl_ct_pipeline_churn", numeric + [("plan", "BYTES", [1, 1])],
                  [bytes(4)] * 4 + [(5).to_bytes(4, "little") + b"basic!!"])
    assert "2 bytes after the last" in message
    # Not a ModelInferRequest at all.
    call = grpc.insecure_channel(server.address).unary_unary("/inference.GRPCInferenceService/ModelInfer")
    with pytest.raises(grpc.RpcError) as info:
        call(b"\xff\xff\xff", timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    server.assert_alive()


def test_version_selectors_and_canary(served, proto_modules):
    client, fixtures, server = served
    fixture = fixtures["skl_rf_churn"]
    x = infer_inputs(fixture, rows=[0])

    def version(selector):
        return client.infer("churn", x, model_version=selector).get_response().model_version

    assert version("") == "1"  # Production
    assert version("1") == "1"
    assert version("2") == "2"
    assert version("production") == "1"
    assert version("staging") == "2"
    assert version("@challenger") == "2"
    assert version("challenger") == "2"  # Triton clients send aliases without "@"
    assert client.is_model_ready("churn", "challenger")
    expect_error(lambda: version("nightly"), "INVALID_ARGUMENT", "nightly")

    # With a canary running, an empty selector goes through the rollout's split.
    pb = proto_modules.inference_pb2
    stub = proto_modules.inference_pb2_grpc.InferenceStub(server.channel())
    status = stub.Rollout(pb.RolloutRequest(
        model="churn", action=pb.START, strategy=pb.CANARY, candidate="2",
        steps=[pb.CanaryStep(percent=50), pb.CanaryStep(percent=100)]), timeout=30)
    assert status.state == pb.RUNNING
    try:
        seen = {version("") for _ in range(60)}
        assert seen == {"1", "2"}, seen
        # An explicit selector bypasses the split.
        assert {version("1") for _ in range(5)} == {"1"}
    finally:
        stub.Rollout(pb.RolloutRequest(model="churn", action=pb.ROLLBACK), timeout=30)


def api_key_entry(key_id, principal, roles, key):
    return {"id": key_id, "sha256": hashlib.sha256(key.encode()).hexdigest(), "principal": principal, "roles": roles}


@pytest.fixture(scope="module")
def secured(tmp_path_factory, dev_certs):
    """TLS, API keys and an HS256 bearer-token issuer; RBAC with the built-in roles."""
    d = tmp_path_factory.mktemp("oip-secured")
    registry = d / "registry"
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "skl_rf_churn" / "model.onnx",
             feature_names=CHURN_FEATURES)
    keys = {role: "slk_" + secrets.token_urlsafe(32) for role in ["predictor", "viewer"]}
    hs = secrets.token_bytes(48)
    (d / "hs.key").write_bytes(hs)
    config = {
        "jwt": {"issuer": "https://issuer.test", "audience": ["sluice"], "keys": [{"kid": "hs-1", "alg": "HS256",
                                                                                      "file": "hs.key"}]},
        "apiKeys": [api_key_entry(f"id-{r}", f"p-{r}", [r], k) for r, k in keys.items()],
    }
    (d / "security.json").write_text(json.dumps(config))
    server = start_server("--models", registry, "--security-config", d / "security.json", tls=True)
    client = grpcclient.InferenceServerClient(
        url=f"localhost:{server.port}", ssl=True, root_certificates=str(CERTS / "ca.pem"))
    viewer = [("x-api-key", keys["viewer"])]
    deadline = time.monotonic() + 60
    while not client.is_model_ready("churn", headers=dict(viewer)):
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    yield client, keys, hs, server
    client.close()
    stop_server(server)


def test_tls_with_api_key_bearer_token_and_rbac(secured):
    import jwt

    client, keys, hs, server = secured
    x = grpcclient.InferInput("X", [1, 4], "FP32")
    x.set_data_from_numpy(np.array([[42, 52000, 7, 610]], dtype=np.float32))
    # Health calls are open (health.open defaults to true).
    assert client.is_server_live() and client.is_server_ready()
    # API key header.
    result = client.infer("churn", [x], headers={"x-api-key": keys["predictor"]})
    assert result.as_numpy("label").shape == (1,)
    # Bearer token.
    token = jwt.encode({"sub": "alice", "iss": "https://issuer.test", "aud": "sluice", "exp": int(time.time()) + 600,
                        "roles": ["predictor"]}, hs, algorithm="HS256", headers={"kid": "hs-1"})
    result = client.infer("churn", [x], headers={"authorization": f"Bearer {token}"})
    assert result.get_response().model_version == "1"
    # No credential, wrong credential, and a role without Predict.
    expect_error(lambda: client.infer("churn", [x]), "UNAUTHENTICATED")
    expect_error(lambda: client.infer("churn", [x], headers={"x-api-key": keys["predictor"] + "x"}), "UNAUTHENTICATED")
    expect_error(lambda: client.infer("churn", [x], headers={"x-api-key": keys["viewer"]}), "PERMISSION_DENIED",
                 "ModelInfer", "Predict")
    # Metadata calls need GetModelVersion, which the viewer has.
    metadata = client.get_model_metadata("churn", headers={"x-api-key": keys["viewer"]}, as_json=True)
    assert metadata["inputs"][0]["name"] == "X"
    expect_error(lambda: client.get_model_config("churn"), "UNAUTHENTICATED")
    server.assert_alive()
