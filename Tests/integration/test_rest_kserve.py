"""The KServe Python SDK's v2 REST client (`kserve.InferenceRESTClient`, unmodified) against the REST port: server
and model readiness, and inference on every fixture model (JSON and binary tensors) equal to onnxruntime's outputs.
"""
import asyncio

import numpy as np
import pytest
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, register, shared_model_names
from resthelpers import start_rest

MODELS = shared_model_names()
NUMPY = {"float32": np.float32, "int64": np.int64, "float64": np.float64}
DATATYPE = {"float32": "FP32", "int64": "INT64", "float64": "FP64", "string": "BYTES"}
ROWS = list(range(32))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = tmp_path_factory.mktemp("kserve-registry")
    fixtures = {}
    for name in MODELS:
        fixture = Fixture(SHARED_MODELS / name)
        names = [f for f, _ in fixture.features] if fixture.single_multicolumn_input else None
        register(sluice_bin(), registry, name, fixture.model_path, feature_names=names)
        fixtures[name] = fixture
    return registry, fixtures


def inputs_for(fixture, rows, binary):
    inputs = []
    for spec in fixture.inputs:
        data = [spec["data"][i] for i in rows]
        if spec["dtype"] == "string":
            array = np.array([[v] if not isinstance(v, list) else v for v in data], dtype=np.object_)
        else:
            array = np.array([[np.nan if x is None else x for x in (v if isinstance(v, list) else [v])] for v in data],
                             dtype=NUMPY[spec["dtype"]])
            if len(spec["shape"]) == 1:
                array = array.reshape(-1)
        tensor = InferInput(spec["name"], list(array.shape), DATATYPE[spec["dtype"]])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def check(fixture, response, rows):
    outputs = {o.name: o for o in response.outputs}
    for expected in fixture.outputs:
        got = outputs[expected["name"]].as_numpy()
        want = [expected["data"][i] for i in rows]
        if expected["dtype"] == "map":
            want = [[row[k] for k in fixture.class_order] for row in want]
            np.testing.assert_allclose(got, np.array(want, dtype=np.float64), atol=1e-5, rtol=0)
        elif expected["dtype"] == "string":
            assert [v.decode() if isinstance(v, bytes) else v for v in got.reshape(-1)] == want
        elif expected["dtype"] == "int64":
            assert got.reshape(-1).tolist() == want
        else:
            np.testing.assert_allclose(got, np.array(want, dtype=np.float64).reshape(got.shape), atol=1e-5, rtol=1e-5)


def test_kserve_rest_client_on_every_fixture_model(registry, sluice_server):
    path, fixtures = registry
    server, port = start_rest(sluice_server, path)
    base = f"http://127.0.0.1:{port}"

    async def scenario():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            assert await client.is_server_live(base)
            assert await client.is_server_ready(base)
            for model in MODELS:
                assert await client.is_model_ready(base, model)
                for binary in (False, True):
                    request = InferRequest(model_name=model, infer_inputs=inputs_for(fixtures[model], ROWS, binary),
                                           request_id=f"k-{model}")
                    response = await client.infer(base, request, model_name=model)
                    assert response.model_name == model and response.id == f"k-{model}"
                    check(fixtures[model], response, ROWS)
            assert not await client.is_model_ready(base, "no-such-model")
        finally:
            await client.close()

    asyncio.run(scenario())
    server.assert_alive()
