"""Black-box security battery for issue 6: the real `sluice serve` with a security configuration.

Hostile JWTs (PyJWT and raw HMAC), API keys (right, wrong, expired, revoked by reload), the RBAC matrix of the
built-in roles over every RPC and model pattern, the audit log after a mixed run, and per-principal rate limits.

Uses the suite's fixtures (`sluice_server`, `proto_modules`) and `modelfixtures.register`. The server must send `retry-after-ms` as a trailer on RESOURCE_EXHAUSTED and
reload the security configuration on SIGHUP.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest


grpc = pytest.importorskip("grpc")
jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GEN = Path(__file__).resolve().parent / "_gen"
MODELS_SRC = ROOT / "Tests" / "fixtures" / "models"
ISSUER = "https://issuer.test"
AUDIENCE = "sluice"
MODELS = ["churn", "fraud-eu", "credit"]
RPCS = ["Predict", "BatchPredict", "GetModelVersion", "Rollout"]


def make_registry(dest: Path):
    """Models named churn, fraud-eu and credit (the 4-feature logistic regression), each in Production."""
    from conftest import sluice_bin
    from modelfixtures import register

    for name in MODELS:
        register(sluice_bin(), dest, name, MODELS_SRC / "skl_logreg_churn" / "model.onnx")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_hs256(header: dict | str, payload: dict | str, key: bytes) -> str:
    """A token with exactly these header/payload bytes, HMAC-signed by hand (for headers PyJWT refuses to emit)."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    p = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    signing_input = f"{b64(h.encode())}.{b64(p.encode())}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


class Keys:
    def __init__(self, d: Path):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.hs = secrets.token_bytes(48)
        self.rsa_pub_pem = self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (d / "rsa.pub").write_bytes(self.rsa_pub_pem)
        (d / "hs.key").write_bytes(self.hs)
        from jwt.algorithms import ECAlgorithm, OKPAlgorithm

        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        ed_jwk = json.loads(OKPAlgorithm.to_jwk(self.ed.public_key()))
        ec_jwk.update(kid="ec-1", alg="ES256")
        ed_jwk.update(kid="ed-1", alg="EdDSA")
        (d / "jwks.json").write_text(json.dumps({"keys": [ec_jwk, ed_jwk]}))

    def claims(self, **kw):
        now = int(time.time())
        c = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "roles": ["predictor"]}
        c.update(kw)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, alg="RS256", kid=None, headers=None, **claims):
        key = {"RS256": self.rsa, "ES256": self.ec, "EdDSA": self.ed, "HS256": self.hs}[alg]
        kid = kid or {"RS256": "rsa-1", "ES256": "ec-1", "EdDSA": "ed-1", "HS256": "hs-1"}[alg]
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers={"kid": kid, **(headers or {})})


class Server:
    """One `sluice serve --models REG --security-config FILE` through the suite's `sluice_server` factory."""

    def __init__(self, start, proto, workdir: Path, config: dict):
        self.dir = workdir
        self.config_path = workdir / "security.json"
        self.write_config(config)
        registry = workdir / "registry"
        if not registry.exists():
            make_registry(registry)
        self.proc = start("--models", str(registry), "--security-config", str(self.config_path))
        from modelfixtures import wait_serving

        wait_serving(self.proc, proto)
        self.channel = self.proc.channel()
        self.pb = proto.inference_pb2
        self.stub = proto.inference_pb2_grpc.InferenceStub(self.channel)
        self.health = proto.health_pb2_grpc.HealthStub(self.channel)
        self.health_pb = proto.health_pb2

    def write_config(self, config: dict):
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=1))
        os.replace(tmp, self.config_path)

    def reload(self, config: dict):
        self.write_config(config)
        self.proc.signal(signal.SIGHUP)
        time.sleep(1.0)

    def call(self, rpc: str, model: str = "churn", token: str | None = None, api_key: str | None = None,
             request_id: str = ""):
        """Returns (status code, details, trailing metadata)."""
        md = []
        if token is not None:
            md.append(("authorization", f"Bearer {token}"))
        if api_key is not None:
            md.append(("x-api-key", api_key))
        pb = self.pb
        if rpc == "Predict":
            req, fn = pb.PredictRequest(model=model, dense=[35, 52000, 12, 640], request_id=request_id), self.stub.Predict
        elif rpc == "BatchPredict":
            req = pb.BatchPredictRequest(model=model, rows=1, dense=[35, 52000, 12, 640], request_id=request_id)
            fn = self.stub.BatchPredict
        elif rpc == "GetModelVersion":
            req, fn = pb.GetModelVersionRequest(model=model, list=True), self.stub.GetModelVersion
        elif rpc == "Rollout":
            req, fn = pb.RolloutRequest(model=model, action=pb.GET), self.stub.Rollout
        else:
            raise ValueError(rpc)
        try:
            _, call = fn.with_call(req, metadata=md, timeout=5)
            return grpc.StatusCode.OK, "", dict(call.trailing_metadata() or ())
        except grpc.RpcError as e:
            return e.code(), e.details() or "", dict(e.trailing_metadata() or ())

    def stop(self):
        self.channel.close()
        return self.proc.stop()


