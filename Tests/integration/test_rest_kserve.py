"""The KServe Python SDK's v2 REST client (`kserve.InferenceRESTClient`, unmodified) against the REST port: server
and model readiness, and inference on every fixture model (JSON and binary tensors) equal to onnxruntime's outputs.

The client runs in a subprocess (kserve_rest_client.py): `kserve` and `tritonclient.grpc` register clashing
`inference.*` protobuf messages, so they cannot share the pytest process.
"""
import pathlib
import subprocess
import sys

import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, register, shared_model_names
from resthelpers import start_rest

MODELS = shared_model_names()
HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = tmp_path_factory.mktemp("kserve-registry")
    for name in MODELS:
        fixture = Fixture(SHARED_MODELS / name)
        names = [f for f, _ in fixture.features] if fixture.single_multicolumn_input else None
        register(sluice_bin(), registry, name, fixture.model_path, feature_names=names)
    return registry


def test_kserve_rest_client_on_every_fixture_model(registry, sluice_server):
    server, port = start_rest(sluice_server, registry)
    out = subprocess.run([sys.executable, str(HERE / "kserve_rest_client.py"), f"http://127.0.0.1:{port}", *MODELS],
                         capture_output=True, text=True, timeout=300, cwd=HERE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all checks passed" in out.stdout
    server.assert_alive()
