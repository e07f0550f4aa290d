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


@pytest.fixture
def budget_env(sluice_server, proto_modules):
    d = Path(tempfile.mkdtemp(prefix="sluice-budget-it-"))
    keys = Keys(d)

    def start(*args):
        return sluice_server(*args, "--threads", "1", "--max-signature-checks-per-second", "2",
                             "--admin-listen", "127.0.0.1:0")

    server = Server(start, proto_modules, d, security_config())
    yield {"keys": keys, "server": server, "grpc": proto_modules.inference_pb2_grpc}
    assert server.stop() == 0
    shutil.rmtree(d, ignore_errors=True)


def test_signature_checks_are_capped_per_connection_and_second(budget_env):
    """One connection presenting a fresh PyJWT-signed token per call gets at most the configured checks per
    second (burst 2, 2/s): the rest are RESOURCE_EXHAUSTED with a retry hint, before any verification. A token
    that was verified keeps working on that connection, and another connection has its own budget."""
    import re
    import time
    import urllib.request

    server, keys = budget_env["server"], budget_env["keys"]
    verified = keys.token("RS256", jti="kept")
    code, details, _ = server.call("Predict", token=verified)
    assert code == grpc.StatusCode.OK, details
    started = time.monotonic()
    outcomes = [server.call("Predict", token=keys.token("RS256", jti=f"fresh-{i}")) for i in range(30)]
    elapsed = time.monotonic() - started
    granted = [o for o in outcomes if o[0] == grpc.StatusCode.OK]
    refused = [o for o in outcomes if o[0] == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert len(granted) + len(refused) == 30, [o[:2] for o in outcomes if o not in granted + refused]
    # The bucket held at most 1 unit after the first call, then refilled at 2 a second.
    assert len(granted) <= 2 + 2 * elapsed + 1, (len(granted), elapsed)
    assert refused, "no call was refused"
    code, details, trailers = refused[0]
    assert "signature checks per second per connection" in details and "--max-signature-checks-per-second" in details
    assert int(trailers["retry-after-ms"]) >= 1, trailers
    # Already-verified tokens never need a check: served even with the budget used up.
    for _ in range(5):
        code, details, _ = server.call("Predict", token=verified)
        assert code == grpc.StatusCode.OK, details
    # A different connection has a budget of its own.
    other = grpc.insecure_channel(f"127.0.0.1:{server.proc.port}", options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        stub = budget_env["grpc"].InferenceStub(other)
        reply = stub.Predict(server.pb.PredictRequest(model="churn", dense=[35, 52000, 12, 640]),
                             metadata=[("authorization", f"Bearer {keys.token('RS256', jti='other-conn')}")],
                             timeout=10)
        assert reply.version >= 1
    finally:
        other.close()
    # After a pause the connection's budget is back.
    time.sleep(1.2)
    code, details, _ = server.call("Predict", token=keys.token("RS256", jti="after-pause"))
    assert code == grpc.StatusCode.OK, details
    line = next(l for l in server.proc.lines if "admin listener on http://" in l)
    port = int(line.rsplit(":", 1)[1].split("/")[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        metrics = reply.read().decode()
    value = re.search(r"^sluice_signature_checks_refused_total (\d+)", metrics, re.M)
    assert value and int(value.group(1)) == len(refused), (value, len(refused))
