"""Rollouts across replicas (issue 12): three `sluice serve` processes on one registry directory share a rollout.

One scenario, in order, with Predict load on every replica throughout (zero failed calls):
- a canary started through replica 1 is reported by replicas 2 and 3 (generation check on the shared state);
- 10,000 keys spread over the replicas land on the variant the documented hash gives (docs/routing.md), and a
  sample of them identically on all three;
- replica 3, restarted mid-rollout, routes like the others as soon as it serves;
- the `sluice rollout` CLI drives the canary to promotion against the three replicas;
- a second canary whose guardrail breach is visible only in the replicas' summed counts is rolled back once, for
  all, while `sluice rollout watch` exits non-zero;
- `/metrics` passes `promtool check metrics` and carries the rollout, build and process metrics.
"""
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest

from conftest import sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving
from test_rollout import FEATURES, FOREST, LOGREG, MLP, MODEL, basis_points

PROMTOOL = shutil.which("promtool")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """One `sluice serve` of the fleet and a stub to it."""

    def __init__(self, start, registry, name, proto_modules, admin_port=None):
        self.name = name
        self.pb = proto_modules.inference_pb2
        extra = ["--models", registry, "--replica-id", name]
        if admin_port:
            extra += ["--admin-listen", f"127.0.0.1:{admin_port}"]
        self.admin_port = admin_port
        self.server = wait_serving(start(*extra), proto_modules)
        self.stub = proto_modules.inference_pb2_grpc.InferenceStub(self.server.channel())

    @property
    def address(self):
        return self.server.address

    def get(self):
        return self.stub.Rollout(self.pb.RolloutRequest(model=MODEL, action=self.pb.GET), timeout=30)


class Load:
    """Predicts in a loop against the replicas that are `enabled`; counts calls and failures."""

    def __init__(self, replicas, rows, pb):
        self.replicas, self.rows, self.pb = replicas, rows, pb
        self.enabled = set(range(len(replicas)))
        self.calls = 0
        self.failures = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stopping.is_set():
            index = i % len(self.replicas)
            i += 1
            if index not in self.enabled:
                time.sleep(0.005)
                continue
            replica = self.replicas[index]
            features = {k: feature_value(self.pb, v) for k, v in self.rows[i % len(self.rows)].items()}
            try:
                replica.stub.Predict(self.pb.PredictRequest(model=MODEL, routing_key=f"load-{i}", features=features),
                                     timeout=10)
                self.calls += 1
            except grpc.RpcError as error:
                self.failures.append(f"{replica.name}: {error.code()} {error.details()}")
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(30)


def predict_many(replica, pb, rows, keys):
    """Variant version per key, through one replica (pipelined)."""
    out = {}
    for chunk in range(0, len(keys), 200):
        futures = []
        for j, key in enumerate(keys[chunk:chunk + 200]):
            features = {k: feature_value(pb, v) for k, v in rows[j % len(rows)].items()}
            futures.append((key, replica.stub.Predict.future(
                pb.PredictRequest(model=MODEL, routing_key=key, features=features), timeout=30)))
        for key, future in futures:
            out[key] = future.result().version
    return out


def expected_version(status, key):
    """The version the documented hash sends `key` to: the candidate's range comes first."""
    weights = {v.name: v.weight for v in status.variants}
    versions = {v.name: v.version for v in status.variants}
    bp = basis_points(status.rollout_id, key)
    return versions["candidate"] if bp < round(weights["candidate"] * 100) else versions["baseline"]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout}s")


def cli(*args, check=True):
    result = subprocess.run([sluice_bin(), "rollout", *[str(a) for a in args]], capture_output=True, text=True,
                            timeout=120)
    if check:
        assert result.returncode == 0, f"sluice rollout {' '.join(map(str, args))}: {result.returncode}\n" \
                                       f"{result.stdout}\n{result.stderr}"
    return result


def metrics(port):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()


