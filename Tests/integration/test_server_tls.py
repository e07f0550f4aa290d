"""TLS details: mTLS with --client-ca, TLS 1.3-only profile, certificate reload on SIGHUP."""

import shutil
import signal
import ssl
import socket
import subprocess
import time

import grpc
import pytest

from conftest import CERTS


def check(channel, proto_modules):
    stub = proto_modules.health_pb2_grpc.HealthStub(channel)
    return stub.Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=5).status


def make_ca_and_server(directory):
    """A fresh CA and a localhost/127.0.0.1 server certificate signed by it (openssl CLI)."""
    directory.mkdir(parents=True, exist_ok=True)
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=Other CA", "-keyout", str(directory / "ca-key.pem"), "-out", str(directory / "ca.pem"))
    (directory / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=localhost", "-keyout", str(directory / "server-key.pem"), "-out", str(directory / "server.csr"))
    run("openssl", "x509", "-req", "-in", str(directory / "server.csr"), "-CA", str(directory / "ca.pem"),
        "-CAkey", str(directory / "ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", str(directory / "ext"),
        "-out", str(directory / "server.pem"))
    return directory


def channel_for(port, ca, cert=None, key=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None)
    return grpc.secure_channel(f"127.0.0.1:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)])


def test_mutual_tls_requires_a_client_certificate(sluice_server, proto_modules, dev_certs):
    server = sluice_server("--client-ca", dev_certs / "ca.pem", tls=True)
    with channel_for(server.port, dev_certs / "ca.pem", dev_certs / "client.pem", dev_certs / "client-key.pem") as ch:
        assert check(ch, proto_modules) == 1
    with channel_for(server.port, dev_certs / "ca.pem") as ch:
        with pytest.raises(grpc.RpcError) as info:
            check(ch, proto_modules)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_modern_profile_refuses_tls12(sluice_server, dev_certs):
    server = sluice_server("--tls-profile", "modern", tls=True)
    ctx = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(sock, server_hostname="localhost").do_handshake()
    ctx13 = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
    ctx13.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with ctx13.wrap_socket(sock, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.3" and tls.selected_alpn_protocol() == "h2"


def test_intermediate_profile_offers_only_strong_tls12_ciphers(sluice_server, dev_certs):
    server = sluice_server(tls=True)
    ctx = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            name, version, _ = tls.cipher()
            assert version == "TLSv1.2" and name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)
    weak = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
    weak.set_alpn_protocols(["h2"])
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            weak.wrap_socket(sock, server_hostname="localhost").do_handshake()


def test_sighup_reloads_certificate_and_keeps_old_on_error(sluice_server, proto_modules, dev_certs, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(dev_certs / "server.pem", live / "server.pem")
    shutil.copy(dev_certs / "server-key.pem", live / "server-key.pem")
    server = sluice_server("--tls-cert", live / "server.pem", "--tls-key", live / "server-key.pem", tls=False)
    old = channel_for(server.port, dev_certs / "ca.pem")
    assert check(old, proto_modules) == 1

    # A broken file: the server keeps serving the old certificate.
    (live / "server.pem").write_text("not a certificate")
    server.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert "keeping the current TLS certificate" in server.output
    with channel_for(server.port, dev_certs / "ca.pem") as ch:
        assert check(ch, proto_modules) == 1

    # A new certificate from another CA: new connections get it; the open connection keeps working.
    other = make_ca_and_server(tmp_path / "other")
    shutil.copy(other / "server.pem", live / "server.pem")
    shutil.copy(other / "server-key.pem", live / "server-key.pem")
    server.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert "reloaded TLS certificate" in server.output
    with channel_for(server.port, other / "ca.pem") as ch:
        assert check(ch, proto_modules) == 1
    with channel_for(server.port, dev_certs / "ca.pem") as ch:
        with pytest.raises(grpc.RpcError):
            check(ch, proto_modules)
    assert check(old, proto_modules) == 1
    old.close()
