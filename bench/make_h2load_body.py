#!/usr/bin/env python3
"""Writes an h2load request body for Sluice's Predict: one gRPC message, i.e. a serialized PredictRequest behind
the 5-byte gRPC prefix (1 byte compressed-flag = 0, 4 bytes big-endian message length). See docs/load-testing.md.

  .venv/bin/python bench/make_h2load_body.py --model churn --version @champion \\
      --feature age=42 --feature income=52000 --feature tenure_months=7 --feature credit_score=610 \\
      --feature plan=basic -o predict.bin
  h2load -n 10000 -c 4 -m 16 -d predict.bin -H 'content-type: application/grpc' -H 'te: trailers' \\
      http://127.0.0.1:50051/sluice.v1.Inference/Predict

The messages come from the generated Python client in clients/python (only `protobuf` must be importable).
A feature value that parses as a number is sent as `FeatureValue.number`; anything else, or a value that starts
with `text:`, as `FeatureValue.text`.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

from sluice.v1 import inference_pb2 as pb  # noqa: E402


def feature(arg):
    """`name=value` -> (name, FeatureValue)."""
    name, sep, value = arg.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"want name=value, got {arg!r}")
    if value.startswith("text:"):
        return name, pb.FeatureValue(text=value[len("text:"):])
    try:
        return name, pb.FeatureValue(number=float(value))
    except ValueError:
        return name, pb.FeatureValue(text=value)


def dense(arg):
    try:
        return [float(v) for v in arg.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dense wants comma-separated numbers, got {arg!r}") from None


def grpc_frame(message):
    """The 5-byte gRPC prefix (uncompressed) and the serialized message."""
    data = message.SerializeToString()
    return b"\x00" + len(data).to_bytes(4, "big") + data


def build_request(args):
    request = pb.PredictRequest(model=args.model, version=args.version, routing_key=args.routing_key,
                                request_id=args.request_id)
    for name, value in args.feature:
        request.features[name].CopyFrom(value)
    if args.dense is not None:
        request.dense.extend(args.dense)
    return request


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", default="", help='selector: "", "7", "production", "@champion", ...')
    parser.add_argument("--routing-key", default="", help="sticky rollout key (the same on every request)")
    parser.add_argument("--request-id", default="",
                        help="sent on every request (default: empty, so the server generates one per call)")
    parser.add_argument("--feature", type=feature, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dense", type=dense, metavar="V1,V2,...", help="numeric features in signature order")
    parser.add_argument("-o", "--out", required=True, help="file to write the body to")
    args = parser.parse_args(argv)
    if bool(args.feature) == (args.dense is not None):
        parser.error("give either --feature (repeatable) or --dense")
    body = grpc_frame(build_request(args))
    with open(args.out, "wb") as f:
        f.write(body)
    print(f"wrote {args.out}: {len(body)} bytes (5-byte gRPC prefix + {len(body) - 5}-byte PredictRequest)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
