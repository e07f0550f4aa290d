"""The load-test recipe of docs/load-testing.md, run for a bounded count against the real binary.

bench/make_h2load_body.py writes a gRPC-framed PredictRequest; h2load sends it -n times with the gRPC headers.
h2load only sees HTTP statuses (a gRPC error is HTTP 200 too), so the server's own counters
(`sluice_requests_total` by gRPC code, on the admin listener) must show that every call was OK. A run with a
wrong API key shows why that check is needed: h2load counts it as succeeded, the counters do not.
"""
import re
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import ROOT, sluice_bin
from modelfixtures import SHARED_MODELS, register, wait_serving

H2LOAD = shutil.which("h2load")
API_KEY = "slk_h2load-recipe-test-key-0123456789abcdef"
FEATURES = ["age=42", "income=52000", "tenure_months=7", "credit_score=610", "plan=basic"]
REQUESTS = 200

pytestmark = pytest.mark.skipif(H2LOAD is None, reason="h2load is not installed (scripts/setup installs nghttp2-client)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def body(tmp_path_factory):
    path = tmp_path_factory.mktemp("h2load") / "predict.bin"
    args = [sys.executable, str(ROOT / "bench" / "make_h2load_body.py"), "--model", "churn", "--version", "@champion",
            "-o", str(path)]
    for f in FEATURES:
        args += ["--feature", f]
    subprocess.run(args, check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    path = tmp_path_factory.mktemp("registry")
    register(sluice_bin(), path, "churn", SHARED_MODELS / "skl_ct_pipeline_churn" / "model.onnx",
             aliases=["champion"])
    return path


def h2load(url, body, requests, *headers):
    """Runs h2load (2 connections x 8 streams, bounded count); returns the parsed `requests:` and status counts."""
    cmd = [H2LOAD, "-n", str(requests), "-c", "2", "-m", "8", "-d", str(body),
           "-H", "content-type: application/grpc", "-H", "te: trailers"]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", out.stdout)
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out.stdout)
    assert counts and statuses, out.stdout
    return {"done": int(counts[3]), "succeeded": int(counts[4]), "failed": int(counts[5]), "2xx": int(statuses[1])}


def predict_codes(admin_port):
    """{gRPC code: count} of Predict on churn from the server's Prometheus counters."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10).read().decode()
    codes = {}
    for line in text.splitlines():
        if line.startswith("sluice_requests_total{") and 'rpc="Predict"' in line:
            code = re.search(r'code="([A-Z_]+)"', line)[1]
            codes[code] = codes.get(code, 0) + int(float(line.rsplit(" ", 1)[1]))
    return codes


def test_h2load_plaintext(body, registry, sluice_server, proto_modules):
    admin = free_port()
    server = wait_serving(sluice_server("--models", registry, "--admin-listen", f"127.0.0.1:{admin}"), proto_modules)
    result = h2load(f"http://{server.address}/sluice.v1.Inference/Predict", body, REQUESTS)
    assert result == {"done": REQUESTS, "succeeded": REQUESTS, "failed": 0, "2xx": REQUESTS}
    assert predict_codes(admin) == {"OK": REQUESTS}


def test_h2load_tls_with_api_key(body, registry, sluice_server, proto_modules, tmp_path):
    import hashlib
    import json

    config = {"apiKeys": [{"id": "load", "sha256": hashlib.sha256(API_KEY.encode()).hexdigest(), "principal": "load",
                           "roles": ["predictor"]}]}
    (tmp_path / "security.json").write_text(json.dumps(config))
    admin = free_port()
    server = wait_serving(sluice_server("--models", registry, "--security-config", tmp_path / "security.json",
                                        "--admin-listen", f"127.0.0.1:{admin}", tls=True), proto_modules)
    url = f"https://{server.address}/sluice.v1.Inference/Predict"
    result = h2load(url, body, REQUESTS, f"x-api-key: {API_KEY}")
    assert result == {"done": REQUESTS, "succeeded": REQUESTS, "failed": 0, "2xx": REQUESTS}
    assert predict_codes(admin) == {"OK": REQUESTS}

    # A wrong key: every call fails with UNAUTHENTICATED, yet h2load still sees HTTP 200 and "succeeded".
    result = h2load(url, body, 20, f"x-api-key: {API_KEY}-wrong")
    assert result == {"done": 20, "succeeded": 20, "failed": 0, "2xx": 20}
    assert predict_codes(admin) == {"OK": REQUESTS, "UNAUTHENTICATED": 20}
