"""Generates Python stubs for proto/ into a cache directory and imports them (bench and tests share this)."""
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(out_dir=None):
    """Returns (inference_pb2, inference_pb2_grpc, health_pb2, health_pb2_grpc)."""
    from grpc_tools import protoc

    out_dir = out_dir or os.path.join(ROOT, "bench", "results", "_gen")
    os.makedirs(out_dir, exist_ok=True)
    protos = ["sluice/v1/inference.proto", "grpc/health/v1/health.proto"]
    args = ["protoc", f"-I{ROOT}/proto", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"] + protos
    if protoc.main(args) != 0:
        raise RuntimeError("grpc_tools.protoc failed")
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    # `grpc.health.v1` lives inside grpcio's own `grpc` package name: extend its search path.
    import grpc

    if os.path.join(out_dir, "grpc") not in grpc.__path__:
        grpc.__path__.append(os.path.join(out_dir, "grpc"))
    return (importlib.import_module("sluice.v1.inference_pb2"), importlib.import_module("sluice.v1.inference_pb2_grpc"),
            importlib.import_module("grpc.health.v1.health_pb2"), importlib.import_module("grpc.health.v1.health_pb2_grpc"))


def grpc_frame(message):
    """The 5-byte gRPC length prefix plus the serialized message (an h2load request body)."""
    data = message.SerializeToString()
    return b"\x00" + len(data).to_bytes(4, "big") + data