def metric_value(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_fleet_rollouts(tmp_path, sluice_server, proto_modules):
    pb = proto_modules.inference_pb2
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, MLP / "model.onnx", stage="None", feature_names=FEATURES)
    fixture = Fixture(LOGREG)
    rows = [fixture.row(i) for i in range(fixture.rows)]
    admin = [free_port() for _ in range(3)]
    replicas = [Replica(sluice_server, registry, f"r{i + 1}", proto_modules, admin[i]) for i in range(3)]
    r1, r2, r3 = replicas
    plain = ["--plaintext"]

    def everyone():
        return ["--replicas", ",".join(r.address for r in replicas)]

    with Load(replicas, rows, pb) as load:
        # ---- START through replica 1; replicas 2 and 3 follow the shared state ---------------------------
        started = time.monotonic()
        status = r1.stub.Rollout(pb.RolloutRequest(
            model=MODEL, action=pb.START, strategy=pb.CANARY, candidate="2",
            steps=[pb.CanaryStep(percent=p) for p in (10, 50, 100)]), timeout=30)
        assert status.state == pb.RUNNING and status.generation >= 1 and status.replica_id == "r1"
        for other in (r2, r3):
            seen = wait_for(lambda: (s := other.get()).rollout_id == status.rollout_id and s, 20,
                            f"{other.name} reporting the rollout")
            assert seen.generation == status.generation and seen.state == pb.RUNNING
            assert [v.weight for v in seen.variants] == [90, 10]
        print(f"replicas 2 and 3 reported the START after {time.monotonic() - started:.2f} s")

        # ---- 10,000 keys spread over the replicas land where the documented hash says --------------------
        keys = [f"user-{i}" for i in range(10_000)]
        for i, replica in enumerate(replicas):
            got = predict_many(replica, pb, rows, keys[i::3])
            wrong = [k for k, v in got.items() if v != expected_version(status, k)]
            assert not wrong, f"{replica.name} routed {len(wrong)} keys off the documented hash, e.g. {wrong[:5]}"
        sample = keys[:600]
        views = [predict_many(replica, pb, rows, sample) for replica in replicas]
        assert views[0] == views[1] == views[2]
        assert 0 < sum(v == 2 for v in views[0].values()) < len(sample)

        # ---- ADVANCE through replica 2 with the CLI, then replica 3 restarts mid-rollout -----------------
        out = cli("advance", MODEL, "--server", r2.address, *plain).stdout
        assert "step 2/3 (50%)" in out
        advanced = wait_for(lambda: all((s := r.get()).variants[1].weight == 50 for r in replicas) and r1.get(), 20,
                            "every replica at 50%")
        load.enabled.discard(2)  # a load balancer drains the replica being restarted
        assert r3.server.stop() == 0
        admin[2] = free_port()
        restarted = Replica(sluice_server, registry, "r3", proto_modules, admin[2])
        replicas[2] = restarted
        r3 = restarted
        fresh = predict_many(r3, pb, rows, sample)
        assert fresh == {k: expected_version(advanced, k) for k in sample}
        assert fresh == predict_many(r1, pb, rows, sample)
        load.enabled.add(2)

        # ---- the CLI: status of every replica, then promotion -------------------------------------------
        out = cli("status", MODEL, *everyone(), *plain).stdout
        assert out.count("RUNNING") >= 4 and "fleet: " in out and "replicas disagree" not in out, out
        for name in ("r1", "r2", "r3"):
            assert name in out
        cli("advance", MODEL, "--server", r3.address, *plain)
        out = cli("promote", MODEL, *everyone(), *plain).stdout
        assert "PROMOTED" in out
        watched = cli("watch", MODEL, *everyone(), *plain, "--interval", "0.2", "--max-wait", "30")
        assert "promoted" in watched.stdout
        for replica in replicas:
            wait_for(lambda: replica.get().state == pb.PROMOTED, 20, "PROMOTED everywhere")

            def stages():
                versions = replica.stub.GetModelVersion(pb.GetModelVersionRequest(model=MODEL, list=True)).versions
                return {v.version: v.stage for v in versions}
            wait_for(lambda: stages()[2] == "Production", 20, f"{replica.name} serving version 2 as Production")
        wait_for(lambda: all(predict_many(r, pb, rows, sample[:30]) == {k: 2 for k in sample[:30]}
                             for r in replicas), 20, "every replica serving version 2")

        # ---- a candidate that breaches its guardrail only in the fleet's summed counts ------------------
        # Latency guardrails are judged from 100 candidate requests on; each replica sees fewer than 100, the
        # fleet more. The limit (1 µs) is one any model breaches, so no client call fails. Only candidate-bound
        # keys are sent from here on, 50 per replica.
        load.enabled.clear()
        status = r2.stub.Rollout(pb.RolloutRequest(
            model=MODEL, action=pb.START, strategy=pb.CANARY, candidate="3", auto=True,
            steps=[pb.CanaryStep(percent=50, min_requests=1_000_000)],
            guardrails=pb.Guardrails(max_p99_ms=0.001), min_sample_requests=10), timeout=30)
        for replica in replicas:
            wait_for(lambda: replica.get().rollout_id == status.rollout_id, 20, f"{replica.name} following")
        watch = subprocess.Popen([sluice_bin(), "rollout", "watch", MODEL, *everyone(), *plain, "--interval", "0.2",
                                  "--max-wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        candidate_keys = [k for k in (f"c-{i}" for i in range(2000)) if expected_version(status, k) == 3][:150]
        for i, replica in enumerate(replicas):
            predict_many(replica, pb, rows, candidate_keys[i * 50:(i + 1) * 50])
        ended = wait_for(lambda: (s := r1.get()).state == pb.ROLLED_BACK and s, 30, "the fleet rollback")
        shares = {r.replica_id: r.requests[1] for r in ended.replicas}
        assert all(count < 100 for count in shares.values()) and sum(shares.values()) >= 100, shares
        assert "p99" in ended.last_decision
        assert sum(t.to_state == "ROLLED_BACK" for t in ended.history) == 1
        for replica in replicas:
            wait_for(lambda: replica.get().state == pb.ROLLED_BACK, 20, f"{replica.name} rolled back")
            assert set(predict_many(replica, pb, rows, candidate_keys[:20]).values()) == {2}
        out, err = watch.communicate(timeout=60)
        assert watch.returncode == 2, f"watch exited {watch.returncode}\n{out}\n{err}"
        assert "rolled back" in out
        load.enabled.update({0, 1, 2})
        time.sleep(0.3)

    assert load.calls > 50
    assert not load.failures, load.failures[:10]

    # ---- metrics: one rollback verdict in the fleet, rollout gauges, build and process metrics -----------
    texts = [metrics(port) for port in admin]
    rollbacks = sum(metric_value(t, "sluice_rollout_verdicts_total", model=MODEL, verdict="rollback") or 0
                    for t in texts)
    assert rollbacks == 1, "the fleet's rollback is taken once, by the lease holder"
    assert metric_value(texts[0], "sluice_rollout_state", model=MODEL, state="rolled_back") == 1
    assert metric_value(texts[0], "sluice_rollout_variant_weight_percent", model=MODEL, variant="baseline") == 100
    assert metric_value(texts[0], "sluice_build_info") == 1
    assert metric_value(texts[0], "sluice_rollout_state_write_errors_total") == 0
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_start_time_seconds"):
        assert (metric_value(texts[0], name) or 0) > 0, name
    assert metric_value(texts[0], "sluice_auth_denied_total", reason="unauthenticated") == 0


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (scripts/setup installs prometheus)")
def test_metrics_pass_promtool(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    port = free_port()
    replica = Replica(sluice_server, registry, "lint", proto_modules, port)
    pb = proto_modules.inference_pb2
    replica.stub.Rollout(pb.RolloutRequest(model=MODEL, action=pb.START, strategy=pb.CANARY, candidate="2",
                                           steps=[pb.CanaryStep(percent=10)]), timeout=30)
    fixture = Fixture(LOGREG)
    predict_many(replica, pb, [fixture.row(i) for i in range(fixture.rows)], [f"k{i}" for i in range(20)])
    text = metrics(port)
    for name in ("sluice_build_info", "process_cpu_seconds_total", "sluice_rollout_state",
                 "sluice_rollout_variant_weight_percent", "sluice_rollout_verdicts_total",
                 "sluice_rollout_state_write_errors_total", "sluice_auth_denied_total", "sluice_rate_limited_total"):
        assert f"# TYPE {name} " in text, name
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rollout_cli_tls_and_credentials(tmp_path, sluice_server, proto_modules, dev_certs):
    """`sluice rollout` over TLS (verified against the CA), with an API key from a file or $SLUICE_API_KEY, or a
    JWT from a file; refusals are precise and counted in `sluice_auth_denied_total`."""
    import hashlib
    import json
    import os
    import secrets

    import jwt

    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    deployer, viewer, busy = ("slk_" + secrets.token_urlsafe(32) for _ in range(3))
    hs = secrets.token_bytes(48)
    (tmp_path / "hs.key").write_bytes(hs)
    config = {
        "jwt": {"issuer": "https://issuer.test", "audience": ["sluice"], "keys": [{"kid": "hs-1", "alg": "HS256",
                                                                                  "file": "hs.key"}]},
        "apiKeys": [{"id": "d", "sha256": hashlib.sha256(deployer.encode()).hexdigest(), "principal": "ci",
                     "roles": ["deployer"]},
                    {"id": "v", "sha256": hashlib.sha256(viewer.encode()).hexdigest(), "principal": "viewer",
                     "roles": ["predictor"]},
                    {"id": "b", "sha256": hashlib.sha256(busy.encode()).hexdigest(), "principal": "busy",
                     "roles": ["deployer"]}],
        "bindings": [{"subject": "busy", "roles": [],
                      "rateLimits": {"rollout": {"requestsPerSecond": 0.01, "burst": 1}}}],
    }
    (tmp_path / "security.json").write_text(json.dumps(config))
    admin = free_port()
    server = wait_serving(sluice_server("--models", registry, "--security-config", tmp_path / "security.json",
                                        "--admin-listen", f"127.0.0.1:{admin}", "--replica-id", "tls-1", tls=True),
                          proto_modules)
    key_file, viewer_file, token_file = tmp_path / "key", tmp_path / "viewer", tmp_path / "token"
    key_file.write_text(deployer + "\n")
    viewer_file.write_text(viewer)
    token_file.write_text(jwt.encode({"sub": "release-bot", "iss": "https://issuer.test", "aud": "sluice",
                                      "exp": int(time.time()) + 600, "roles": ["deployer"]}, hs, algorithm="HS256",
                                     headers={"kid": "hs-1"}))
    tls = ["--server", f"localhost:{server.port}", "--ca", dev_certs / "ca.pem"]

    out = cli("status", MODEL, *tls, "--api-key-file", key_file).stdout
    assert "no rollout" in out and "tls-1" in out
    env = dict(os.environ, SLUICE_API_KEY=deployer)
    started = subprocess.run([sluice_bin(), "rollout", "start", MODEL, *map(str, tls), "--candidate", "2",
                              "--steps", "10,100"], capture_output=True, text=True, timeout=60, env=env)
    assert started.returncode == 0, started.stderr
    assert "RUNNING" in started.stdout and "step 1/2 (10%)" in started.stdout
    assert "PAUSED" in cli("pause", MODEL, *tls, "--token-file", token_file).stdout

    refused = cli("resume", MODEL, *tls, check=False)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr, refused.stderr
    refused = cli("resume", MODEL, *tls, "--api-key-file", viewer_file, check=False)
    assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr, refused.stderr
    wrong_ca = cli("status", MODEL, "--server", f"localhost:{server.port}", "--ca", dev_certs / "client.pem",
                   "--api-key-file", key_file, check=False)
    assert wrong_ca.returncode == 1 and "certificate" in wrong_ca.stderr, wrong_ca.stderr
    wrong_name = cli("status", MODEL, *tls, "--server-name", "elsewhere.test", "--api-key-file", key_file,
                     check=False)
    assert wrong_name.returncode == 1 and "certificate" in wrong_name.stderr, wrong_name.stderr
    cleartext = cli("status", MODEL, "--server", f"127.0.0.1:{server.port}", "--plaintext", "--api-key-file",
                    key_file, check=False)
    assert cleartext.returncode == 1 and "UNAVAILABLE" in cleartext.stderr, cleartext.stderr
    assert "RUNNING" in cli("resume", MODEL, *tls, "--api-key-file", key_file).stdout
    out = cli("set-weights", MODEL, "baseline=70", "candidate=30", *tls, "--api-key-file", key_file).stdout
    assert re.search(r"candidate\s+2\s+30%", out), out
    bad = cli("set-weights", MODEL, "baseline=70", *tls, "--api-key-file", key_file, check=False)
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr and "candidate" in bad.stderr, bad.stderr

    busy_env = dict(os.environ, SLUICE_API_KEY=busy)
    answers = [subprocess.run([sluice_bin(), "rollout", "status", MODEL, *map(str, tls)], capture_output=True,
                              text=True, timeout=60, env=busy_env) for _ in range(2)]
    assert answers[0].returncode == 0, answers[0].stderr
    assert answers[1].returncode == 1 and "RESOURCE_EXHAUSTED" in answers[1].stderr, answers[1].stderr

    text = metrics(admin)
    assert metric_value(text, "sluice_auth_denied_total", reason="unauthenticated") >= 1
    assert metric_value(text, "sluice_auth_denied_total", reason="permission_denied") >= 1
    assert metric_value(text, "sluice_auth_denied_total", reason="rate_limited") == 1
    assert metric_value(text, "sluice_rate_limited_total") == 1


def test_failed_state_write_is_an_error_the_caller_sees(tmp_path, sluice_server, proto_modules):
    """When `rollout.json` cannot be written, START answers INTERNAL naming the file, nothing routes, and the
    failure is counted in `sluice_rollout_state_write_errors_total`."""
    pb = proto_modules.inference_pb2
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    (registry / MODEL / "rollout.json").mkdir()  # a directory where the file must go: every write fails
    port = free_port()
    replica = Replica(sluice_server, registry, "w", proto_modules, port)
    with pytest.raises(grpc.RpcError) as failure:
        replica.stub.Rollout(pb.RolloutRequest(model=MODEL, action=pb.START, strategy=pb.CANARY, candidate="2",
                                               steps=[pb.CanaryStep(percent=50)]), timeout=30)
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    assert "rollout not started" in failure.value.details() and "rollout.json" in failure.value.details()
    assert replica.get().state == pb.ROLLOUT_STATE_NONE
    fixture = Fixture(LOGREG)
    assert set(predict_many(replica, pb, [fixture.row(0)], [f"k{i}" for i in range(20)]).values()) == {1}
    assert metric_value(metrics(port), "sluice_rollout_state_write_errors_total") == 1
    assert any("rollout.json" in line for line in replica.server.lines), replica.server.output


def test_rollout_cli_mtls(tmp_path, sluice_server, dev_certs):
    """`sluice rollout` authenticated by its client certificate alone (mTLS subject bound to the deployer role)."""
    import json

    registry = tmp_path / "registry"
    register(sluice_bin(), registry, MODEL, LOGREG / "model.onnx", stage="Production", feature_names=FEATURES)
    register(sluice_bin(), registry, MODEL, FOREST / "model.onnx", stage="None", feature_names=FEATURES)
    security = tmp_path / "security.json"
    security.write_text(json.dumps({"bindings": [{"subject": "CN=sluice-dev-client,O=Sluice development",
                                                  "method": "mtls", "roles": ["deployer"]}]}))
    server = sluice_server("--models", registry, "--security-config", security, "--client-ca", dev_certs / "ca.pem",
                           tls=True)
    base = ["--server", f"localhost:{server.port}", "--ca", dev_certs / "ca.pem"]
    mtls = base + ["--client-cert", dev_certs / "client.pem", "--client-key", dev_certs / "client-key.pem"]
    started = wait_for(lambda: (r := cli("start", MODEL, *mtls, "--candidate", "2", "--steps", "20,100",
                                         check=False)).returncode == 0 and r, 30, "START over mTLS")
    assert "RUNNING" in started.stdout and "step 1/2 (20%)" in started.stdout
    assert "ROLLED_BACK" in cli("rollback", MODEL, *mtls).stdout
    without = cli("status", MODEL, *base, check=False)
    assert without.returncode == 1 and "UNAVAILABLE" in without.stderr, without.stderr
    half = cli("status", MODEL, *base, "--client-cert", dev_certs / "client.pem", check=False)
    assert half.returncode == 1 and "give both" in half.stderr, half.stderr
