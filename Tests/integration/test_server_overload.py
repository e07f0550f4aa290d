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


def wait_ready_on_admin(port, timeout=30.0):
    """Waits until the admin port's `/readyz` answers 200 (models loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).status == 200:
                return
        except OSError:  # urllib's HTTPError (503 while loading) and connection errors are OSErrors
            pass
        assert time.monotonic() < deadline, f"/readyz not 200 after {timeout} s"
        time.sleep(0.05)


def admin_port(server):
    return int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])


def test_connections_over_the_cap_get_goaway_enhance_your_calm(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = sluice_server("--models", registry, "--threads", "2", "--max-connections", "3",
                           "--admin-listen", "127.0.0.1:0")
    # Readiness from the admin port, so that no gRPC connection of the test's own (a health-check channel that
    # grpcio closes whenever it is collected) is open, or closes, while the cap is being filled.
    wait_ready_on_admin(admin_port(server))
    base = int(metric(admin_port(server), "sluice_connections_open"))
    assert base == 0, f"{base} gRPC connection(s) open before the test made any"
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


def thread_scheduling(pid):
    """{thread name: (nice, policy)} of a running process, from /proc/PID/task/TID/stat (fields 19 and 41)."""
    import pathlib

    threads = {}
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 is fields[0]
        threads[(task / "comm").read_text().strip()] = (int(fields[16]), int(fields[38]))
    return threads


SCHED_OTHER, SCHED_IDLE = 0, 5


@pytest.mark.parametrize("niced, flag", [(0, None), (0, "idle"), (0, "5"), (0, "12"), (19, None), (19, "5")])
def test_worker_threads_run_below_the_loops(tmp_path, proto_modules, niced, flag):
    """The worker threads' nice value and policy, read from /proc of the real server: always lower than the loop
    thread's (`sluice-loop-N`), relative to the nice value the server was started with (a server started with
    `nice -n 19` must not get workers at an absolute nice 5, ahead of its loops; it has no lower nice value left, so
    its workers go SCHED_IDLE)."""
    import os

    from conftest import SluiceProcess

    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    args = [sluice_bin(), "serve", "--plaintext", "--listen", "127.0.0.1:0", "--threads", "2", "--models",
            str(registry), "--insecure-no-auth"]
    if flag:
        args += ["--worker-priority", flag]
    loop_nice = min(19, os.nice(0) + niced)  # `nice -n` adds to this process's own value
    increment = None if flag in (None, "idle") else int(flag)  # the default is idle
    if increment is None or loop_nice == 19:
        expected = (loop_nice, SCHED_IDLE)
    else:
        expected = (min(19, loop_nice + increment), SCHED_OTHER)
    server = SluiceProcess(["nice", "-n", str(niced)] + args, False).wait_ready()  # nice execs: same PID
    try:
        deadline = time.monotonic() + 20  # the loop threads name themselves as they start
        threads = thread_scheduling(server.proc.pid)
        while "sluice-loop-1" not in threads or "sluice-loop-0" not in threads:
            assert time.monotonic() < deadline, f"no loop threads named: {threads}"
            time.sleep(0.05)
            threads = thread_scheduling(server.proc.pid)
        assert threads["sluice-loop-0"] == (loop_nice, SCHED_OTHER)
        assert threads["sluice-loop-1"] == (loop_nice, SCHED_OTHER)
        assert threads["sluice-worker-0"] == expected and threads["sluice-worker-1"] == expected
    finally:
        assert server.stop() == 0, server.output


def test_worker_priority_flag_is_validated():
    out = subprocess.run([sluice_bin(), "serve", "--plaintext", "--worker-priority", "20"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode != 0
    assert "--worker-priority must be a nice increment from 0 to 19 or 'idle', not '20'" in out.stderr


@pytest.mark.parametrize("tls", [False, True])
def test_multi_megabyte_calls_arrive_whole_through_the_per_turn_io_budget(tmp_path, sluice_server, proto_modules,
                                                                          tls):
    """A connection reads and writes at most 256 KiB per loop turn. Two 200,000-row BatchPredicts at once on one
    connection (3.2 MB requests, multi-MB replies, so many turns each way) and 1-row Predicts on a second one: every
    row's answer is right, over cleartext and TLS, with the calls on the loop and on the workers, and gzip-compressed
    too."""
    from concurrent.futures import ThreadPoolExecutor

    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    fixture = Fixture(CHURN)
    names = ["age", "income", "tenure_months", "credit_score"]
    base = [fixture.row(r)[n] for r in range(fixture.rows) for n in names]
    rows = 200_000 // fixture.rows * fixture.rows
    request = pb.BatchPredictRequest(model="churn", dense=base * (rows // fixture.rows))
    expected = fixture.labels * (rows // fixture.rows)
    big = {"grpc.max_send_message_length": 64 << 20, "grpc.max_receive_message_length": 64 << 20}
    small = pb.PredictRequest(model="churn", features={k: feature_value(pb, v) for k, v in fixture.row(3).items()})
    for offload in ("65536", "0"):
        server = wait_serving(sluice_server("--models", registry, "--threads", "1", "--max-message-bytes",
                                            str(64 << 20), "--offload-min-bytes", offload, tls=tls), proto_modules)
        batch_stub = pb_grpc.InferenceStub(server.channel(**big))
        small_stub = pb_grpc.InferenceStub(server.channel())
        with ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(batch_stub.BatchPredict, request, timeout=120) for _ in range(2)]
            while not all(call.done() for call in calls):
                assert small_stub.Predict(small, timeout=60).label_int == fixture.labels[3]
            for call in calls:
                reply = call.result()
                assert reply.rows == rows
                assert list(reply.labels_int) == expected
        # A gzip-compressed large request: the receive buffer is handed over compressed and inflated first.
        reply = batch_stub.BatchPredict(request, compression=grpc.Compression.Gzip, timeout=120)
        assert list(reply.labels_int) == expected
        server.stop()
