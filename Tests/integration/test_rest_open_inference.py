"""Open Inference Protocol REST (`--http-listen`) through the real binary: the unmodified `tritonclient[http]`
(binary-tensor extension by default, JSON on request), plain JSON over http.client, the curl example from
docs/rest.md, and TLS with a CA plus bearer tokens / API keys and RBAC.

Outputs are compared with onnxruntime's, recorded with the fixtures (Tests/fixtures/models/*/expected.json).
"""
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import CERTS, ROOT, sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, register, shared_model_names
from resthelpers import free_port, request, start_rest

MODELS = shared_model_names()
CHURN_FEATURES = ["age", "income", "tenure_months", "credit_score"]
NUMPY = {"float32": np.float32, "int64": np.int64, "float64": np.float64}
DATATYPE = {"float32": "FP32", "int64": "INT64", "float64": "FP64", "string": "BYTES"}
ROWS = list(range(64))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = tmp_path_factory.mktemp("rest-registry")
    fixtures = {}
    for name in MODELS:
        fixture = Fixture(SHARED_MODELS / name)
        names = [f for f, _ in fixture.features] if fixture.single_multicolumn_input else None
        register(sluice_bin(), registry, name, fixture.model_path, feature_names=names)
        fixtures[name] = fixture
    return registry, fixtures


@pytest.fixture(scope="module")
def served(registry, tmp_path_factory):
    from conftest import SluiceProcess

    path, fixtures = registry
    port = free_port()
    server = SluiceProcess([sluice_bin(), "serve", "--listen", "127.0.0.1:0", "--plaintext", "--models", str(path),
                            "--insecure-no-auth", "--http-listen", f"127.0.0.1:{port}"], tls=False).wait_ready()
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.is_server_ready():
                break
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    yield client, fixtures, server, port
    client.close()
    assert server.stop() == 0, server.output


def infer_inputs(fixture, rows, binary=True):
    inputs = []
    for spec in fixture.inputs:
        data = [spec["data"][i] for i in rows]
        if spec["dtype"] == "string":
            array = np.array([[v] if not isinstance(v, list) else v for v in data], dtype=np.object_)
        else:
            array = np.array([[np.nan if x is None else x for x in (v if isinstance(v, list) else [v])] for v in data],
                             dtype=NUMPY[spec["dtype"]])
            if len(spec["shape"]) == 1:
                array = array.reshape(-1)
        tensor = httpclient.InferInput(spec["name"], list(array.shape), DATATYPE[spec["dtype"]])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def check_outputs(fixture, result, metadata, rows):
    """Every output equals onnxruntime's: labels exactly, scores and values within 1e-5."""
    outputs = {o["name"]: o for o in metadata["outputs"]}
    for expected in fixture.outputs:
        got = result.as_numpy(expected["name"])
        assert got is not None, f"output {expected['name']} missing; served: {list(outputs)}"
        want = [expected["data"][i] for i in rows]
        if expected["dtype"] == "map":  # ZipMap: probabilities in class-label order, FP32 [N, C]
            order = fixture.class_order
            assert got.shape == (len(rows), len(order))
            want = [[row[k] for k in order] for row in want]
            np.testing.assert_allclose(got, np.array(want, dtype=np.float64), atol=1e-5, rtol=0)
        elif expected["dtype"] == "string":
            assert got.shape == (len(rows),)
            assert [v.decode() if isinstance(v, bytes) else v for v in got] == want
        elif expected["dtype"] == "int64":
            assert got.dtype == np.int64 and got.shape == (len(rows),)
            assert got.tolist() == want
        else:
            assert got.dtype == np.float32
            want = np.array(want, dtype=np.float64).reshape(got.shape)
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_tritonclient_http_matches_onnxruntime(served, model):
    client, fixtures, _, _ = served
    fixture = fixtures[model]
    assert client.is_model_ready(model)
    metadata = client.get_model_metadata(model)
    assert metadata["name"] == model and metadata["versions"] == ["1"]
    config = client.get_model_config(model)
    assert config["name"] == model and config["platform"] == "onnxruntime_onnx"
    assert [i["name"] for i in config["input"]] == [i["name"] for i in metadata["inputs"]]
    # Defaults: binary inputs, binary outputs (Inference-Header-Content-Length both ways).
    result = client.infer(model, infer_inputs(fixture, ROWS), request_id="r-" + model)
    response = result.get_response()
    assert response["model_name"] == model and response["model_version"] == "1" and response["id"] == "r-" + model
    assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
    check_outputs(fixture, result, metadata, ROWS)
    # JSON inputs and JSON outputs (binary_data=False on both sides).
    names = [o["name"] for o in metadata["outputs"]]
    outputs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in names]
    result = client.infer(model, infer_inputs(fixture, [3, 5], binary=False), outputs=outputs)
    assert all("data" in o for o in result.get_response()["outputs"])
    check_outputs(fixture, result, metadata, [3, 5])


