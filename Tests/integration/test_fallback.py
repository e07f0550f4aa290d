"""Issue 15, the fallback version (`sluice models fallback NAME VERSION`), through the real binary.

- The Production version FAILED at load: routed and `production` calls are answered by the fallback (variant
  `fallback`), `/readyz` names the failure and stays ready, `sluice_fallback_total{reason="load_failed"}` counts,
  GetModelVersion marks the fallback. Explicit selectors of the failed version still answer FAILED_PRECONDITION.
- The chosen version fails at run time for a reason that is not the client's (a model whose input has a dynamic
  feature dimension loads but cannot score rows): the fallback answers (`reason="runtime_error"`); a client error
  (a missing feature) is not retried on the fallback. Without a fallback the failure is reported as before.
- `--clear` removes it: the truthfulness rules apply again (not ready, FAILED_PRECONDITION).
"""
import json
import re

import grpc
import onnx
import pytest
from onnx import TensorProto, helper

from modelfixtures import SHARED_MODELS, wait_serving
from test_truth import FEATURES, ROW, admin_port, call_error, http_get, models, register, wait_for

LOGREG = SHARED_MODELS / "skl_logreg_churn" / "model.onnx"


def write_runtime_failing_model(path):
    """Same four named features as the churn model, but `credit_score` has a dynamic feature dimension: the model
    loads and describes itself, yet every row fails with "cannot be served by rows" (FAILED_PRECONDITION)."""
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 1]) for name in FEATURES[:3]]
    inputs.append(helper.make_tensor_value_info(FEATURES[3], TensorProto.FLOAT, ["N", None]))
    graph = helper.make_graph(
        [helper.make_node("Identity", [FEATURES[0]], ["variable"])], "dynamic", inputs,
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def fallback_count(port, model, version, fallback, reason):
    _, metrics = http_get(port, "/metrics")
    pattern = (rf'^sluice_fallback_total\{{model="{model}",version="{version}",fallback_version="{fallback}",'
               rf'reason="{reason}"\}} (\d+)')
    found = re.search(pattern, metrics, re.M)
    return int(found.group(1)) if found else 0


def test_fallback_serves_for_a_failed_production_version(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"age,income\n1,2\n")  # not an ONNX model
    assert register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES)) == 1
    out = models("fallback", "churn", "1", "--registry", registry)
    assert "churn: fallback -> version 1" in out.stdout
    assert json.loads((registry / "churn" / "model.json").read_text())["fallback"] == 1
    # The new Production version cannot load (v1 is archived by the promotion).
    models("register", "--registry", registry, "--name", "churn", "--file", corrupt, "--stage", "Production",
           "--force")
    assert "(fallback)" in models("list", "--registry", registry).stdout
    # Naming a version that does not exist is refused, and nothing changes.
    refused = models("fallback", "churn", "9", "--registry", registry, check=False)
    assert refused.returncode != 0 and "no version 9" in refused.stderr, refused.stderr

    server = wait_serving(sluice_server("--models", registry, "--admin-listen", "127.0.0.1:0"), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    features = {k: pb.FeatureValue(number=v) for k, v in ROW.items()}
    for selector in ["", "production", "models:/churn/Production"]:
        reply = stub.Predict(pb.PredictRequest(model="churn", version=selector, features=features), timeout=10)
        assert (reply.version, reply.variant) == (1, "fallback"), (selector, reply)
    batch = stub.BatchPredict(pb.BatchPredictRequest(model="churn", rows=1, dense=list(ROW.values())), timeout=10)
    assert (batch.version, batch.variant) == (1, "fallback")
    # Asking for the failed version itself is still the truth: FAILED_PRECONDITION with the load error.
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", version="2", features=features))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "failed to load" in details, details
    # An explicit version never falls back; v1 by number is served as itself.
    reply = stub.Predict(pb.PredictRequest(model="churn", version="1", features=features), timeout=10)
    assert (reply.version, reply.variant) == (1, "")

    port = admin_port(server)
    status, body = http_get(port, "/readyz")
    assert status == 200, body
    assert "failed: churn version 2 (Production):" in body, body
    assert "fallback: churn version 1 serves in place of failed Production version 2" in body, body
    assert fallback_count(port, "churn", 2, 1, "load_failed") == 4
    _, metrics = http_get(port, "/metrics")
    assert re.search(r'^sluice_requests_total\{rpc="Predict",model="churn",version="1",variant="fallback",code="OK"\} 3',
                     metrics, re.M), metrics

    listed = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", list=True), timeout=10).versions
    by_version = {v.version: v for v in listed}
    assert by_version[1].is_fallback and not by_version[2].is_fallback
    assert by_version[1].traffic_share == 1.0 and by_version[2].traffic_share == 0.0
    assert by_version[2].state == pb.FAILED and "fallback version 1 serves in its place" in by_version[2].state_reason
    routed = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn"), timeout=10).versions[0]
    assert routed.version == 1 and routed.is_fallback

    # Clearing the fallback: the failed-version rules apply again (not ready, FAILED_PRECONDITION).
    assert "churn: no fallback" in models("fallback", "churn", "--clear", "--registry", registry).stdout
    assert "fallback" not in json.loads((registry / "churn" / "model.json").read_text())
    assert wait_for(lambda: http_get(port, "/readyz")[0] == 503), http_get(port, "/readyz")
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", features=features))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "Production version (version 2) failed to load" in details


def test_fallback_answers_when_the_chosen_version_fails_at_run_time(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    dynamic = tmp_path / "dynamic.onnx"
    write_runtime_failing_model(dynamic)
    assert register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES)) == 1
    assert register(registry, "churn", dynamic, "--stage", "Production") == 2

    server = wait_serving(sluice_server("--models", registry, "--admin-listen", "127.0.0.1:0"), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    port = admin_port(server)
    features = {k: pb.FeatureValue(number=v) for k, v in ROW.items()}
    # Without a fallback: the server's failure, reported as it is.
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", features=features))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "cannot be served by rows" in details, details

    models("fallback", "churn", "1", "--registry", registry)

    def served_by_fallback():
        try:
            reply = stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10)
        except grpc.RpcError:
            return None
        return reply

    reply = wait_for(served_by_fallback)
    assert reply is not None and (reply.version, reply.variant) == (1, "fallback"), reply
    expected = stub.Predict(pb.PredictRequest(model="churn", version="1", features=features), timeout=10)
    assert reply.label_int == expected.label_int and list(reply.scores) == list(expected.scores)
    batch = stub.BatchPredict(pb.BatchPredictRequest(model="churn", rows=1, dense=list(ROW.values())), timeout=10)
    assert (batch.version, batch.variant) == (1, "fallback")
    # A client error is the client's: no fallback, INVALID_ARGUMENT naming the missing feature.
    partial = {k: v for k, v in features.items() if k != "income"}
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", features=partial))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "income" in details, details
    # An explicit version never falls back.
    code, details = call_error(stub.Predict, pb.PredictRequest(model="churn", version="2", features=features))
    assert code == grpc.StatusCode.FAILED_PRECONDITION, details

    assert fallback_count(port, "churn", 2, 1, "runtime_error") >= 2
    assert fallback_count(port, "churn", 2, 1, "load_failed") == 0
    _, metrics = http_get(port, "/metrics")
    # The failure of the chosen version is still counted under it.
    assert re.search(r'^sluice_requests_total\{rpc="Predict",model="churn",version="2",variant="",'
                     r'code="FAILED_PRECONDITION"\} \d+', metrics, re.M), metrics
    status, body = http_get(port, "/readyz")
    assert status == 200, body


