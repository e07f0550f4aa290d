"""Helpers for the REST (Open Inference Protocol over HTTP/1.1) tests: start a server with --http-listen, wait
for its REST port, and talk to it over raw sockets."""
import http.client
import json
import socket
import ssl
import time

from conftest import CERTS, sluice_bin
from modelfixtures import SHARED_MODELS, register


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def churn_registry(tmp_path, names=("skl_logreg_churn",)):
    """A registry with the given shared fixture models as version 1 (Production)."""
    registry = tmp_path / "registry"
    for name in names:
        register(sluice_bin(), registry, name, SHARED_MODELS / name / "model.onnx")
    return registry


def start_rest(sluice_server, registry, *extra, tls=False, idle=None):
    """Starts sluice with models and a REST port; returns (server, rest_port) once /v2/health/ready is 200."""
    port = free_port()
    args = ["--models", registry, "--http-listen", f"127.0.0.1:{port}", *extra]
    if idle is not None:
        args += ["--http-idle-timeout", str(idle)]
    server = sluice_server(*args, tls=tls)
    wait_rest_ready(port, server, tls=tls)
    return server, port


def connection(port, tls=False, timeout=10):
    if tls:
        context = ssl.create_default_context(cafile=str(CERTS / "ca.pem"))
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(port, method, path, body=None, headers=None, tls=False):
    """One request on a fresh connection: (status, headers dict, body bytes)."""
    conn = connection(port, tls)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def wait_rest_ready(port, server, tls=False, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        server.assert_alive()
        try:
            status, _, body = request(port, "GET", "/v2/health/ready", tls=tls)
            if status == 200:
                return
            last = (status, body)
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise AssertionError(f"REST port {port} not ready after {timeout}s: {last}\n{server.output}")


def raw_exchange(port, data, timeout=10.0, read_until_close=True):
    """Sends raw bytes, then reads until the server closes (or `timeout`); returns everything received."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def status_of(raw):
    """The status code of the first response in raw bytes (None when there is none)."""
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


def infer_json(rows, name="X", datatype="FP32"):
    """A KServe v2 JSON inference request body for a [n, k] input."""
    return json.dumps({"inputs": [{"name": name, "shape": [len(rows), len(rows[0])], "datatype": datatype,
                                   "data": rows}]}).encode()