def test_server_health_metadata_stats_and_errors(served):
    client, fixtures, server, port = served
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "sluice"
    assert client.is_model_ready("skl_rf_churn", "1")
    assert not client.is_model_ready("skl_rf_churn", "9")
    # One output asked for by name, binary.
    x = httpclient.InferInput("X", [1, 4], "FP32")
    x.set_data_from_numpy(np.array([[42, 52000, 7, 610]], dtype=np.float32))
    result = client.infer("skl_rf_churn", [x], model_version="1",
                          outputs=[httpclient.InferRequestedOutput("probabilities")])
    assert result.as_numpy("probabilities").shape == (1, 2) and result.as_numpy("label") is None
    stats = client.get_inference_statistics("skl_rf_churn")
    assert int(stats["model_stats"][0]["inference_count"]) >= 1
    # Errors are JSON {"error": ...} with a fitting status, and tritonclient surfaces the message.
    with pytest.raises(InferenceServerException, match="nope"):
        client.get_model_metadata("nope")
    bad = httpclient.InferInput("X", [1, 3], "FP32")
    bad.set_data_from_numpy(np.array([[1, 2, 3]], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="X"):
        client.infer("skl_rf_churn", [bad])
    status, headers, body = request(port, "POST", "/v2/models/skl_rf_churn/infer", body=b"{not json")
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]
    status, _, body = request(port, "POST", "/v2/models/skl_rf_churn/infer", body=b"\x1f\x8b\x08\x00",
                              headers={"Content-Encoding": "gzip"})
    assert status == 415 and "uncompressed" in json.loads(body)["error"]
    status, _, body = request(port, "GET", "/v2/models/skl_rf_churn/infer")
    assert status == 501 and "POST" in json.loads(body)["error"]
    status, _, body = request(port, "GET", "/v1/models")
    assert status == 404 and "/v2" in json.loads(body)["error"]
    server.assert_alive()


