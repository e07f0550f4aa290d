#!/usr/bin/env python3
"""The server a team would otherwise write: Python grpcio (sync) + onnxruntime, serving sluice.v1.Inference/Predict
for one ONNX model with named features. Used only as the benchmark reference for Sluice's Predict.

  reference_server.py --model PATH.onnx --port PORT [--workers 8]
"""
import argparse
import os
import sys
from concurrent import futures

import grpc
import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protos  # noqa: E402

pb, pb_grpc, _, _ = protos.load()


class Inference(pb_grpc.InferenceServicer):
    def __init__(self, path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def Predict(self, request, context):
        feeds = {name: np.array([[request.features[name].number]], dtype=np.float32) for name in self.inputs}
        label, probabilities = self.session.run(None, feeds)
        scores = [float(x) for x in probabilities[0]]
        return pb.PredictResponse(model=request.model, version=1, label_int=int(label[0]), scores=scores,
                                  confidence=max(scores), request_id=request.request_id)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=a.workers))
    pb_grpc.add_InferenceServicer_to_server(Inference(a.model), server)
    server.add_insecure_port(f"127.0.0.1:{a.port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
