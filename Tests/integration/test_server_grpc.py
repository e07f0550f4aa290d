"""Black-box tests of `sluice serve` with the grpcio client, over h2c and TLS."""

import concurrent.futures
import signal
import threading
import time

import grpc
import pytest

from conftest import insecure_channel

HEALTH = "/grpc.health.v1.Health/Check"


def health_stub(channel, proto_modules):
    return proto_modules.health_pb2_grpc.HealthStub(channel)


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_health_check_serving(sluice_server, proto_modules, tls):
    server = sluice_server(tls=tls)
    with server.channel() as channel:
        reply = health_stub(channel, proto_modules).Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == proto_modules.health_pb2.HealthCheckResponse.SERVING
        named = health_stub(channel, proto_modules).Check(
            proto_modules.health_pb2.HealthCheckRequest(service="grpc.health.v1.Health"), timeout=5)
        assert named.status == proto_modules.health_pb2.HealthCheckResponse.SERVING
        # Until the engine is wired in, the Inference placeholder is reported as not serving.
        placeholder = health_stub(channel, proto_modules).Check(
            proto_modules.health_pb2.HealthCheckRequest(service="sluice.v1.Inference"), timeout=5)
        assert placeholder.status == proto_modules.health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as info:
            health_stub(channel, proto_modules).Check(
                proto_modules.health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no.such.Service" in info.value.details()


def test_tls_rejects_untrusted_client_view(sluice_server, proto_modules, tmp_path):
    """A client that trusts another CA must fail the handshake (the server presents the dev chain only)."""
    import subprocess

    server = sluice_server(tls=True)
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=other", "-keyout", str(tmp_path / "k.pem"), "-out", str(other)],
                   check=True, capture_output=True)
    creds = grpc.ssl_channel_credentials(root_certificates=other.read_bytes())
    with grpc.secure_channel(server.address, creds) as channel:
        with pytest.raises(grpc.RpcError) as info:
            health_stub(channel, proto_modules).Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_unknown_service_and_method_unimplemented(sluice_server, tls):
    server = sluice_server(tls=tls)
    with server.channel() as channel:
        for path, needle in [("/no.such.Service/Do", "unknown service 'no.such.Service'"),
                             ("/grpc.health.v1.Health/Nope", "unknown method 'Nope'")]:
            call = channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as info:
                call(b"", timeout=5)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert needle in info.value.details()


