"""Issue 10: the CLI checks before it writes; `--version`; operator logs; the shipped security example; IR versions.

- `models register` compiles the file exactly as the server would and refuses what would fail, with the same
  message the server records for a FAILED version; `--feature-names` is checked against the model's columns.
- `models promote` / `models alias` refuse a version that does not load; `--force` goes ahead with a warning.
- `keys create` checks roles against `--security-config FILE` and refuses an expiry in the past.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from conftest import ROOT, sluice_bin
from modelfixtures import SHARED_MODELS, wait_serving

LOGREG = SHARED_MODELS / "skl_logreg_churn" / "model.onnx"
FEATURES = "age,income,tenure_months,credit_score"


def run(*args, timeout=60):
    return subprocess.run([sluice_bin(), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def listing(registry):
    return run("models", "list", "--registry", registry).stdout


def test_register_refuses_what_the_server_would_fail(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG,
               "--stage", "Production", "--feature-names", FEATURES).returncode == 0
    csv = tmp_path / "rows.csv"
    csv.write_text("age,income\n1,2\n")
    refused = run("models", "register", "--registry", registry, "--name", "churn", "--file", csv)
    assert refused.returncode != 0
    assert f"{csv}: the server could not load this model:" in refused.stderr, refused.stderr
    assert "nothing was registered" in refused.stderr
    assert "v2" not in listing(registry) and not (registry / "churn" / "2").exists()

    wrong_names = run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG,
                      "--feature-names", "a,b")
    assert wrong_names.returncode != 0
    assert "2 feature names given for 4 numeric features" in wrong_names.stderr, wrong_names.stderr
    assert "X[0], X[1], X[2], X[3]" in wrong_names.stderr
    missing = run("models", "register", "--registry", registry, "--name", "churn", "--file", tmp_path / "nope.onnx")
    assert missing.returncode != 0 and "No such file or directory" in missing.stderr, missing.stderr

    # Forced in, the server reports the same reason the CLI gave.
    forced = run("models", "register", "--registry", registry, "--name", "churn", "--file", csv, "--force")
    assert forced.returncode == 0 and "WARNING: --force" in forced.stderr
    cli_reason = refused.stderr.split("the server could not load this model: ", 1)[1].splitlines()[0]
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    import time

    deadline = time.monotonic() + 30
    info = None
    while time.monotonic() < deadline:
        versions = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", list=True), timeout=10).versions
        info = next(v for v in versions if v.version == 2)
        if info.state == pb.FAILED or info.state == pb.NOT_LOADED:
            break
        time.sleep(0.05)
    # Version 2 is in stage None, so the server does not load it; promote it with --force to make it load.
    promote = run("models", "promote", "--registry", registry, "churn", "2", "--stage", "Staging")
    assert promote.returncode != 0 and "refusing to move it to Staging" in promote.stderr, promote.stderr
    assert cli_reason in promote.stderr
    assert "v2  None" in listing(registry)
    forced = run("models", "promote", "--registry", registry, "churn", "2", "--stage", "Staging", "--force")
    assert forced.returncode == 0 and "WARNING: --force" in forced.stderr
    while time.monotonic() < deadline:
        info = stub.GetModelVersion(pb.GetModelVersionRequest(model="churn", version="2"), timeout=10).versions[0]
        if info.state == pb.FAILED:
            break
        time.sleep(0.05)
    assert info.state == pb.FAILED and info.state_reason == cli_reason, (info.state_reason, cli_reason)


def test_promote_and_alias_refuse_a_version_that_does_not_load(tmp_path):
    registry = tmp_path / "registry"
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG,
               "--stage", "Production").returncode == 0
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(LOGREG.read_bytes()[:200])
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", broken,
               "--force").returncode == 0
    before = listing(registry)
    refused = run("models", "promote", "--registry", registry, "churn", "2", "--stage", "Production")
    assert refused.returncode != 0
    assert "refusing to move it to Production: churn version 2 does not load:" in refused.stderr, refused.stderr
    assert listing(registry) == before
    alias = run("models", "alias", "--registry", registry, "churn", "champion", "2")
    assert alias.returncode != 0 and "refusing to point @champion at it" in alias.stderr, alias.stderr
    assert listing(registry) == before
    # Loadable versions pass; archiving a broken one needs no check.
    assert run("models", "alias", "--registry", registry, "churn", "champion", "1").returncode == 0
    assert run("models", "promote", "--registry", registry, "churn", "2", "--stage", "Archived").returncode == 0
    forced = run("models", "alias", "--registry", registry, "churn", "broken", "2", "--force")
    assert forced.returncode == 0 and "WARNING: --force" in forced.stderr
    assert "@broken" in listing(registry)
    # A file replaced behind the registry's back fails the server's SHA-256 check, so promote refuses it too.
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG).returncode == 0
    (registry / "churn" / "3" / "model.onnx").write_bytes((SHARED_MODELS / "skl_mlp_churn" / "model.onnx").read_bytes())
    tampered = run("models", "promote", "--registry", registry, "churn", "3", "--stage", "Staging")
    assert tampered.returncode != 0 and "but the registry recorded" in tampered.stderr, tampered.stderr


def test_keys_create_checks_roles_and_expiry(tmp_path):
    example = ROOT / "deploy" / "security.example.json"
    typo = run("keys", "create", "--principal", "p", "--role", "predictr", "--security-config", example)
    assert typo.returncode != 0 and "--role predictr: no such role" in typo.stderr, typo.stderr
    assert "fraud-predictor" in typo.stderr and "predictor" in typo.stderr
    custom = run("keys", "create", "--principal", "p", "--role", "fraud-predictor", "--security-config", example)
    assert custom.returncode == 0, custom.stderr
    assert '"roles": ["fraud-predictor"]' in custom.stdout
    past = run("keys", "create", "--principal", "p", "--role", "predictor", "--expires", "2020-01-01T00:00:00Z")
    assert past.returncode != 0 and "is in the past" in past.stderr, past.stderr
    unchecked = run("keys", "create", "--principal", "p", "--role", "predictr")
    assert unchecked.returncode == 0 and "warning: --role predictr is not a built-in role" in unchecked.stderr
    missing = run("keys", "create", "--principal", "p", "--role", "viewer", "--security-config", tmp_path / "no.json")
    assert missing.returncode != 0 and "No such file or directory" in missing.stderr, missing.stderr


def test_version_prints_library_versions():
    out = run("--version")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"sluice \d+\.\d+\.\d+", lines[0]), lines
    assert re.fullmatch(r"nghttp2 \d+\.\d+\.\d+", lines[1]), lines
    assert re.match(r"OpenSSL \d+\.\d+\.\d+", lines[2]), lines
    assert re.fullmatch(r"protobuf-c \d+\.\d+\.\d+", lines[3]), lines
    assert re.fullmatch(r"Swift \d+\.\d+.*", lines[4]), lines
    assert re.fullmatch(r"libmicrohttpd \d+\.\d+\.\d+", lines[5]), lines


TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warning|error|notice|debug|trace|critical) +"
                       r"(server|registry|rollouts|auth|admin|audit|tls): .+")


def test_logs_carry_time_level_component(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG,
               "--stage", "Production").returncode == 0
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    assert server.stop() == 0
    assert server.lines and all(TEXT_LINE.match(line) for line in server.lines), server.output
    assert any(" registry: loaded churn version 1" in line for line in server.lines), server.output
    assert any(re.search(r" warning +server: WARNING: INSECURE: authentication disabled", line)
               for line in server.lines), server.output

    server = wait_serving(sluice_server("--models", registry, "--log-format", "json"), proto_modules)
    assert server.stop() == 0
    records = [json.loads(line) for line in server.lines]
    assert all(set(r) == {"ts", "level", "component", "msg"} for r in records), records
    assert any(r["component"] == "registry" and r["msg"].startswith("loaded churn version 1") for r in records)
    assert any(r["component"] == "server" and r["msg"].startswith("serving gRPC on") for r in records)
    bad = run("serve", "--plaintext", "--log-format", "xml")
    assert bad.returncode != 0 and "--log-format must be text or json" in bad.stderr


def test_shipped_security_example_loads(tmp_path, sluice_server, proto_modules):
    """deploy/security.example.json with the example keys it references (deploy/keys/); only its audit path is
    moved into the test's directory, since /var/log/sluice is for a real deployment."""
    deploy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy" / "keys", deploy / "keys")
    config = json.loads((ROOT / "deploy" / "security.example.json").read_text())
    config["audit"]["path"] = str(tmp_path / "audit.log")
    (deploy / "security.json").write_text(json.dumps(config))
    registry = tmp_path / "registry"
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", LOGREG).returncode == 0
    server = wait_serving(sluice_server("--models", registry, "--security-config", deploy / "security.json"),
                          proto_modules)
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    with pytest.raises(grpc.RpcError) as info:
        pb_grpc.InferenceStub(server.channel()).Predict(pb.PredictRequest(model="churn", dense=[1, 2, 3, 4]),
                                                        timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The unmodified file parses too (keys create reads it whole, with every role it defines).
    ok = run("keys", "create", "--principal", "p", "--role", "churn-deployer", "--security-config",
             ROOT / "deploy" / "security.example.json")
    assert ok.returncode == 0, ok.stderr
    missing = tmp_path / "bad.json"
    missing.write_text(json.dumps({"jwt": {"issuer": "i", "audience": "a", "jwksFile": "nowhere/jwks.json"}}))
    bad = run("serve", "--plaintext", "--listen", "127.0.0.1:0", "--models", registry, "--security-config", missing)
    assert bad.returncode != 0
    assert "cannot read" in bad.stderr and "No such file or directory" in bad.stderr, bad.stderr


def test_newer_ir_version_loads_when_nothing_new_is_used(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(LOGREG))
    model.ir_version = 14
    stamped = tmp_path / "ir14.onnx"
    stamped.write_bytes(model.SerializeToString())
    inspect = run("inspect", stamped)
    assert inspect.returncode == 0, inspect.stderr
    assert "IR version 14" in inspect.stdout
    assert "newer than the newest this engine knows (11)" in inspect.stdout
    registry = tmp_path / "registry"
    assert run("models", "register", "--registry", registry, "--name", "churn", "--file", stamped).returncode == 0
    model.ir_version = 2
    old = tmp_path / "ir2.onnx"
    old.write_bytes(model.SerializeToString())
    refused = run("inspect", old)
    assert refused.returncode != 0 and "IR version 2" in refused.stderr and "re-export" in refused.stderr