def api_key_entry(key_id, principal, roles, key, expires=None):
    e = {"id": key_id, "sha256": hashlib.sha256(key.encode()).hexdigest(), "principal": principal, "roles": roles}
    if expires:
        e["expires"] = expires
    return e


@pytest.fixture
def env(sluice_server, proto_modules):
    d = Path(tempfile.mkdtemp(prefix="sluice-auth-it-"))
    keys = Keys(d)
    api = {role: "slk_" + secrets.token_urlsafe(32) for role in ["predictor", "viewer", "deployer", "admin"]}
    api["expired"] = "slk_" + secrets.token_urlsafe(32)
    api["hot"] = "slk_" + secrets.token_urlsafe(32)
    api["cold"] = "slk_" + secrets.token_urlsafe(32)
    entries = [api_key_entry(f"id-{r}", f"p-{r}", [r], api[r]) for r in ["predictor", "viewer", "deployer", "admin"]]
    entries.append(api_key_entry("id-expired", "p-expired", ["admin"], api["expired"], "2020-01-01T00:00:00Z"))
    entries.append(api_key_entry("id-hot", "hot", ["predictor"], api["hot"]))
    entries.append(api_key_entry("id-cold", "cold", ["predictor"], api["cold"]))
    config = {
        "jwt": {"issuer": ISSUER, "audience": [AUDIENCE], "leewaySeconds": 30, "jwksFile": "jwks.json",
                "maxTokenBytes": 4096,
                "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"},
                         {"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]},
        "apiKeys": entries,
        "roles": {"fraud-predictor": [{"rpc": "Predict", "model": "fraud-*"}]},
        "bindings": [
            {"subject": "hot", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 0.5, "burst": 3}}},
            {"subject": "cold", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 0.5, "burst": 3}}},
        ],
        "audit": {"path": "audit.log", "onFailure": "fail-open"},
    }
    server = Server(sluice_server, proto_modules, d, config)
    yield {"dir": d, "keys": keys, "api": api, "config": config, "server": server}
    assert server.stop() == 0
    shutil.rmtree(d, ignore_errors=True)


UNAUTH = grpc.StatusCode.UNAUTHENTICATED if grpc else None


def test_valid_tokens_reach_the_model(env):
    s, k = env["server"], env["keys"]
    for alg in ["RS256", "ES256", "EdDSA", "HS256"]:
        code, details, _ = s.call("Predict", token=k.token(alg))
        assert code == grpc.StatusCode.OK, (alg, details)


