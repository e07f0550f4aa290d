"""Issue 10, "tell operators the truth", through the real binary.

- Failed versions: every selector that resolves to a FAILED version (stage, alias, number, models:/ URI) answers
  FAILED_PRECONDITION with the load error; /readyz names failed versions and is 503 when a model's only
  Production version failed; GetModelVersion shows the state and reason; `sluice_model_version_failed`.
- Error mapping: each kind of bad input, end to end, gets its deliberate status and message (never INTERNAL).
- `serve` without a model source says so at startup, in /healthz and /readyz, and in every Inference RPC.
"""
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import grpc
import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, wait_serving

LOGREG = SHARED_MODELS / "skl_logreg_churn" / "model.onnx"
FEATURES = ["age", "income", "tenure_months", "credit_score"]
ROW = {"age": 60.0, "income": 44441.0, "tenure_months": 67.0, "credit_score": 683.0}


def models(*args, check=True):
    out = subprocess.run([sluice_bin(), "models", *map(str, args)], capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def register(registry, name, path, *extra):
    out = models("register", "--registry", registry, "--name", name, "--file", path, *extra)
    return int(out.stdout.split(" version ")[1].split()[0])


def admin_port(server):
    line = next(l for l in server.lines if "admin listener on http://" in l)
    return int(line.rsplit(":", 1)[1].split("/")[0])


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def call_error(method, request):
    with pytest.raises(grpc.RpcError) as info:
        method(request, timeout=10)
    return info.value.code(), info.value.details()


def test_failed_versions_answer_failed_precondition_everywhere(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"age,income\n1,2\n")  # a CSV file, not an ONNX model
    assert register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES)) == 1
    forced = models("register", "--registry", registry, "--name", "churn", "--file", corrupt, "--stage", "Staging",
                    "--alias", "candidate", "--force")
    assert "WARNING" in forced.stderr and "version 2" in forced.stdout
    # A model whose only Production version cannot load.
    models("register", "--registry", registry, "--name", "solo", "--file", corrupt, "--stage", "Production", "--force")

    server = wait_serving(sluice_server("--models", registry, "--admin-listen", "127.0.0.1:0"), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    features = {k: pb.FeatureValue(number=v) for k, v in ROW.items()}
    assert stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10).version == 1

    for selector in ["staging", "Staging", "@candidate", "2", "models:/churn/Staging", "models:/churn@candidate",
                     "models:/churn/2"]:
        code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", version=selector,
                                                                  features=features))
        assert code == grpc.StatusCode.FAILED_PRECONDITION, (selector, code, details)
        assert "failed to load" in details and "version 2" in details, (selector, details)
        assert "retry" not in details, details
        code, details = call_error(stub.BatchPredict, pb.BatchPredictRequest(model="churn", version=selector,
                                                                            rows=1, dense=list(ROW.values())))
        assert code == grpc.StatusCode.FAILED_PRECONDITION, (selector, code, details)
    for selector in ["", "production", "1"]:
        code, details = call_error(stub.Predict, pb.PredictRequest(model="solo", version=selector, dense=[1.0]))
        if selector == "1":
            assert code == grpc.StatusCode.FAILED_PRECONDITION and "failed to load" in details, details
        else:
            assert code == grpc.StatusCode.FAILED_PRECONDITION, (selector, code, details)
            assert "Production version (version 1) failed to load" in details, details

    info = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version="staging"), timeout=10).versions[0]
    assert info.version == 2 and info.state == pb.FAILED and info.state_reason
    assert "ONNX" in info.state_reason or "protobuf" in info.state_reason, info.state_reason

    port = admin_port(server)
    status, body = http_get(port, "/readyz")
    assert status == 503, body
    assert "failed: churn version 2 (Staging, @candidate):" in body, body
    assert "failed: solo version 1 (Production):" in body, body
    assert "not ready: model solo has no serving Production version" in body, body
    status, body = http_get(port, "/healthz")
    assert status == 200 and "failed: churn version 2" in body, body
    _, metrics = http_get(port, "/metrics")
    failed = sorted(re.findall(r'^sluice_model_version_failed\{(.*)\} 1', metrics, re.M))
    assert failed == ['model="churn",version="2"', 'model="solo",version="1"'], failed
    assert "churn" in server.output and "FAILED" in server.output

    # Archiving the broken Production version leaves nothing failed in Production: ready again.
    models("promote", "--registry", registry, "solo", "1", "--stage", "Archived")
    assert wait_for(lambda: http_get(port, "/readyz")[0] == 200), http_get(port, "/readyz")


