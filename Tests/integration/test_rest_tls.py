"""TLS on the REST port (libmicrohttpd's GnuTLS): protocol versions and ciphers as the gRPC port's intermediate
profile, and certificate reload on SIGHUP (new connections get the new certificate, open ones keep working, a broken
file keeps the old one)."""
import http.client
import shutil
import signal
import socket
import ssl
import time

import pytest

from resthelpers import churn_registry, free_port, wait_rest_ready
from test_server_tls import make_ca_and_server


def https(port, ca):
    context = ssl.create_default_context(cafile=str(ca))
    return http.client.HTTPSConnection("localhost", port, timeout=10, context=context)


def live_status(conn):
    conn.request("GET", "/v2/health/live")
    response = conn.getresponse()
    response.read()
    return response.status


def wait_for(server, text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while text not in server.output:
        assert time.monotonic() < deadline, f"no '{text}' in the log:\n{server.output}"
        time.sleep(0.05)


def test_rest_tls_versions_ciphers_and_sighup_reload(tmp_path, sluice_server, dev_certs):
    registry = churn_registry(tmp_path)
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(dev_certs / "server.pem", live / "server.pem")
    shutil.copy(dev_certs / "server-key.pem", live / "server-key.pem")
    port = free_port()
    server = sluice_server("--models", registry, "--tls-cert", live / "server.pem", "--tls-key",
                           live / "server-key.pem", "--http-listen", f"127.0.0.1:{port}")
    wait_rest_ready(port, server, tls=True)

    # Versions and ciphers: TLS 1.2 with ECDHE + AEAD and TLS 1.3 are accepted; TLS 1.1 and CBC suites are not.
    for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
        context.maximum_version = maximum
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                name, version, _ = tls.cipher()
                assert version == maximum.name.replace("v", "v").replace("TLSv1_", "TLSv1.")
                assert "GCM" in name or "CHACHA20" in name, name
    weak = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    weak.load_verify_locations(str(dev_certs / "ca.pem"))
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            weak.wrap_socket(sock, server_hostname="localhost").do_handshake()

    old = https(port, dev_certs / "ca.pem")
    assert live_status(old) == 200

    # A broken file: the old certificate stays.
    (live / "server.pem").write_text("not a certificate")
    server.signal(signal.SIGHUP)
    wait_for(server, "REST listener keeps its TLS certificate")
    conn = https(port, dev_certs / "ca.pem")
    assert live_status(conn) == 200
    conn.close()

    # A certificate from another CA: new connections get it, the open one keeps working.
    other = make_ca_and_server(tmp_path / "other")
    shutil.copy(other / "server.pem", live / "server.pem")
    shutil.copy(other / "server-key.pem", live / "server-key.pem")
    server.signal(signal.SIGHUP)
    wait_for(server, "reloaded the REST listener's TLS certificate")
    conn = https(port, other / "ca.pem")
    assert live_status(conn) == 200
    conn.close()
    with pytest.raises(ssl.SSLError):
        live_status(https(port, dev_certs / "ca.pem"))
    assert live_status(old) == 200
    old.close()
    server.assert_alive()