def hostile_tokens(k: Keys):
    now = int(time.time())
    good_claims = k.claims()
    h = {"alg": "HS256", "typ": "JWT", "kid": "hs-1"}
    yield "alg none", raw_hs256({"alg": "none", "kid": "hs-1"}, good_claims, b"").rsplit(".", 1)[0] + "."
    yield "alg NONE", raw_hs256({"alg": "NONE", "kid": "hs-1"}, good_claims, b"").rsplit(".", 1)[0] + "."
    yield "HS256 signed with the RSA public key", raw_hs256({"alg": "HS256", "kid": "rsa-1"}, good_claims, k.rsa_pub_pem)
    yield "RS256 header on the EC key", k.token("RS256", kid="ec-1")
    yield "unknown kid", k.token("RS256", kid="rsa-2")
    yield "no kid", raw_hs256({"alg": "HS256"}, good_claims, k.hs)
    yield "jku header", raw_hs256({**h, "jku": "https://evil.test/jwks"}, good_claims, k.hs)
    yield "x5u header", raw_hs256({**h, "x5u": "https://evil.test/c.pem"}, good_claims, k.hs)
    yield "embedded jwk", raw_hs256({**h, "jwk": {"kty": "oct", "k": b64(b"x" * 32)}}, good_claims, k.hs)
    yield "over jwt.maxTokenBytes (4096 here)", k.token("HS256", pad="x" * 4000)
    yield "malformed base64", k.token("HS256").replace(".", "=.", 1)
    yield "malformed JSON", raw_hs256(h, '{"sub":"alice",', k.hs)
    yield "duplicate claim", raw_hs256(h, json.dumps(good_claims)[:-1] + ',"sub":"admin"}', k.hs)
    yield "exp as string", raw_hs256(h, {**good_claims, "exp": str(now + 600)}, k.hs)
    yield "nbf as string", raw_hs256(h, {**good_claims, "nbf": str(now)}, k.hs)
    yield "no exp", raw_hs256(h, {kk: v for kk, v in good_claims.items() if kk != "exp"}, k.hs)
    yield "expired beyond leeway", k.token("ES256", exp=now - 60)
    yield "nbf beyond leeway", k.token("EdDSA", nbf=now + 60)
    yield "wrong issuer", k.token("RS256", iss="https://evil.test")
    yield "wrong audience", k.token("RS256", aud="other")
    yield "bad signature", k.token("RS256")[:-6] + "AAAAAA"
    yield "tampered payload", ".".join([k.token("HS256").split(".")[0], b64(json.dumps(k.claims(roles=["admin"])).encode()),
                                        k.token("HS256").split(".")[2]])
    yield "not a JWT", "hello"


def test_hostile_tokens_are_unauthenticated(env):
    s, k = env["server"], env["keys"]
    for name, token in hostile_tokens(k):
        code, details, _ = s.call("Predict", token=token)
        assert code == grpc.StatusCode.UNAUTHENTICATED, (name, code, details)
        assert "www-authenticate" in details, (name, details)
        # No detail that helps an attacker: the message is the same for every failure.
        assert "kid" not in details and "signature" not in details and "expired" not in details, (name, details)


def test_token_over_8_kib(env):
    """Past 8 KiB the transport's header-list limit refuses the call before auth runs; either way the token is
    never verified."""
    code, details, _ = env["server"].call("Predict", token=env["keys"].token("HS256", pad="x" * 9000))
    assert code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAUTHENTICATED), (code, details)


def test_leeway_edges(env):
    s, k = env["server"], env["keys"]
    now = int(time.time())
    assert s.call("Predict", token=k.token("HS256", exp=now - 15))[0] == grpc.StatusCode.OK
    assert s.call("Predict", token=k.token("HS256", nbf=now + 15))[0] == grpc.StatusCode.OK
    assert s.call("Predict", token=k.token("HS256", exp=now - 45))[0] == grpc.StatusCode.UNAUTHENTICATED
    assert s.call("Predict", token=k.token("HS256", nbf=now + 45))[0] == grpc.StatusCode.UNAUTHENTICATED


def test_no_credentials(env):
    code, details, _ = env["server"].call("Predict")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "www-authenticate" in details


def test_health_is_open(env):
    s = env["server"]
    reply = s.health.Check(s.health_pb.HealthCheckRequest(), timeout=2)  # no credentials
    assert reply.status == s.health_pb.HealthCheckResponse.SERVING


def test_api_keys_right_wrong_expired(env):
    s, api = env["server"], env["api"]
    assert s.call("Predict", api_key=api["predictor"])[0] == grpc.StatusCode.OK
    assert s.call("Predict", api_key=api["predictor"][:-1])[0] == grpc.StatusCode.UNAUTHENTICATED
    assert s.call("Predict", api_key="slk_" + secrets.token_urlsafe(32))[0] == grpc.StatusCode.UNAUTHENTICATED
    assert s.call("Predict", api_key=api["expired"])[0] == grpc.StatusCode.UNAUTHENTICATED


