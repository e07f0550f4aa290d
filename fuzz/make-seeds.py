#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets into fuzz/corpus/<target>/seed-*.

Seeds are small valid (and a few nearly valid) inputs, so the fuzzers start from the shapes real clients send.
Standard library only; the output is committed, and re-running this script reproduces it byte for byte.
Reproducers of fixed crashes live beside the seeds as crash-*/leak-*/timeout-* files (kept by hand).

  python3 fuzz/make-seeds.py
"""
import gzip
import hashlib
import hmac
import base64
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


# ---- protobuf (proto3 wire format) -------------------------------------------------------------------------
def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return key(field, 0) + varint(n)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_double(field, x):
    return key(field, 1) + struct.pack("<d", x)


def f_floats(field, xs):
    return f_bytes(field, b"".join(struct.pack("<f", x) for x in xs))


def feature(name, value):
    v = f_double(1, value) if isinstance(value, float) else f_bytes(2, value)
    return f_bytes(4, f_bytes(1, name) + f_bytes(2, v))


def predict(model, features=(), dense=(), version="", routing="", request_id=""):
    out = f_bytes(1, model)
    if version:
        out += f_bytes(2, version)
    if routing:
        out += f_bytes(3, routing)
    for name, value in features:
        out += feature(name, value)
    if dense:
        out += f_floats(5, dense)
    if request_id:
        out += f_bytes(6, request_id)
    return out


def column(name, values=(), strings=()):
    out = f_bytes(1, name)
    if values:
        out += f_floats(2, values)
    for s in strings:
        out += f_bytes(3, s)
    return out


def batch(model, rows, columns=(), dense=(), version=""):
    out = f_bytes(1, model) + (f_bytes(2, version) if version else b"") + f_varint(4, rows)
    for c in columns:
        out += f_bytes(5, c)
    if dense:
        out += f_floats(6, dense)
    return out


# ---- HTTP/2 -----------------------------------------------------------------------------------------------
def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack(fields):
    out = b""
    for name, value in fields:
        name, value = name.encode(), value.encode()
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


def request_headers(stream, path, extra=(), end_stream=False, content_type="application/grpc"):
    fields = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
              ("content-type", content_type), ("te", "trailers")] + list(extra)
    return frame(1, 0x4 | (0x1 if end_stream else 0), stream, hpack(fields))


def grpc_message(payload, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(payload)) + payload


def data(stream, payload, end_stream=True):
    return frame(0, 0x1 if end_stream else 0, stream, payload)


SETTINGS = frame(4, 0, 0)
SETTINGS_ACK = frame(4, 1, 0)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def write(target, name, payload):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(payload)


def main():
    for target in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        for name in os.listdir(os.path.join(CORPUS, target)):
            if name.startswith("seed-"):
                os.remove(os.path.join(CORPUS, target, name))

    # gRPC deframer: byte 0 = chunk size / read path, then a request body.
    write("grpc-deframer", "one", b"\x05" + grpc_message(b"hello"))
    write("grpc-deframer", "two-inplace", b"\x81" + grpc_message(b"a" * 20) + grpc_message(b""))
    write("grpc-deframer", "compressed", b"\x00" + grpc_message(gzip.compress(b"x", mtime=0), compressed=True))
    write("grpc-deframer", "truncated", b"\x10" + grpc_message(b"abcdef")[:-2])
    write("grpc-deframer", "too-large", b"\x02" + b"\x00\x00\x01\x00\x00" + b"z" * 8)

    # HTTP/2 session: byte 0 = read size / write window / shutdown, then frames after the client preface.
    echo = predict("churn", [("age", 40.0)])
    write("http2-session", "unary", b"\x01" + SETTINGS + request_headers(1, "/fuzz.Echo/Say") +
          data(1, grpc_message(echo)))
    write("http2-session", "two-streams-small-window", b"\x03" + SETTINGS + SETTINGS_ACK +
          request_headers(1, "/fuzz.Echo/Big") + data(1, grpc_message(b"")) +
          request_headers(3, "/fuzz.Echo/Fail", [("grpc-timeout", "100m")]) + data(3, grpc_message(b"x")) +
          frame(8, 0, 0, struct.pack(">I", 65535)) + frame(8, 0, 1, struct.pack(">I", 65535)))
    write("http2-session", "gzip", b"\x41" + SETTINGS + request_headers(1, "/fuzz.Echo/Say", [("grpc-encoding", "gzip")]) +
          data(1, grpc_message(gzip.compress(b"hello hello", mtime=0), compressed=True)))
    write("http2-session", "ping-reset-goaway", b"\x80" + SETTINGS + frame(6, 0, 0, b"12345678") +
          request_headers(1, "/fuzz.Echo/Say") + frame(3, 0, 1, struct.pack(">I", 8)) +
          frame(7, 0, 0, struct.pack(">II", 1, 0)))
    write("http2-session", "split-body-trailers", b"\x02" + SETTINGS + request_headers(5, "/fuzz.Echo/Say") +
          data(5, grpc_message(b"abc")[:3], end_stream=False) + data(5, grpc_message(b"abc")[3:], end_stream=False) +
          frame(1, 0x5, 5, hpack([("x-trailer", "1")])))
    write("http2-session", "not-grpc", b"\x01" + SETTINGS +
          request_headers(1, "/", content_type="text/plain", end_stream=True))
    write("http2-session", "continuation", b"\x01" + SETTINGS +
          frame(1, 0x0, 1, hpack([(":method", "POST"), (":scheme", "http")])) +
          frame(9, 0x4, 1, hpack([(":path", "/fuzz.Echo/Say"), (":authority", "a"), ("content-type", "application/grpc")])) +
          data(1, grpc_message(b"")))
    write("http2-session", "priority-settings", b"\x01" + frame(4, 0, 0, struct.pack(">HI", 4, 1 << 20) +
          struct.pack(">HI", 5, 1 << 14)) + frame(2, 0, 1, struct.pack(">IB", 0, 15)) +
          request_headers(1, "/fuzz.Echo/Nope", end_stream=True))

    # Service requests: byte 0 = method (0 Predict, 1 BatchPredict, 2 GetModelVersion, 3 Rollout).
    churn = [("age", 40.0), ("income", 52000.0), ("tenure_months", 12.0), ("credit_score", 700.0), ("plan", "gold")]
    write("service-requests", "predict-named", b"\x00" + predict("churn", churn, request_id="r1"))
    write("service-requests", "predict-dense", b"\x00" + predict("lr", dense=[40.0, 52000.0, 12.0, 700.0]))
    write("service-requests", "predict-version", b"\x00" + predict("zip", dense=[1.0, 2.0, 3.0, 4.0], version="champion",
                                                                   routing="user-7"))
    write("service-requests", "predict-missing", b"\x00" + predict("churn", [("age", 1.0), ("nope", "x")]))
    write("service-requests", "predict-uri", b"\x00" + predict("", dense=[1.0, 2.0, 3.0, 4.0], version="models:/lr/1"))
    write("service-requests", "batch-columns", b"\x01" + batch("churn", 2, [
        column("age", [30.0, 40.0]), column("income", [1.0, 2.0]), column("tenure_months", [3.0, 4.0]),
        column("credit_score", [600.0, 700.0]), column("plan", strings=["gold", "basic"])]))
    write("service-requests", "batch-dense", b"\x01" + batch("lr", 2, dense=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]))
    write("service-requests", "batch-mismatch", b"\x01" + batch("zip", 3, dense=[1.0, 2.0]))
    write("service-requests", "get-version", b"\x02" + f_bytes(1, "churn") + f_bytes(2, "1"))
    write("service-requests", "list-versions", b"\x02" + f_bytes(1, "zip") + f_varint(3, 1))
    write("service-requests", "rollout-start", b"\x03" + f_bytes(1, "churn") + f_varint(2, 2) + f_varint(3, 1) +
          f_bytes(4, "1") + f_bytes(5, "1") + f_bytes(6, f_double(1, 10.0) + f_varint(2, 100)))
    write("service-requests", "rollout-get", b"\x03" + f_bytes(1, "lr") + f_varint(2, 1))

    # ONNX loader: the small fixture models.
    for name in ["skl_logreg_churn", "skl_logreg3_zipmap", "skl_ct_pipeline_churn", "skl_mlp_churn"]:
        with open(os.path.join(ROOT, "Tests", "fixtures", "models", name, "model.onnx"), "rb") as f:
            write("onnx-loader", name + ".onnx", f.read())

    # Auth: byte 0 = mode (0 bearer token, 1 header\0payload signed HS256, 2 API key, 3 authorization, 4 JSON).
    header = json.dumps({"alg": "HS256", "kid": "hs-1", "typ": "JWT"}, separators=(",", ":")).encode()
    claims = {"iss": "https://issuer.test", "aud": "sluice", "sub": "alice", "exp": 1_800_000_600,
              "nbf": 1_799_999_000, "roles": ["predictor"], "jti": "t1"}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    write("auth", "signed-valid", b"\x01" + header + b"\x00" + payload)
    write("auth", "signed-expired", b"\x01" + header + b"\x00" + payload.replace(b"1800000600", b"1700000000"))
    write("auth", "signed-alg-none", b"\x01" + header.replace(b"HS256", b"none") + b"\x00" + payload)
    write("auth", "signed-aud-list", b"\x01" + header + b"\x00" +
          json.dumps(dict(claims, aud=["x", "sluice"], scope="openid predictor")).encode())
    secret = b"fuzz-secret-0123456789abcdef-0123"
    signing = b64url(header) + b"." + b64url(payload)
    token = signing + b"." + b64url(hmac.new(secret, signing, hashlib.sha256).digest())
    write("auth", "bearer-valid", b"\x00" + token)
    write("auth", "bearer-garbage", b"\x00" + b"eyJhbGciOiJIUzI1NiJ9.e30.sig")
    write("auth", "api-key", b"\x02" + b"slk_fuzzkey0123456789")
    write("auth", "api-key-wrong", b"\x02" + b"slk_wrong")
    write("auth", "basic", b"\x03" + b"Basic YWxhZGRpbjpvcGVuc2VzYW1l")
    write("auth", "bearer-lowercase", b"\x03" + b"bearer " + token)
    write("auth", "json", b"\x04" + b'{"a":[1,2.5e3,-0,true,null,"\\u00e9\\ud83d\\ude00"],"b":{}}')


if __name__ == "__main__":
    main()
