"""The KServe SDK's v2 REST client against a running REST port, in a process of its own.

`kserve` registers its own `inference.*` protobuf messages (grpc_predict_v2), which clash with tritonclient's in one
Python process, so test_rest_kserve.py runs this script as a subprocess:
  python kserve_rest_client.py http://127.0.0.1:PORT MODEL [MODEL ...]
Exits 0 when every check passes; prints the failing assertion otherwise.
"""
import asyncio
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

from modelfixtures import SHARED_MODELS, Fixture

NUMPY = {"float32": np.float32, "int64": np.int64, "float64": np.float64}
DATATYPE = {"float32": "FP32", "int64": "INT64", "float64": "FP64", "string": "BYTES"}
ROWS = list(range(32))


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


async def scenario(base, models):
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    try:
        assert await client.is_server_live(base)
        assert await client.is_server_ready(base)
        for model in models:
            fixture = Fixture(SHARED_MODELS / model)
            assert await client.is_model_ready(base, model), model
            for binary in (False, True):
                request = InferRequest(model_name=model, infer_inputs=inputs_for(fixture, ROWS, binary),
                                       request_id=f"k-{model}")
                response = await client.infer(base, request, model_name=model)
                assert response.model_name == model and response.id == f"k-{model}"
                check(fixture, response, ROWS)
        assert not await client.is_model_ready(base, "no-such-model")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(scenario(sys.argv[1], sys.argv[2:]))
    print("kserve client: all checks passed")
