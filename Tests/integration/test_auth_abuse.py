"""Credential abuse through the real binary: a connection that keeps presenting bad credentials is told to go
away, and fresh tokens (each needing a signature check) are verified off the event loop without changing any
answer."""
import secrets
import shutil
import tempfile
from pathlib import Path

import grpc
import pytest

from conftest import RawH2
from test_auth import Keys, Server, api_key_entry, ISSUER, AUDIENCE  # noqa: F401  (fixtures and helpers)

PREDICT = "/sluice.v1.Inference/Predict"


def security_config():
    return {
        "jwt": {"issuer": ISSUER, "audience": [AUDIENCE], "leewaySeconds": 30, "jwksFile": "jwks.json",
                "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"}]},
        "apiKeys": [],
    }


@pytest.fixture
def abuse_env(sluice_server, proto_modules):
    d = Path(tempfile.mkdtemp(prefix="sluice-abuse-it-"))
    keys = Keys(d)

    def start(*args):
        return sluice_server(*args, "--threads", "1", "--max-auth-failures-per-connection", "5")

    server = Server(start, proto_modules, d, security_config())
    yield {"keys": keys, "server": server, "pb": proto_modules.inference_pb2}
    assert server.stop() == 0
    shutil.rmtree(d, ignore_errors=True)


def test_bad_credentials_get_goaway_after_the_configured_count(abuse_env):
    server, pb, keys = abuse_env["server"], abuse_env["pb"], abuse_env["keys"]
    request = pb.PredictRequest(model="churn", dense=[35, 52000, 12, 640]).SerializeToString()
    client = RawH2(server.proc.port)
    for i in range(5):
        # A well-formed RS256 token whose signature is wrong: a real signature check each time (unique per call).
        token = keys.token("RS256", jti=secrets.token_hex(8))
        token = token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")
        stream = client.start_call(PREDICT, extra=[("authorization", f"Bearer {token}")])
        client.send_message(stream, request)
        headers, _, trailers, _ = client.response(stream, timeout=10)
        assert headers is not None, (i, client.events[-5:])
        status = (trailers or {}).get("grpc-status") or headers.get("grpc-status")
        assert status == "16", (i, headers, trailers)
    goaway = client.goaway()
    if goaway is None:
        client.pump(3, until=lambda events: client.goaway() is not None)
        goaway = client.goaway()
    assert goaway is not None, "no GOAWAY after 5 calls with bad credentials"
    assert goaway.error_code == 0xB  # ENHANCE_YOUR_CALM
    client.close()
    # Other connections are unaffected, and a valid fresh token (verified on a worker) is served.
    code, details, _ = server.call("Predict", token=keys.token("RS256", jti="fresh-1"))
    assert code == grpc.StatusCode.OK, details
    code, details, _ = server.call("Predict", token=keys.token("RS256", jti="fresh-1"))
    assert code == grpc.StatusCode.OK, details


def test_many_fresh_valid_tokens_are_all_served(abuse_env):
    """Each call carries a token no thread has seen (a signature check, done off the loop): all are answered
    correctly, and the same token again is answered from the caches."""
    server, keys = abuse_env["server"], abuse_env["keys"]
    tokens = [keys.token("RS256", jti=f"t-{i}") for i in range(40)]
    for token in tokens:
        code, details, _ = server.call("Predict", token=token)
        assert code == grpc.StatusCode.OK, details
    for token in tokens[:5]:
        code, details, _ = server.call("Predict", token=token)
        assert code == grpc.StatusCode.OK, details
