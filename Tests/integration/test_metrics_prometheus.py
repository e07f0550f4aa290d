"""A real Prometheus server scrapes Sluice's admin listener."""
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving

PROMETHEUS = shutil.which("prometheus")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (scripts/setup installs it)")
def test_prometheus_scrapes_metrics(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", SHARED_MODELS / "spark_churn_rf" / "model.onnx")
    admin_port = free_port()
    server = wait_serving(sluice_server("--models", registry, "--admin-listen", f"127.0.0.1:{admin_port}"),
                          proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    features = {k: feature_value(pb, v) for k, v in Fixture(SHARED_MODELS / "spark_churn_rf").row(0).items()}
    for _ in range(7):
        stub.Predict(pb.PredictRequest(model="churn", features=features))

    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['127.0.0.1:{admin_port}']
""")
    web_port = free_port()
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{web_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def query(expr):
            url = f"http://127.0.0.1:{web_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            return json.load(urllib.request.urlopen(url, timeout=2))["data"]["result"]

        deadline = time.monotonic() + 40
        up = total = None
        while time.monotonic() < deadline:
            try:
                up = query('up{job="sluice"}')
                total = query('sluice_requests_total{rpc="Predict",model="churn",code="OK"}')
                if up and up[0]["value"][1] == "1" and total:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert up and up[0]["value"][1] == "1", f"Prometheus could not scrape Sluice: {up}"
        assert total and total[0]["value"][1] == "7", total
        histogram = query('sluice_request_duration_seconds_count{rpc="Predict",model="churn"}')
        assert histogram and histogram[0]["value"][1] == "7"
    finally:
        prom.terminate()
        prom.wait(timeout=10)