def test_fallback_answers_for_a_rollout_arm_that_fails_at_run_time(tmp_path, sluice_server, proto_modules):
    """An A/B arm whose version cannot score rows: its calls are answered by the fallback (variant `fallback`),
    and the arm's statistics still count them as errors, so the rollout judges the arm on its failures."""
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    dynamic = tmp_path / "dynamic.onnx"
    write_runtime_failing_model(dynamic)
    assert register(registry, "churn", LOGREG, "--stage", "Production", "--feature-names", ",".join(FEATURES)) == 1
    assert register(registry, "churn", dynamic) == 2
    models("fallback", "churn", "1", "--registry", registry)

    server = wait_serving(sluice_server("--models", registry), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    stub.Rollout(pb.RolloutRequest(model="churn", action=pb.START, strategy=pb.AB_TEST,
                                   arms=[pb.Arm(name="control", version="1", weight=50),
                                         pb.Arm(name="treatment", version="2", weight=50)]), timeout=30)

    def loaded():
        versions = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", list=True), timeout=10).versions
        return all(v.state == pb.READY for v in versions)

    assert wait_for(loaded)
    features = {k: pb.FeatureValue(number=v) for k, v in ROW.items()}
    variants = []
    for i in range(40):
        reply = stub.Predict(pb.PredictRequest(model="churn", routing_key=f"user-{i}", features=features), timeout=10)
        assert reply.version == 1, reply
        variants.append(reply.variant)
    assert set(variants) == {"control", "fallback"}, variants
    status = stub.Rollout(pb.RolloutRequest(model="churn", action=pb.GET), timeout=30)
    treatment = next(v for v in status.variants if v.name == "treatment")
    assert treatment.overall.errors == variants.count("fallback") and treatment.overall.requests == treatment.overall.errors
    control = next(v for v in status.variants if v.name == "control")
    assert control.overall.errors == 0 and control.overall.requests == variants.count("control")