def expected(role: str, rpc: str, model: str) -> bool:
    return {
        "admin": True,
        "predictor": rpc in ("Predict", "BatchPredict", "GetModelVersion"),
        "viewer": rpc == "GetModelVersion",
        "deployer": rpc in ("GetModelVersion", "Rollout"),
    }[role]


def test_rbac_matrix(env):
    s, api = env["server"], env["api"]
    for role in ["predictor", "viewer", "deployer", "admin"]:
        for rpc in RPCS:
            for model in MODELS:
                code, details, _ = s.call(rpc, model=model, api_key=api[role])
                if expected(role, rpc, model):
                    assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), (
                        role, rpc, model, code, details)
                else:
                    assert code == grpc.StatusCode.PERMISSION_DENIED, (role, rpc, model, code, details)
                    assert rpc in details and model in details, details
    # A model-pattern role through a JWT role claim.
    k = env["keys"]
    t = k.token("ES256", roles=["fraud-predictor"])
    assert s.call("Predict", model="fraud-eu", token=t)[0] == grpc.StatusCode.OK
    assert s.call("Predict", model="churn", token=t)[0] == grpc.StatusCode.PERMISSION_DENIED
    assert s.call("BatchPredict", model="fraud-eu", token=t)[0] == grpc.StatusCode.PERMISSION_DENIED