def test_inference_rpcs_without_model_source_say_so(sluice_server, proto_modules):
    server = sluice_server()
    pb = proto_modules.inference_pb2
    with server.channel() as channel:
        stub = proto_modules.inference_pb2_grpc.InferenceStub(channel)
        calls = [(stub.Predict, pb.PredictRequest(model="churn")),
                 (stub.BatchPredict, pb.BatchPredictRequest(model="churn")),
                 (stub.GetModelVersion, pb.GetModelVersionRequest(model="churn")),
                 (stub.Rollout, pb.RolloutRequest())]
        for method, request in calls:
            with pytest.raises(grpc.RpcError) as info:
                method(request, timeout=5)
            assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "no model registry configured: start with --models DIR" in info.value.details()
    assert "no model registry configured" in server.output


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_oversized_message_resource_exhausted(sluice_server, proto_modules, tls):
    server = sluice_server("--max-message-bytes", "1024", tls=tls)
    with server.channel() as channel:
        stub = health_stub(channel, proto_modules)
        ok = stub.Check(proto_modules.health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert ok.status == proto_modules.health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as info:
            stub.Check(proto_modules.health_pb2.HealthCheckRequest(service="x" * 2000), timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit of 1024 bytes" in info.value.details()
        # The connection is still usable afterwards.
        assert stub.Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=5).status == 1


def test_default_limit_is_4_mib(sluice_server, proto_modules):
    server = sluice_server()
    with server.channel() as channel:
        stub = health_stub(channel, proto_modules)
        with pytest.raises(grpc.RpcError) as info:
            stub.Check(proto_modules.health_pb2.HealthCheckRequest(service="y" * (4 * 1024 * 1024 + 10)), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Just under the limit is accepted (and answered NOT_FOUND: no such service).
        with pytest.raises(grpc.RpcError) as info:
            stub.Check(proto_modules.health_pb2.HealthCheckRequest(service="y" * (4 * 1024 * 1024 - 100)), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_garbage_message_is_invalid_argument(sluice_server, tls):
    server = sluice_server(tls=tls)
    with server.channel() as channel:
        call = channel.unary_unary(HEALTH, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as info:
            call(b"\xff\xff\xff\xff\xff\xff\x07garbage", timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "HealthCheckRequest" in info.value.details()


def test_gzip_request_is_decoded(sluice_server, proto_modules):
    server = sluice_server()
    with server.channel() as channel:
        stub = health_stub(channel, proto_modules)
        reply = stub.Check(proto_modules.health_pb2.HealthCheckRequest(service="grpc.health.v1.Health"),
                           timeout=5, compression=grpc.Compression.Gzip)
        assert reply.status == proto_modules.health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_1000_concurrent_calls_on_20_connections(sluice_server, proto_modules, tls):
    server = sluice_server("--threads", "2", tls=tls)
    channels = [server.channel() for _ in range(20)]
    try:
        stubs = [health_stub(c, proto_modules) for c in channels]
        for stub in stubs:  # connect all 20 first
            stub.Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=10)
        futures = [stubs[i % 20].Check.future(proto_modules.health_pb2.HealthCheckRequest(), timeout=30)
                   for i in range(1000)]
        results = [f.result() for f in futures]
        assert len(results) == 1000
        assert all(r.status == proto_modules.health_pb2.HealthCheckResponse.SERVING for r in results)
    finally:
        for c in channels:
            c.close()


def test_graceful_shutdown_under_load_loses_no_call(sluice_server, proto_modules):
    """Calls racing a SIGTERM either succeed or are refused as UNAVAILABLE before they start; none fails
    otherwise, and the server exits 0."""
    server = sluice_server("--threads", "2", "--drain-timeout", "10")
    channels = [server.channel() for _ in range(8)]
    outcomes = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(channel):
        stub = health_stub(channel, proto_modules)
        while not stop.is_set():
            futures = [stub.Check.future(proto_modules.health_pb2.HealthCheckRequest(), timeout=10) for _ in range(20)]
            for f in futures:
                try:
                    f.result()
                    result = "ok"
                except grpc.RpcError as e:
                    result = e.code()
                with lock:
                    outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(c,)) for c in channels]
    for t in threads:
        t.start()
    time.sleep(0.7)
    server.signal(signal.SIGTERM)
    code = server.proc.wait(15)
    stop.set()
    for t in threads:
        t.join(20)
    for c in channels:
        c.close()
    assert code == 0, server.output
    assert outcomes.count("ok") > 100
    bad = [o for o in outcomes if o not in ("ok", grpc.StatusCode.UNAVAILABLE)]
    assert not bad, f"calls failed during shutdown: {set(bad)}"
    assert "draining" in server.output and "stopped" in server.output


def test_startup_errors_exit_nonzero(sluice_server, dev_certs, tmp_path):
    import subprocess
    from conftest import sluice_bin

    running = sluice_server()
    cases = [
        (["--plaintext", "--listen", running.address], "Address already in use"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(dev_certs / "server-key.pem")],
         "missing.pem"),
        (["--tls-cert", str(dev_certs / "server.pem"), "--tls-key", str(dev_certs / "client-key.pem")],
         "does not match"),
        ([], "--plaintext"),
        (["--plaintext", "--listen", "nonsense"], "HOST:PORT"),
    ]
    (tmp_path / "bad.json").write_text('{"listen": "127.0.0.1:0", "lisen": 1}')
    cases.append((["--config", str(tmp_path / "bad.json")], "unknown key(s) lisen"))
    for args, needle in cases:
        result = subprocess.run([sluice_bin(), "serve", *args], capture_output=True, text=True, timeout=20)
        assert result.returncode != 0, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)


def test_config_file_and_flag_override(sluice_server, proto_modules, tmp_path):
    config = tmp_path / "sluice.json"
    config.write_text('{"listen": "127.0.0.1:1", "plaintext": true, "threads": 1, "maxMessageBytes": 100}')
    server = sluice_server("--config", str(config), listen="127.0.0.1:0")
    assert server.port not in (None, 1)
    with server.channel() as channel:
        stub = health_stub(channel, proto_modules)
        with pytest.raises(grpc.RpcError) as info:
            stub.Check(proto_modules.health_pb2.HealthCheckRequest(service="z" * 200), timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit of 100 bytes" in info.value.details()


def test_help_lists_flags():
    import subprocess
    from conftest import sluice_bin

    result = subprocess.run([sluice_bin(), "serve", "--help"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0
    for flag in ["--listen", "--threads", "--tls-cert", "--tls-key", "--plaintext", "--max-message-bytes",
                 "--drain-timeout", "--config"]:
        assert flag in result.stdout


def test_transport_flags_replace_the_config_files_choice(sluice_server, proto_modules, tmp_path):
    config = tmp_path / "plain.json"
    config.write_text('{"plaintext": true}')
    server = sluice_server("--config", str(config), tls=True)
    assert "over TLS" in server.output
    with server.channel() as channel:
        assert health_stub(channel, proto_modules).Check(
            proto_modules.health_pb2.HealthCheckRequest(), timeout=5).status == 1
