"""Channel helpers for the Sluice inference server.

The messages and stubs are generated from proto/ into `sluice.v1` (`inference_pb2`, `inference_pb2_grpc`);
this module only makes channels: TLS verified against a CA, and a credential attached to every call
(`x-api-key: <key>` or `authorization: Bearer <jwt>`), the way the server's security layer expects them.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

import grpc

from sluice.v1 import inference_pb2, inference_pb2_grpc

__all__ = ["connect", "stub", "api_key_from_env", "inference_pb2", "inference_pb2_grpc"]

#: Messages up to 64 MiB each way: a 10,000-row BatchPredict is about 0.5 MB, so this is headroom, not a target.
DEFAULT_OPTIONS: Tuple[Tuple[str, int], ...] = (
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
)


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds fixed metadata (the credential) to every call, over TLS or plaintext alike."""

    def __init__(self, metadata: Sequence[Tuple[str, str]]):
        self._metadata = tuple(metadata)

    def _with_metadata(self, details):
        merged = tuple(details.metadata or ()) + self._metadata
        return details._replace(metadata=merged) if hasattr(details, "_replace") else _Details(details, merged)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_metadata(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_metadata(client_call_details), request)


class _Details(grpc.ClientCallDetails):
    """A copy of `ClientCallDetails` with other metadata (grpcio's own type is not a namedtuple)."""

    def __init__(self, base, metadata):
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def connect(target: str, *, ca_file: Optional[str] = None, ca_pem: Optional[bytes] = None,
            api_key: Optional[str] = None, jwt: Optional[str] = None, insecure: bool = False,
            server_name: Optional[str] = None, options: Sequence[Tuple[str, object]] = ()) -> grpc.Channel:
    """A channel to a Sluice server at `target` ("host:port").

    TLS is the default: the server is verified against `ca_file` / `ca_pem` (the system roots when neither is
    given). `insecure=True` makes a plaintext channel (for a server started with `--plaintext`). At most one
    credential: `api_key` is sent as `x-api-key`, `jwt` as `authorization: Bearer ...`.
    """
    if api_key and jwt:
        raise ValueError("give api_key or jwt, not both")
    opts = list(DEFAULT_OPTIONS) + list(options)
    if server_name:
        opts.append(("grpc.ssl_target_name_override", server_name))
    if insecure:
        channel = grpc.insecure_channel(target, options=opts)
    else:
        if ca_pem is None and ca_file is not None:
            with open(ca_file, "rb") as f:
                ca_pem = f.read()
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca_pem), options=opts)
    metadata = []
    if api_key:
        metadata.append(("x-api-key", api_key.strip()))
    if jwt:
        metadata.append(("authorization", "Bearer " + jwt.strip()))
    return grpc.intercept_channel(channel, _MetadataInterceptor(metadata)) if metadata else channel


def stub(channel: grpc.Channel) -> inference_pb2_grpc.InferenceStub:
    """The `sluice.v1.Inference` stub on `channel`."""
    return inference_pb2_grpc.InferenceStub(channel)


def api_key_from_env(var: str = "SLUICE_API_KEY", file_var: str = "SLUICE_API_KEY_FILE") -> Optional[str]:
    """An API key from the environment: `$SLUICE_API_KEY`, else the contents of the file `$SLUICE_API_KEY_FILE`.

    Keys never travel as command-line arguments (they would show in `ps` and in Spark's UI).
    """
    key = os.environ.get(var)
    if key:
        return key.strip()
    path = os.environ.get(file_var)
    if path:
        with open(path) as f:
            return f.read().strip()
    return None
