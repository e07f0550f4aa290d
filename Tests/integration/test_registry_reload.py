"""Hot reload under load, failed versions, crash safety of registry writes, health and the admin listener."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving

CHURN = SHARED_MODELS / "spark_churn_rf"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(predicate, timeout=20.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def test_hot_reload_under_load_loses_no_call(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry, "--threads", "2"), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    fixture = Fixture(CHURN)
    features = {k: feature_value(pb, v) for k, v in fixture.row(0).items()}
    stub.Predict(pb.PredictRequest(model="churn", features=features))
    baseline_rss = rss_kib(server.proc.pid)

    results, failures, stop = [], [], threading.Event()

    def load():
        while not stop.is_set():
            started = time.monotonic()
            try:
                reply = stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10)
                results.append((started, time.monotonic(), reply.version, reply.label_int))
            except grpc.RpcError as e:
                failures.append((e.code(), e.details()))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    promoted = {1: (0.0, time.monotonic())}
    try:
        for version in range(2, 22):
            before = time.monotonic()
            assert register(sluice_bin(), registry, "churn", CHURN / "model.onnx") == version
            subprocess.run([sluice_bin(), "models", "promote", "churn", str(version), "--stage", "Production",
                            "--registry", str(registry)], check=True, capture_output=True)
            promoted[version] = (before, time.monotonic())
            time.sleep(0.1)
        wait_for(lambda: stub.Predict(pb.PredictRequest(model="churn", features=features)).version == 21)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:5]
    assert len(results) > 100
    # Every answer is right, and comes from a version that had been promoted by the time the call ended.
    for started, ended, version, label in results:
        assert label == fixture.labels[0]
        assert version in promoted and promoted[version][0] <= ended, (version, started, ended)
    assert {v for _, _, v, _ in results} >= {1, 21}
    # Old versions are released: memory returns near its baseline (20 forests would be ~+60 MB if kept).
    settled = wait_for(lambda: rss_kib(server.proc.pid) < baseline_rss + 25_000, timeout=10)
    assert settled, (baseline_rss, rss_kib(server.proc.pid))
    listed = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", list=True)).versions
    states = {v.version: v.state for v in listed}
    assert states[21] == pb.READY and states[1] == pb.RETIRED


def test_corrupt_version_fails_and_traffic_stays(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    features = {k: feature_value(pb, v) for k, v in Fixture(CHURN).row(0).items()}
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes((CHURN / "model.onnx").read_bytes()[:5000])
    assert register(sluice_bin(), registry, "churn", corrupt, extra=["--force"]) == 2

    def failed():
        versions = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", list=True)).versions
        return next((v for v in versions if v.version == 2 and v.state == pb.FAILED), None)

    version2 = wait_for(failed)
    assert version2 is not None, "version 2 never reported FAILED"
    assert version2.state_reason
    assert stub.Predict(pb.PredictRequest(model="churn", features=features)).version == 1
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(pb.PredictRequest(model="churn", version="2", features=features))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "failed to load" in info.value.details()
    assert wait_for(lambda: "FAILED" in server.output), server.output


def test_killed_registry_write_leaves_previous_state(tmp_path):
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx", aliases=["champion"])
    before = json.loads((registry / "churn" / "model.json").read_text())
    big = tmp_path / "big.onnx"
    big.write_bytes((CHURN / "model.onnx").read_bytes() * 20)
    for delay in (0.0, 0.005, 0.01, 0.02, 0.04):
        proc = subprocess.Popen([sluice_bin(), "models", "register", "--registry", str(registry), "--name", "churn",
                                 "--file", str(big), "--stage", "Production"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = json.loads((registry / "churn" / "model.json").read_text())
        # Either the previous state or a complete new version, never a torn file.
        assert state["versions"][0] == before["versions"][0] or state["versions"][0]["stage"] == "Archived"
        assert all("sha256" in v for v in state["versions"])
        listed = subprocess.run([sluice_bin(), "models", "list", "--registry", str(registry)], capture_output=True,
                                text=True)
        assert listed.returncode == 0 and "churn" in listed.stdout


def test_health_and_admin_endpoints(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    health_pb2, health_grpc = proto_modules.health_pb2, proto_modules.health_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = sluice_server("--models", registry, "--admin-listen", "127.0.0.1:0")
    channel = server.channel()
    health = health_grpc.HealthStub(channel)
    status = wait_for(lambda: health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING)
    assert status
    assert health.Check(health_pb2.HealthCheckRequest(service="sluice.v1.Inference")).status == \
        health_pb2.HealthCheckResponse.SERVING
    admin_port = int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])
    stub = pb_grpc.InferenceStub(channel)
    features = {k: feature_value(pb, v) for k, v in Fixture(CHURN).row(0).items()}
    for _ in range(5):
        stub.Predict(pb.PredictRequest(model="churn", features=features))
    with pytest.raises(grpc.RpcError):
        stub.Predict(pb.PredictRequest(model="churn", features={}))
    base = f"http://127.0.0.1:{admin_port}"
    assert urllib.request.urlopen(base + "/healthz").status == 200
    assert urllib.request.urlopen(base + "/readyz").status == 200
    text = urllib.request.urlopen(base + "/metrics").read().decode()
    assert 'sluice_requests_total{rpc="Predict",model="churn",version="1",variant="",code="OK"} 5' in text
    assert 'code="INVALID_ARGUMENT"} 1' in text
    assert 'sluice_request_duration_seconds_bucket{rpc="Predict",model="churn",version="1",le="+Inf"} 6' in text
    assert 'sluice_model_state{model="churn",state="READY",version="1"} 1' in text
    confidence = next(l for l in text.splitlines() if l.startswith('sluice_model_mean_confidence{model="churn"'))
    assert 0.5 <= float(confidence.rsplit(" ", 1)[1]) <= 1.0, confidence
    assert 'sluice_inflight_requests 0' in text
    promtool = shutil.which("promtool")
    if promtool:
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_dynamic_batching_answers_every_call_correctly(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    out = subprocess.run([sluice_bin(), "models", "batching", "churn", "--max-batch-size", "8",
                          "--max-queue-delay-us", "2000", "--registry", str(registry)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((registry / "churn" / "model.json").read_text())["batching"] == {
        "max_batch_size": 8, "max_queue_delay_us": 2000}
    server = wait_serving(sluice_server("--models", registry, "--threads", "2", "--admin-listen", "127.0.0.1:0"),
                          proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    fixture = Fixture(CHURN)
    futures = []
    for row in range(200):
        features = {k: feature_value(pb, v) for k, v in fixture.row(row).items()}
        futures.append((row, stub.Predict.future(pb.PredictRequest(model="churn", features=features,
                                                                   request_id=f"r{row}"))))
    for row, future in futures:
        reply = future.result(timeout=10)
        assert reply.label_int == fixture.labels[row], row
        assert reply.request_id == f"r{row}"
        assert list(reply.scores) == pytest.approx(fixture.probabilities[row], abs=1e-5)
    admin_port = int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    values = {}
    for line in text.splitlines():
        for name in ("sluice_dynamic_batches_total", "sluice_dynamic_batched_rows_total"):
            if line.startswith(name + "{"):
                values[name] = float(line.rsplit(" ", 1)[1])
    assert values["sluice_dynamic_batched_rows_total"] == 200
    # Concurrent calls were really evaluated together.
    assert values["sluice_dynamic_batches_total"] < 200, values
    # A lone call still completes within the queue delay.
    started = time.monotonic()
    stub.Predict(pb.PredictRequest(model="churn", features={k: feature_value(pb, v) for k, v in fixture.row(0).items()}))
    assert time.monotonic() - started < 1.0
    # Validation still happens per call, before queueing.
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(pb.PredictRequest(model="churn", features={}))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
