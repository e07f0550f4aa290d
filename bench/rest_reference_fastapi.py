#!/usr/bin/env python3
"""The Python reference for REST inference: FastAPI + onnxruntime, the stack many teams run today.

Serves `POST /v2/models/{name}/infer` with KServe v2 JSON tensors (the same request and response shape as Sluice's
REST port) for one ONNX model, and `GET /v2/health/ready`. Run by bench/rest_bench.py under uvicorn (one worker):
  python bench/rest_reference_fastapi.py --model model.onnx --name churn --port 8001
"""
import argparse

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, HTTPException, Request

DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}
NAMES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64",
         np.dtype(np.int32): "INT32", np.dtype(np.bool_): "BOOL"}


def make_app(model_path, name):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    @app.post("/v2/models/{model}/infer")
    async def infer(model: str, request: Request):
        if model != name:
            raise HTTPException(404, f"unknown model {model}")
        body = await request.json()
        feeds = {}
        for tensor in body["inputs"]:
            if tensor["datatype"] == "BYTES":
                array = np.array(tensor["data"], dtype=object)
            else:
                array = np.array(tensor["data"], dtype=DTYPES[tensor["datatype"]])
            feeds[tensor["name"]] = array.reshape(tensor["shape"])
        results = session.run(output_names, feeds)
        outputs = []
        for output, value in zip(output_names, results):
            value = np.asarray(value)
            outputs.append({"name": output, "datatype": NAMES.get(value.dtype, "BYTES"), "shape": list(value.shape),
                            "data": value.reshape(-1).tolist()})
        return {"model_name": name, "model_version": "1", "outputs": outputs}

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    uvicorn.run(make_app(a.model, a.name), host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