def test_nested_and_flat_json_tensors_and_the_docs_curl_example(served):
    _, _, _, port = served
    body = {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32",
                        "data": [[35, 52000, 12, 640], [50, 20000, 2, 500]]}]}
    status, _, nested = request(port, "POST", "/v2/models/skl_logreg_churn/infer", json.dumps(body).encode())
    assert status == 200
    body["inputs"][0]["data"] = [35, 52000, 12, 640, 50, 20000, 2, 500]
    status, _, flat = request(port, "POST", "/v2/models/skl_logreg_churn/infer", json.dumps(body).encode())
    assert status == 200 and json.loads(nested) == json.loads(flat)
    out = {o["name"]: o for o in json.loads(flat)["outputs"]}
    assert out["label"]["shape"] == [2] and out["probabilities"]["shape"] == [2, 2]
    # The curl example of docs/rest.md, run as written (host and port substituted).
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    doc = (ROOT / "docs" / "rest.md").read_text()
    example = re.search(r"```sh\n(curl -s -X POST .*?/infer.*?)\n```", doc, re.S).group(1)
    example = example.replace("localhost:8000", f"127.0.0.1:{port}").replace("\\\n", " ")
    out = subprocess.run(["sh", "-c", example], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["model_name"] == "skl_logreg_churn" and answer["outputs"][0]["name"] == "label"


def api_key_entry(key_id, principal, roles, key):
    return {"id": key_id, "sha256": hashlib.sha256(key.encode()).hexdigest(), "principal": principal, "roles": roles}


@pytest.fixture(scope="module")
def secured(tmp_path_factory, dev_certs):
    """TLS with the dev CA, API keys and an HS256 bearer-token issuer; RBAC with the built-in roles."""
    from conftest import SluiceProcess

    d = tmp_path_factory.mktemp("rest-secured")
    registry = d / "registry"
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "skl_rf_churn" / "model.onnx",
             feature_names=CHURN_FEATURES)
    keys = {role: "slk_" + secrets.token_urlsafe(32) for role in ["predictor", "viewer"]}
    hs = secrets.token_bytes(48)
    (d / "hs.key").write_bytes(hs)
    config = {
        "jwt": {"issuer": "https://issuer.test", "audience": ["sluice"],
                "keys": [{"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]},
        "apiKeys": [api_key_entry(f"id-{r}", f"p-{r}", [r], k) for r, k in keys.items()],
    }
    (d / "security.json").write_text(json.dumps(config))
    port, admin = free_port(), free_port()
    (d / "sluice.json").write_text(json.dumps({"metricsRequireCredential": True}))
    server = SluiceProcess([
        sluice_bin(), "serve", "--listen", "127.0.0.1:0", "--models", str(registry), "--config", str(d / "sluice.json"),
        "--security-config", str(d / "security.json"), "--tls-cert", str(CERTS / "server.pem"),
        "--tls-key", str(CERTS / "server-key.pem"), "--http-listen", f"127.0.0.1:{port}",
        "--admin-listen", f"127.0.0.1:{admin}"], tls=True).wait_ready()
    import gevent.ssl

    client = httpclient.InferenceServerClient(
        url=f"localhost:{port}", ssl=True,
        ssl_context_factory=lambda: gevent.ssl.create_default_context(cafile=str(CERTS / "ca.pem")))
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.is_model_ready("churn", headers={"x-api-key": keys["viewer"]}):
                break
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    yield client, keys, hs, server, port, admin
    client.close()
    assert server.stop() == 0, server.output


def test_tls_bearer_token_api_key_and_rbac(secured):
    import jwt

    client, keys, hs, server, port, admin = secured
    x = httpclient.InferInput("X", [1, 4], "FP32")
    x.set_data_from_numpy(np.array([[42, 52000, 7, 610]], dtype=np.float32))
    assert client.is_server_live() and client.is_server_ready()  # health is open by default
    result = client.infer("churn", [x], headers={"x-api-key": keys["predictor"]})
    assert result.as_numpy("label").shape == (1,)
    token = jwt.encode({"sub": "alice", "iss": "https://issuer.test", "aud": "sluice", "exp": int(time.time()) + 600,
                        "roles": ["predictor"]}, hs, algorithm="HS256", headers={"kid": "hs-1"})
    result = client.infer("churn", [x], headers={"Authorization": f"Bearer {token}"})
    assert result.get_response()["model_version"] == "1"
    with pytest.raises(InferenceServerException) as denied:
        client.infer("churn", [x])
    assert denied.value.status() == "401"
    with pytest.raises(InferenceServerException) as denied:
        client.infer("churn", [x], headers={"x-api-key": keys["viewer"]})
    assert denied.value.status() == "403" and "Predict" in denied.value.message()
    assert client.get_model_metadata("churn", headers={"x-api-key": keys["viewer"]})["inputs"][0]["name"] == "X"
    # The REST port speaks only TLS here: a cleartext request gets no HTTP answer.
    try:
        status, _, _ = request(port, "GET", "/v2/health/live")
    except OSError:
        status = None
    assert status != 200
    # /metrics on the admin port asks for a credential when metricsRequireCredential is set.
    status, _, body = request(admin, "GET", "/metrics")
    assert status == 401, body
    status, _, body = request(admin, "GET", "/metrics", headers={"x-api-key": keys["viewer"]})
    assert status == 200 and b"sluice_requests_total" in body
    status, _, _ = request(admin, "GET", "/healthz")
    assert status == 200
    server.assert_alive()


def test_closed_health_needs_a_credential_on_rest_too(tmp_path):
    """With `health.open` false, /v2/health/* and /v2 need a credential, as gRPC health checks do."""
    from conftest import SluiceProcess

    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "skl_logreg_churn" / "model.onnx")
    key = "slk_" + secrets.token_urlsafe(32)
    config = {"apiKeys": [api_key_entry("id-v", "p-v", ["viewer"], key)], "health": {"open": False}}
    (tmp_path / "security.json").write_text(json.dumps(config))
    port = free_port()
    server = SluiceProcess([sluice_bin(), "serve", "--listen", "127.0.0.1:0", "--plaintext", "--models",
                            str(registry), "--security-config", str(tmp_path / "security.json"),
                            "--http-listen", f"127.0.0.1:{port}"], tls=False).wait_ready()
    try:
        deadline = time.monotonic() + 30
        while request(port, "GET", "/v2/health/ready", headers={"x-api-key": key})[0] != 200:
            assert time.monotonic() < deadline, server.output
            time.sleep(0.05)
        for path in ["/v2/health/live", "/v2/health/ready", "/v2"]:
            status, _, body = request(port, "GET", path)
            assert status == 401 and "error" in json.loads(body), (path, body)
            assert request(port, "GET", path, headers={"x-api-key": key})[0] == 200
    finally:
        assert server.stop() == 0, server.output
