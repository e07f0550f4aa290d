"""TLS as the security issue asks: Mozilla profile compliance (sslyze), old protocol versions refused, the mTLS
subject as an RBAC principal, and certificate reload under load without a failed call."""
import json
import signal
import ssl
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest

from conftest import CERTS, sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving

CHURN = SHARED_MODELS / "spark_churn_rf"


def sslyze(port, profile, ca):
    return subprocess.run([sys.executable, "-m", "sslyze", f"--mozilla_config={profile}", f"--certinfo_ca_file={ca}",
                           f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=300)


def issue_cert(directory, days, name="server"):
    """A localhost certificate signed by the development CA, valid for `days` days."""
    directory.mkdir(parents=True, exist_ok=True)
    key, csr, cert, ext = (directory / f"{name}-key.pem", directory / f"{name}.csr", directory / f"{name}.pem",
                           directory / "ext")
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(CERTS / "ca.pem"), "-CAkey",
                    str(CERTS / "ca-key.pem"), "-CAcreateserial", "-CAserial", str(directory / "ca.srl"),
                    "-days", str(days), "-extfile", str(ext), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_intermediate_profile_is_mozilla_compliant(sluice_server):
    server = sluice_server(tls=True)
    result = sslyze(server.port, "intermediate", CERTS / "ca.pem")
    assert result.returncode == 0 and "OK - Compliant" in result.stdout, result.stdout[-3000:]


def test_modern_profile_is_mozilla_compliant(sluice_server, tmp_path):
    # Mozilla's modern profile also wants certificates that live less than 90 days.
    cert, key = issue_cert(tmp_path, 60)
    server = sluice_server("--tls-cert", cert, "--tls-key", key, "--tls-profile", "modern")
    result = sslyze(server.port, "modern", CERTS / "ca.pem")
    assert result.returncode == 0 and "OK - Compliant" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_are_refused(sluice_server, version):
    server = sluice_server(tls=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(CERTS / "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = getattr(ssl.TLSVersion, version)
        ctx.maximum_version = getattr(ssl.TLSVersion, version)
    except (ValueError, ssl.SSLError) as error:
        pytest.skip(f"this Python's OpenSSL cannot offer {version}: {error}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.recv(1)
    server.assert_alive()


def test_mtls_subject_is_an_rbac_principal(sluice_server, proto_modules, tmp_path):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    security = tmp_path / "security.json"
    audit = tmp_path / "audit.log"
    security.write_text(json.dumps({
        "bindings": [{"subject": "CN=sluice-dev-client,O=Sluice development", "method": "mtls",
                      "roles": ["predictor"]}],
        "audit": {"path": str(audit)},
    }))
    server = sluice_server("--models", registry, "--security-config", security, "--client-ca", CERTS / "ca.pem",
                           tls=True)
    creds = grpc.ssl_channel_credentials(root_certificates=(CERTS / "ca.pem").read_bytes(),
                                         private_key=(CERTS / "client-key.pem").read_bytes(),
                                         certificate_chain=(CERTS / "client.pem").read_bytes())
    channel = grpc.secure_channel(f"127.0.0.1:{server.port}", creds)
    wait_serving(type("S", (), {"channel": lambda self: channel, "output": server.output})(), proto_modules)
    stub = pb_grpc.InferenceStub(channel)
    features = {k: feature_value(pb, v) for k, v in Fixture(CHURN).row(0).items()}
    assert stub.Predict(pb.PredictRequest(model="churn", features=features)).version == 1
    # predictor may not steer rollouts.
    with pytest.raises(grpc.RpcError) as info:
        stub.Rollout(pb.RolloutRequest(model="churn", action=pb.GET))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert 'Rollout on model "churn"' in info.value.details()
    # Without a client certificate the handshake itself is refused.
    plain = grpc.secure_channel(f"127.0.0.1:{server.port}",
                                grpc.ssl_channel_credentials(root_certificates=(CERTS / "ca.pem").read_bytes()))
    with pytest.raises(grpc.RpcError) as info:
        pb_grpc.InferenceStub(plain).Predict(pb.PredictRequest(model="churn", features=features), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    server.stop()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    methods = {(r["principal"], r["auth_method"], r["rpc"], r["decision"]) for r in records}
    assert ("CN=sluice-dev-client,O=Sluice development", "mtls", "Predict", "allowed") in methods
    assert any(r["rpc"] == "Rollout" and r["decision"] == "denied" for r in records)


def test_certificate_reload_under_load_fails_no_call(sluice_server, proto_modules, tmp_path):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    live = tmp_path / "live"
    cert, key = issue_cert(live, 30)
    server = sluice_server("--models", registry, "--tls-cert", cert, "--tls-key", key, "--insecure-no-auth")
    server.tls = True
    wait_serving(server, proto_modules)
    features = {k: feature_value(pb, v) for k, v in Fixture(CHURN).row(0).items()}
    failures, done, stop = [], [0], threading.Event()

    def load(fresh_connections):
        channel = server.channel()
        while not stop.is_set():
            if fresh_connections:
                channel.close()
                channel = server.channel()
            try:
                pb_grpc.InferenceStub(channel).Predict(pb.PredictRequest(model="churn", features=features), timeout=10)
                done[0] += 1
            except grpc.RpcError as error:
                failures.append((error.code(), error.details()))

    threads = [threading.Thread(target=load, args=(fresh,)) for fresh in (False, False, True)]
    for t in threads:
        t.start()
    try:
        for round_ in range(5):
            time.sleep(0.3)
            issue_cert(live, 30 + round_)
            server.signal(signal.SIGHUP)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:5]
    assert done[0] > 100
    assert server.output.count("reloaded TLS certificate") == 5, server.output