def write_int_models(tmp_path):
    """Two tiny models with int64 inputs: `cast` (k → float) and `divide` (a / b → float)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def save(nodes, inputs, name):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(i, TensorProto.INT64, [None, 1])
                                                for i in inputs],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
        model.ir_version = 8
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        return path

    cast = save([helper.make_node("Cast", ["k"], ["y"], to=TensorProto.FLOAT, name="cast")], ["k"], "cast")
    divide = save([helper.make_node("Div", ["a", "b"], ["q"], name="div"),
                   helper.make_node("Cast", ["q"], ["y"], to=TensorProto.FLOAT, name="cast")], ["a", "b"], "divide")
    return cast, divide


def test_each_kind_of_bad_input_gets_its_status(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    cast, divide = write_int_models(tmp_path)
    register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES))
    register(registry, "churn", LOGREG, "--stage", "None", "--feature-names", ",".join(FEATURES))
    register(registry, "cast", cast, "--stage", "Production")
    register(registry, "divide", divide, "--stage", "Production")
    register(registry, "batched", divide, "--stage", "Production")
    models("batching", "--registry", registry, "batched", "--max-batch-size", "4", "--max-queue-delay-us", "100")
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    channel = server.channel()
    stub = pb_grpc.InferenceStub(channel)
    good = {k: pb.FeatureValue(number=v) for k, v in ROW.items()}
    INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    FAILED = grpc.StatusCode.FAILED_PRECONDITION
    raw = channel.unary_unary("/sluice.v1.Inference/Predict", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
    cases = [
        ("malformed protobuf", raw, b"\xff\xff\xff\xff", INVALID, ""),
        ("unknown model", stub.Predict, pb.PredictRequest(model="nope", features=good), NOT_FOUND,
         'model "nope" is not registered'),
        ("bad selector", stub.Predict, pb.PredictRequest(model="churn", version="v1!", features=good), INVALID,
         "is not understood"),
        ("unknown version", stub.Predict, pb.PredictRequest(model="churn", version="9", features=good), NOT_FOUND,
         "has no version 9"),
        ("unknown alias", stub.Predict, pb.PredictRequest(model="churn", version="@gone", features=good), NOT_FOUND,
         'no alias "@gone"'),
        ("no staging", stub.Predict, pb.PredictRequest(model="churn", version="staging", features=good), NOT_FOUND,
         "no Staging version"),
        ("version not loaded", stub.Predict, pb.PredictRequest(model="churn", version="2", features=good), FAILED,
         "is not loaded"),
        ("unknown feature", stub.Predict,
         pb.PredictRequest(model="churn", features={**good, "zip": pb.FeatureValue(number=1)}), INVALID,
         'feature "zip" is not an input'),
        ("missing feature", stub.Predict,
         pb.PredictRequest(model="churn", features={k: v for k, v in good.items() if k != "age"}), INVALID,
         'feature "age" is missing'),
        ("text for a number", stub.Predict,
         pb.PredictRequest(model="churn", features={**good, "age": pb.FeatureValue(text="old")}), INVALID,
         "must be a number"),
        ("NaN", stub.Predict,
         pb.PredictRequest(model="churn", features={**good, "age": pb.FeatureValue(number=float("nan"))}), INVALID,
         "NaN"),
        ("dense and features", stub.Predict, pb.PredictRequest(model="churn", features=good, dense=[1, 2, 3, 4]),
         INVALID, "not both"),
        ("dense of the wrong width", stub.Predict, pb.PredictRequest(model="churn", dense=[1, 2]), INVALID,
         "dense has 2 values but the model takes 4"),
        ("engine: not an integer", stub.Predict, pb.PredictRequest(model="cast", dense=[1.5]), INVALID,
         "is an integer input; 1.5 is not an integer"),
        ("engine: evaluation", stub.Predict, pb.PredictRequest(model="divide", dense=[1, 0]), INVALID,
         "integer division by zero"),
        ("batched: engine evaluation", stub.Predict, pb.PredictRequest(model="batched", dense=[1, 0]), INVALID,
         "integer division by zero"),
        ("batched: bad row", stub.Predict, pb.PredictRequest(model="batched", dense=[1]), INVALID,
         "dense has 1 values but the model takes 2"),
        ("batch rows mismatch", stub.BatchPredict, pb.BatchPredictRequest(model="churn", rows=3, dense=[1, 2, 3, 4]),
         INVALID, "rows is 3"),
        ("model in URI differs", stub.GetModelVersion,
         pb.GetModelVersionRequest(model="churn", version="models:/other/1"), INVALID, "does not match"),
        ("rollout: unknown version", stub.Rollout,
         pb.RolloutRequest(model="churn", action=pb.START, strategy=pb.CANARY, candidate="7"), NOT_FOUND, ""),
        ("rollout: bad weights", stub.Rollout,
         pb.RolloutRequest(model="churn", action=pb.START, strategy=pb.AB_TEST,
                           arms=[pb.Arm(name="a", version="1", weight=30), pb.Arm(name="b", version="2", weight=30)]),
         INVALID, ""),
        ("rollout: pause without a rollout", stub.Rollout, pb.RolloutRequest(model="churn", action=pb.PAUSE),
         NOT_FOUND, "has no rollout; START one first"),
    ]
    seen = []
    for name, method, request, code, needle in cases:
        got, details = call_error(method, request)
        seen.append((name, got, details))
        assert got == code, (name, got, details)
        assert needle in details, (name, details)
        assert got != grpc.StatusCode.INTERNAL and "internal error" not in details
    assert stub.Predict(pb.PredictRequest(model="cast", dense=[3]), timeout=10).value == 3.0
    assert stub.Predict(pb.PredictRequest(model="batched", dense=[6, 3]), timeout=10).value == 2.0


def test_auth_denials_get_their_statuses(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES))
    entries, keys = [], {}
    for role in ["viewer", "predictor"]:
        out = subprocess.run([sluice_bin(), "keys", "create", "--principal", f"p-{role}", "--role", role],
                             capture_output=True, text=True, check=True).stdout
        keys[role] = next(l.strip() for l in out.splitlines() if l.strip().startswith("slk_"))
        entries.append(json.loads(next(l.strip() for l in out.splitlines() if l.strip().startswith("{"))))
    config = tmp_path / "security.json"
    config.write_text(json.dumps({"apiKeys": entries, "bindings": [
        {"subject": "p-predictor", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 0.01, "burst": 1}}}]}))
    server = wait_serving(sluice_server("--models", registry, "--security-config", config), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    request = pb.PredictRequest(model="churn", features={k: pb.FeatureValue(number=v) for k, v in ROW.items()})

    def predict(key):
        metadata = [("x-api-key", key)] if key else []
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(request, metadata=metadata, timeout=10)
        return info.value.code(), info.value.details()

    assert predict(None)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert predict("slk_wrong")[0] == grpc.StatusCode.UNAUTHENTICATED
    code, details = predict(keys["viewer"])
    assert code == grpc.StatusCode.PERMISSION_DENIED and "permission denied: Predict" in details
    stub.Predict(request, metadata=[("x-api-key", keys["predictor"])], timeout=10)
    code, details = predict(keys["predictor"])
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "rate limit" in details, (code, details)


def test_serve_without_model_source_says_so(sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    server = sluice_server("--admin-listen", "127.0.0.1:0")
    assert "no model registry configured: start with --models DIR" in server.output
    stub = pb_grpc.InferenceStub(server.channel())
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", dense=[1.0]))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "no model registry configured: start with --models DIR" in details
    port = admin_port(server)
    status, body = http_get(port, "/healthz")
    assert status == 200 and "no model registry configured" in body
    status, body = http_get(port, "/readyz")
    assert status == 503 and "no model registry configured" in body
