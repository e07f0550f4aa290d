"""Admission control through the real binary: the connection cap (`--max-connections`) and the per-thread cap on
calls in flight off the loop (`--max-inflight-per-thread`). Past a cap the server refuses at once, never queues."""
import socket
import subprocess
import time
import urllib.request

import grpc
import pytest

from conftest import RawH2, sluice_bin
from modelfixtures import Fixture, feature_value, register, wait_serving
from test_http2_conformance import GOAWAY, RawConnection

CHURN = __import__("pathlib").Path(__file__).resolve().parents[2] / "Tests" / "fixtures" / "models" / "spark_churn_rf"


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def admin_port(server):
    return int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])


def test_connections_over_the_cap_get_goaway_enhance_your_calm(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry, "--threads", "2", "--max-connections", "3",
                                        "--admin-listen", "127.0.0.1:0"), proto_modules)
    # Whatever the readiness check left open counts too; raw connections fill the rest.
    base = int(metric(admin_port(server), "sluice_connections_open"))
    held = [RawConnection(server.port) for _ in range(3 - base)]
    for connection in held:
        connection.handshake()
    deadline = time.monotonic() + 5
    while metric(admin_port(server), "sluice_connections_open") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(admin_port(server), "sluice_connections_open") == 3

    refused = RawConnection(server.port)
    started = time.monotonic()
    goaway = refused.wait(lambda f: f[0] == GOAWAY, timeout=3)
    assert goaway is not None, "a connection over the cap was not refused"
    assert int.from_bytes(goaway[3][4:8], "big") == 0xB  # ENHANCE_YOUR_CALM
    assert b"connection limit" in goaway[3][8:]
    assert time.monotonic() - started < 1.0
    assert refused.sock.recv(1) == b""  # and closed
    refused.close()
    assert metric(admin_port(server), "sluice_connections_refused_total") >= 1

    # A freed slot is usable again at once.
    held.pop().close()
    deadline = time.monotonic() + 5
    while metric(admin_port(server), "sluice_connections_open") > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    client = RawH2(server.port)
    stream = client.start_call("/grpc.health.v1.Health/Check")
    client.send_message(stream, b"")
    headers, _, trailers, _ = client.response(stream)
    assert trailers.get("grpc-status") == "0", (headers, trailers)
    client.close()
    for connection in held:
        connection.close()


def test_calls_past_the_inflight_cap_are_shed_with_resource_exhausted(tmp_path, sluice_server, proto_modules):
    """One thread, at most 2 calls deferred off it: with dynamic batching holding calls for 300 ms, the third and
    later concurrent calls are refused at once; the held ones complete correctly."""
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    out = subprocess.run([sluice_bin(), "models", "batching", "churn", "--max-batch-size", "64",
                          "--max-queue-delay-us", "300000", "--registry", str(registry)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    server = wait_serving(sluice_server("--models", registry, "--threads", "1", "--max-inflight-per-thread", "2",
                                        "--admin-listen", "127.0.0.1:0"), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    fixture = Fixture(CHURN)
    futures = []
    for row in range(6):
        features = {k: feature_value(pb, v) for k, v in fixture.row(row).items()}
        futures.append((row, time.monotonic(), stub.Predict.future(pb.PredictRequest(model="churn", features=features))))
    ok, shed = 0, 0
    for row, started, future in futures:
        try:
            reply = future.result(timeout=10)
            assert reply.label_int == fixture.labels[row]
            ok += 1
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
            assert "in flight on this thread" in error.details()
            shed += 1
    assert ok == 2 and shed == 4, (ok, shed)
    assert metric(admin_port(server), "sluice_calls_shed_total") == 4
    # Once the batch is done, the thread admits calls again.
    features = {k: feature_value(pb, v) for k, v in fixture.row(0).items()}
    assert stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10).label_int == fixture.labels[0]


def test_cap_flags_are_validated(sluice_server):
    out = subprocess.run([sluice_bin(), "serve", "--plaintext", "--max-connections", "0"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode != 0 and "--max-connections must be between 1 and 1000000" in out.stderr


def test_large_batch_runs_off_the_loop_and_small_calls_keep_flowing(tmp_path, sluice_server, proto_modules):
    """One event-loop thread. While a 500,000-row BatchPredict is scored (on a worker), 1-row Predicts on another
    connection of the same loop keep being answered: no gap between two answers comes near the time the server
    spent on the batch (run on the loop, that whole time is one gap). The batch's answer is still correct.
    (Latency itself is measured in bench/, not asserted here; this compares two durations of the same run.)"""
    import threading

    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry, "--threads", "1", "--admin-listen", "127.0.0.1:0",
                                        "--max-message-bytes", str(64 << 20)), proto_modules)
    fixture = Fixture(CHURN)
    names = ["age", "income", "tenure_months", "credit_score"]
    base = [fixture.row(r)[n] for r in range(fixture.rows) for n in names]
    rows = 500_000
    request = pb.BatchPredictRequest(model="churn", dense=base * (rows // fixture.rows))
    big = {"grpc.max_send_message_length": 64 << 20, "grpc.max_receive_message_length": 64 << 20}
    batch_stub = pb_grpc.InferenceStub(server.channel(**big))
    small_stub = pb_grpc.InferenceStub(server.channel())
    small = pb.PredictRequest(model="churn", features={k: feature_value(pb, v) for k, v in fixture.row(3).items()})
    small_stub.Predict(small, timeout=10)  # both connections up
    batch_stub.Predict(small, timeout=10)

    done = threading.Event()
    result = {}

    def run_batch():
        try:
            result["started"] = time.monotonic()
            result["reply"] = batch_stub.BatchPredict(request, timeout=120)
        finally:
            result["ended"] = time.monotonic()
            done.set()

    answered = []
    thread = threading.Thread(target=run_batch)
    thread.start()
    while not done.is_set():
        assert small_stub.Predict(small, timeout=30).label_int == fixture.labels[3]
        answered.append(time.monotonic())
    thread.join()
    reply = result["reply"]
    assert reply.rows == rows
    assert [reply.labels_int[r] for r in range(0, rows, 9973)] == [fixture.labels[r % fixture.rows]
                                                                    for r in range(0, rows, 9973)]
    marks = [result["started"]] + [t for t in answered if t <= result["ended"]] + [result["ended"]]
    longest_gap = max(b - a for a, b in zip(marks, marks[1:]))
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port(server)}/metrics", timeout=5).read().decode()
    handled = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("sluice_request_duration_seconds_sum{") and 'rpc="BatchPredict"' in line)
    assert handled > 0, "no BatchPredict time recorded"
    assert longest_gap < 0.5 * handled, (
        f"a small call waited {longest_gap:.3f} s while the server spent {handled:.3f} s on the batch: "
        "the batch held the loop")
    assert metric(admin_port(server), "sluice_worker_queue_length") == 0