def test_rate_limit_isolation(env):
    s, api = env["server"], env["api"]
    results = {"hot": [], "cold": []}

    def run(who):
        for _ in range(5):
            results[who].append(s.call("Predict", api_key=api[who]))

    threads = [threading.Thread(target=run, args=(w,)) for w in ("hot",)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # hot: burst 3, then RESOURCE_EXHAUSTED with the retry delay in the message and a trailer.
    codes = [r[0] for r in results["hot"]]
    assert codes[:3] == [grpc.StatusCode.OK] * 3, codes
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[3:], codes
    limited = next(r for r in results["hot"] if r[0] == grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert "retry after" in limited[1]
    assert int(limited[2]["retry-after-ms"]) > 0
    # cold, right after, is unaffected by hot's exhaustion.
    run("cold")
    assert [r[0] for r in results["cold"]][:3] == [grpc.StatusCode.OK] * 3


def test_revocation_by_reload(env):
    s, api, config = env["server"], env["api"], env["config"]
    assert s.call("GetModelVersion", api_key=api["viewer"])[0] == grpc.StatusCode.OK
    revoked = json.loads(json.dumps(config))
    revoked["apiKeys"] = [e for e in revoked["apiKeys"] if e["id"] != "id-viewer"]
    s.reload(revoked)
    try:
        assert s.call("GetModelVersion", api_key=api["viewer"])[0] == grpc.StatusCode.UNAUTHENTICATED
        assert s.call("GetModelVersion", api_key=api["deployer"])[0] == grpc.StatusCode.OK
    finally:
        s.reload(config)


def test_audit_log_after_mixed_run(sluice_server, proto_modules):
    """A fresh server: a known mix of calls, graceful shutdown, then exactly one well-formed record per call."""
    d = Path(tempfile.mkdtemp(prefix="sluice-audit-it-"))
    keys = Keys(d)
    key = "slk_" + secrets.token_urlsafe(32)
    config = {
        "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "jwksFile": "jwks.json",
                "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"},
                         {"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]},
        "apiKeys": [api_key_entry("k-viewer", "partner-v", ["viewer"], key)],
        "audit": {"path": "audit.log", "onFailure": "fail-closed"},
    }
    server = Server(sluice_server, proto_modules, d, config)
    token = keys.token("RS256", jti="tok-1")
    calls = []
    try:
        for i in range(30):
            kind = i % 5
            rid = f"req-{i}"
            if kind == 0:
                code = server.call("Predict", token=token, request_id=rid)[0]
            elif kind == 1:
                code = server.call("Rollout", token=token, request_id=rid)[0]
            elif kind == 2:
                code = server.call("GetModelVersion", api_key=key, request_id=rid)[0]
            elif kind == 3:
                code = server.call("Predict", api_key=key, request_id=rid)[0]
            else:
                code = server.call("Predict", token=token[:-4] + "AAAA", request_id=rid)[0]
            calls.append((rid, code))
    finally:
        assert server.stop() == 0
    lines = (d / "audit.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    non_health = [r for r in records if r["rpc"] != "Health"]
    assert len(non_health) == len(calls)
    required = {"time", "request_id", "principal", "auth_method", "credential_id", "peer", "rpc", "model",
                "selector", "version", "variant", "decision", "reason", "grpc_status", "latency_us"}
    for line, r in zip(lines, records):
        assert required <= set(r), r
        for secret in (token, key, token.split(".")[2], hashlib.sha256(key.encode()).hexdigest()):
            assert secret not in line
        assert "dense" not in line and "52000" not in line  # no feature values
    allowed = sum(1 for _, c in calls if c not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED))
    assert sum(1 for r in non_health if r["decision"] == "allowed") == allowed
    jwt_ok = [r for r in non_health if r["auth_method"] == "jwt" and r["decision"] == "allowed"]
    assert jwt_ok and all(r["credential_id"] == "tok-1" and r["principal"] == "alice" for r in jwt_ok)
    denied = [r for r in non_health if r["decision"] == "denied"]
    assert {r["grpc_status"] for r in denied} == {7, 16}
    shutil.rmtree(d, ignore_errors=True)


def test_keys_create_end_to_end(sluice_server, proto_modules):
    """`sluice keys create` prints a key once and the entry to add; the server then accepts exactly that key."""
    from conftest import sluice_bin

    out = subprocess.run([sluice_bin(), "keys", "create", "--principal", "partner-z", "--role", "predictor",
                          "--expires", "2999-01-01T00:00:00Z"], capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    key = next(line for line in lines if line.startswith("slk_"))
    entry = json.loads(next(line for line in lines if line.startswith("{")))
    assert key not in json.dumps(entry) and entry["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert entry["principal"] == "partner-z" and entry["roles"] == ["predictor"]
    d = Path(tempfile.mkdtemp(prefix="sluice-keys-it-"))
    server = Server(sluice_server, proto_modules, d, {"apiKeys": [entry]})
    try:
        assert server.call("Predict", api_key=key)[0] == grpc.StatusCode.OK
        assert server.call("Rollout", api_key=key)[0] == grpc.StatusCode.PERMISSION_DENIED
        assert server.call("Predict", api_key=key + "x")[0] == grpc.StatusCode.UNAUTHENTICATED
    finally:
        assert server.stop() == 0
    shutil.rmtree(d, ignore_errors=True)


def emit_tokens(d: Path):
    """Writes keys, a security configuration and the token battery to `d` for the Swift interop test
    (Tests/AuthTests/PyJWTInteropTests.swift): `python Tests/integration/test_auth.py DIR`."""
    d.mkdir(parents=True, exist_ok=True)
    k = Keys(d)
    config = {"jwt": {"issuer": ISSUER, "audience": AUDIENCE, "jwksFile": "jwks.json", "maxTokenBytes": 4096,
                      "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"},
                               {"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]}}
    (d / "security.json").write_text(json.dumps(config))
    now = int(time.time())
    battery = [{"name": f"valid {alg}", "token": k.token(alg), "expect": "allowed"}
               for alg in ["RS256", "ES256", "EdDSA", "HS256"]]
    battery += [{"name": "inside leeway (exp)", "token": k.token("HS256", exp=now - 15), "expect": "allowed"},
                {"name": "inside leeway (nbf)", "token": k.token("RS256", nbf=now + 15), "expect": "allowed"}]
    battery += [{"name": name, "token": t, "expect": "unauthenticated"} for name, t in hostile_tokens(k)]
    (d / "tokens.json").write_text(json.dumps(battery))


if __name__ == "__main__":
    emit_tokens(Path(sys.argv[1]))
