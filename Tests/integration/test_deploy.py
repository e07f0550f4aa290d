"""deploy/: Kubernetes manifests, compose stack, Prometheus alert rules, Grafana dashboard and container image.

- Manifests validate against the Kubernetes API schemas (`kubernetes-validate --strict`), deploy/ is
  `yamllint --strict` clean, and the manifests agree with each other (probes, drain budget, selectors, volumes).
- The Kubernetes ConfigMap and example security policy start the real binary (paths mapped to a temp dir).
- `promtool check rules`, `promtool test rules` (each alert firing and quiet), `promtool check config`.
- The compose file lints (`docker compose config` / `docker-compose config` where installed, and the
  compose-spec JSON schema shipped by check-jsonschema).
- The dashboard is valid JSON with one datasource uid, its PromQL parses (promtool) and names only metrics the
  server exports; a scrape of the real binary shows which of them exist today (ONLY_WHILE_ACTIVE lists the families
  that exist only during a rollout or for a monitored version) and passes `promtool check metrics`.
- A real Prometheus with the compose scrape configuration (targets on loopback) scrapes two real replicas,
  evaluates every alert rule without error and fires none, and answers every dashboard query.
- The image (deploy/build-image.sh on the base from deploy/make-base-image.sh) is mounted with
  `podman image mount` and its entrypoint and default arguments run under chroot on its read-only root:
  health check, a TLS Predict with an API key, the audit log, a clean SIGTERM exit. Where the machine cannot
  build images the test skips and says why.
"""
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import grpc
import pytest
import yaml

from conftest import CERTS, sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, feature_value

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
VENV_BIN = pathlib.Path(sys.executable).parent
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (scripts/setup installs "
                                                             "the prometheus package)")

# Metric names the dashboard and the alert rules use that other branches of issue 12 add (rollouts across
# replicas, truthfulness, MLflow source). When one of them is exported, test_metrics_used_are_exported
# fails and asks for it to be taken off this list.
# Families the server exports only while there is something to report: a rollout in progress, a monitored
# (profiled) version. The scrape in test_metrics_used_are_exported has neither, so these may be absent there.
ONLY_WHILE_ACTIVE = {
    "sluice_rollout_state",
    "sluice_rollout_variant_weight_percent",
    "sluice_rollout_verdicts_total",
    "sluice_drift_verdict",
    "sluice_feature_psi",
    "sluice_prediction_psi",
}
# Series Prometheus makes itself.
PROMETHEUS_SERIES = {"up"}
# A fixed API key for the tests that start the server with authentication.
API_KEY = "slk_deploy-test-key-0123456789abcdefghijklmnopqrstuvwxyzAB"


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name):
    """A CLI installed in the test venv (from requirements.txt)."""
    path = VENV_BIN / name
    assert path.exists(), f"{name} missing from the venv: scripts/setup --python installs it"
    return path


def k8s_documents():
    """{(kind, name): document} of every manifest in deploy/kubernetes (the kustomization aside)."""
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def http_get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_http(url, want=200, timeout=60.0, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before {url} answered {want}")
        try:
            last = http_get(url)
            if last[0] == want:
                return last[1]
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {want} within {timeout}s (last: {last})")


# ---------------------------------------------------------------------------------------------------------
# Kubernetes


def test_kubernetes_manifests_validate_strict(tmp_path):
    files = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert len(files) >= 8, files
    out = run([tool("kubernetes-validate"), "--strict", *files])
    assert out.returncode == 0, out.stdout + out.stderr
    passed = re.findall(r"passed for resource (\S+)", out.stdout)
    kinds = {name.split("/")[0] for name in passed}
    assert {"deployment", "service", "horizontalpodautoscaler", "poddisruptionbudget", "configmap", "secret",
            "persistentvolumeclaim"} <= kinds, out.stdout
    # The validator is strict: an unknown field in the pod spec is an error.
    broken = yaml.safe_load((K8S / "deployment.yaml").read_text())
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    rejected = run([tool("kubernetes-validate"), "--strict", tmp_path / "broken.yaml"])
    assert rejected.returncode != 0 and "livenessProbes" in rejected.stdout + rejected.stderr


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert listed == present


def test_yamllint_clean(tmp_path):
    out = run([tool("yamllint"), "--strict", "-c", DEPLOY / ".yamllint.yaml", DEPLOY])
    assert out.returncode == 0, out.stdout + out.stderr
    # The same configuration flags a bad file (the lint is not a no-op).
    (tmp_path / "bad.yaml").write_text("a: 1\na: 2\nb:   [1,2]\n")
    bad = run([tool("yamllint"), "--strict", "-c", DEPLOY / ".yamllint.yaml", tmp_path / "bad.yaml"])
    assert bad.returncode != 0 and "duplication of key" in bad.stdout


def test_kubernetes_manifests_fit_together():
    docs = k8s_documents()
    deployment = docs[("Deployment", "sluice")]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    config = json.loads(docs[("ConfigMap", "sluice-config")]["data"]["sluice.json"])
    assert config["listen"] == f"0.0.0.0:{ports['grpc']}"
    assert config["adminListen"] == f"0.0.0.0:{ports['admin']}"

    # Probes on the admin listener (plain HTTP; Kubernetes' gRPC probes cannot speak TLS).
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}

    # Non-root, read-only root filesystem, no capabilities.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert config["threads"] <= float(container["resources"]["limits"]["cpu"])

    # Drain: preStop sleep + drain timeout fit in the grace period, with room for the audit flush.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "/bin/sleep"
    budget = int(pre_stop[1]) + config["drainTimeoutSeconds"]
    assert pod["terminationGracePeriodSeconds"] >= budget + 5, (pod["terminationGracePeriodSeconds"], budget)

    # Every mount has a volume; the volumes name objects that exist (Secrets in the example file).
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert {m["name"] for m in mounts.values()} == set(volumes)
    assert docs[("ConfigMap", volumes["config"]["configMap"]["name"])]
    assert docs[("Secret", volumes["tls"]["secret"]["secretName"])]["type"] == "kubernetes.io/tls"
    assert "security.json" in docs[("Secret", volumes["security"]["secret"]["secretName"])]["stringData"]
    claim = docs[("PersistentVolumeClaim", volumes["registry"]["persistentVolumeClaim"]["claimName"])]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert mounts[config["models"]]["name"] == "registry" and not mounts[config["models"]].get("readOnly")
    assert mounts[str(pathlib.PurePath(config["tlsCert"]).parent)]["name"] == "tls"
    assert mounts[str(pathlib.PurePath(config["securityConfig"]).parent)]["name"] == "security"
    for name in ("config", "tls", "security"):
        assert next(m for m in mounts.values() if m["name"] == name)["readOnly"] is True

    # Services select the pods; one of them is headless (one DNS record per pod).
    for name in ("sluice", "sluice-headless"):
        service = docs[("Service", name)]
        assert service["spec"]["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    assert docs[("Service", "sluice-headless")]["spec"]["clusterIP"] == "None"

    hpa = docs[("HorizontalPodAutoscaler", "sluice")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sluice"}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = docs[("PodDisruptionBudget", "sluice")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    namespaces = {doc["metadata"].get("namespace") for (kind, _), doc in docs.items() if kind != "Namespace"}
    assert namespaces == {docs[("Namespace", "sluice")]["metadata"]["name"]}


def test_kubernetes_config_starts_the_real_server(tmp_path, proto_modules, dev_certs):
    """The ConfigMap's sluice.json and the example policy, with their paths mapped into a temp dir, serve."""
    docs = k8s_documents()
    config = json.loads(docs[("ConfigMap", "sluice-config")]["data"]["sluice.json"])
    policy = json.loads(docs[("Secret", "sluice-security")]["stringData"]["security.json"])
    policy["apiKeys"].append({"id": "test", "sha256": hashlib.sha256(API_KEY.encode()).hexdigest(),
                              "principal": "test", "roles": ["predictor"]})
    mounts = {"/etc/sluice/tls": tmp_path / "tls", "/etc/sluice/security": tmp_path / "security",
              "/var/lib/sluice/registry": tmp_path / "registry", "/var/log/sluice": tmp_path / "audit"}
    for directory in mounts.values():
        directory.mkdir()
    shutil.copy(dev_certs / "server.pem", mounts["/etc/sluice/tls"] / "tls.crt")
    shutil.copy(dev_certs / "server-key.pem", mounts["/etc/sluice/tls"] / "tls.key")
    shutil.copytree(DEPLOY / "registry", mounts["/var/lib/sluice/registry"], dirs_exist_ok=True)

    def mapped(path):
        for prefix, directory in mounts.items():
            if path.startswith(prefix + "/") or path == prefix:
                return str(directory) + path[len(prefix):]
        raise AssertionError(f"{path} is on no volume the Deployment mounts")

    policy["audit"]["path"] = mapped(policy["audit"]["path"])
    (mounts["/etc/sluice/security"] / "security.json").write_text(json.dumps(policy))
    for key in ("models", "tlsCert", "tlsKey", "securityConfig"):
        config[key] = mapped(config[key])
    admin = free_port()
    config["listen"], config["adminListen"] = f"127.0.0.1:{free_port()}", f"127.0.0.1:{admin}"
    (tmp_path / "sluice.json").write_text(json.dumps(config))

    proc = subprocess.Popen([sluice_bin(), "serve", "--config", tmp_path / "sluice.json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{admin}/readyz", proc=proc)
        port = int(config["listen"].rsplit(":", 1)[1])
        predict_with_key(proto_modules, port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        audit = (mounts["/var/log/sluice"] / "audit.log").read_text()
        assert '"principal":"test"' in audit.replace(" ", ""), audit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def predict_with_key(proto_modules, port, api_key=API_KEY):
    """A TLS Predict on the churn model with an API key (and one without, refused); returns the response."""
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    creds = grpc.ssl_channel_credentials(root_certificates=(CERTS / "ca.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{port}", creds) as channel:
        features = {k: feature_value(pb, v) for k, v in Fixture(SHARED_MODELS / "spark_churn_rf").row(0).items()}
        reply = pb_grpc.InferenceStub(channel).Predict(
            pb.PredictRequest(model="churn", features=features), metadata=[("x-api-key", api_key)], timeout=10)
        assert reply.model == "churn" and reply.version == 1 and len(reply.scores) == 2
        with pytest.raises(grpc.RpcError) as denied:
            pb_grpc.InferenceStub(channel).Predict(pb.PredictRequest(model="churn", features=features), timeout=10)
        assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
        return reply


# ---------------------------------------------------------------------------------------------------------
# Prometheus


@needs_promtool
def test_alert_rules_check_and_unit_tests(tmp_path):
    out = run([PROMTOOL, "check", "rules", DEPLOY / "prometheus" / "alerts.yml"])
    assert out.returncode == 0, out.stdout + out.stderr
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    alerts = {rule["alert"] for rule in rules}
    assert {"SluiceHighErrorRate", "SluiceHighP99Latency", "SluiceModelVersionFailed", "SluiceRolloutRolledBack",
            "SluiceAuditRecordsDropped", "SluiceScrapeFailing", "SluiceModelSourceDown"} <= alerts

    tests = DEPLOY / "prometheus" / "alerts.test.yml"
    out = run([PROMTOOL, "test", "rules", tests], cwd=tests.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every alert is exercised firing (a non-empty exp_alerts) and quiet (an empty one).
    cases = [case for test in yaml.safe_load(tests.read_text())["tests"] for case in test["alert_rule_test"]]
    assert alerts == {c["alertname"] for c in cases if c["exp_alerts"]}
    assert alerts == {c["alertname"] for c in cases if not c["exp_alerts"]}

    # The unit tests catch a broken rule: with the error-rate threshold raised, churn's 4.8% stops firing.
    shutil.copy(tests, tmp_path / "alerts.test.yml")
    (tmp_path / "alerts.yml").write_text(
        (DEPLOY / "prometheus" / "alerts.yml").read_text().replace("> 0.01\n", "> 0.5\n", 1))
    broken = run([PROMTOOL, "test", "rules", tmp_path / "alerts.test.yml"], cwd=tmp_path)
    assert broken.returncode != 0 and "SluiceHighErrorRate" in broken.stdout + broken.stderr


@needs_promtool
def test_prometheus_config_checks():
    out = run([PROMTOOL, "check", "config", DEPLOY / "prometheus" / "prometheus.yml"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 1 rule files found" in out.stdout


# ---------------------------------------------------------------------------------------------------------
# Compose


def compose_cli():
    """(argv prefix, name) of a compose implementation that can run `config` without a daemon, or None."""
    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"], "docker compose"
    if shutil.which("docker-compose"):
        return [shutil.which("docker-compose")], "docker-compose"
    return None


def test_compose_file_matches_compose_spec_schema():
    out = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", DEPLOY / "compose.yaml"])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(compose_cli() is None, reason="no compose CLI: neither `docker compose` (plugin) nor "
                                                  "`docker-compose` (apt-get install docker-compose) is installed")
def test_compose_config_lints():
    cli, _ = compose_cli()
    env = dict(os.environ, GRAFANA_ADMIN_PASSWORD="test-only")
    out = run([*cli, "-f", DEPLOY / "compose.yaml", "config"], env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    stack = yaml.safe_load(out.stdout)
    services = stack["services"]
    assert {"mlflow", "sluice-1", "sluice-2", "prometheus", "grafana"} <= set(services)
    for name in ("sluice-1", "sluice-2"):
        service = services[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "--admin-listen=0.0.0.0:9464" in service["command"]
        assert "--models=mlflow+http://mlflow:5000" in service["command"]
    # Grafana needs its admin password from the environment; the file holds none.
    missing = run([*cli, "-f", DEPLOY / "compose.yaml", "config"],
                  env={k: v for k, v in env.items() if k != "GRAFANA_ADMIN_PASSWORD"})
    assert missing.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in missing.stdout + missing.stderr


def test_compose_init_secrets_make_a_working_key_and_policy(tmp_path, proto_modules):
    """deploy/compose/init-secrets.sh's certificate, policy and API key serve a TLS Predict (audit path moved)."""
    out_dir = tmp_path / "secrets"
    made = run([DEPLOY / "compose" / "init-secrets.sh"],
               env=dict(os.environ, SLUICE_BIN=sluice_bin(), SLUICE_COMPOSE_SECRETS=str(out_dir)))
    assert made.returncode == 0, made.stdout + made.stderr
    stack = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    binds = [v for v in stack["x-sluice"]["volumes"] if v.startswith("./compose/secrets/")]
    assert {b.split(":")[1] for b in binds} == {"/etc/sluice/tls", "/etc/sluice/security"}
    for name in ("tls/tls.crt", "tls/tls.key", "security/security.json", "api-key"):
        assert (out_dir / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"
    if os.geteuid() == 0:
        assert (out_dir / "tls" / "tls.key").stat().st_uid == 10001
    policy = json.loads((out_dir / "security" / "security.json").read_text())
    assert policy["audit"]["path"].startswith("/var/log/sluice/")
    policy["audit"]["path"] = str(tmp_path / "audit.log")
    (tmp_path / "security.json").write_text(json.dumps(policy))
    registry = tmp_path / "registry"
    shutil.copytree(DEPLOY / "registry", registry)
    port, admin = free_port(), free_port()
    proc = subprocess.Popen([sluice_bin(), "serve", "--listen", f"127.0.0.1:{port}", "--models", registry,
                             "--admin-listen", f"127.0.0.1:{admin}", "--tls-cert", out_dir / "tls" / "tls.crt",
                             "--tls-key", out_dir / "tls" / "tls.key", "--security-config", tmp_path / "security.json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{admin}/readyz", proc=proc)
        predict_with_key(proto_modules, port, api_key=(out_dir / "api-key").read_text().strip())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_compose_wiring():
    """Prometheus scrapes both replicas' admin ports; Grafana gets the datasource the dashboard names."""
    stack = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (sluice_job,) = [job for job in scrape["scrape_configs"] if job["job_name"] == "sluice"]
    targets = {t for config in sluice_job["static_configs"] for t in config["targets"]}
    replicas = {name for name in stack["services"] if name.startswith("sluice-")}
    assert targets == {f"{name}:9464" for name in replicas} and len(replicas) == 2
    grafana_mounts = {m.split(":")[1]: DEPLOY / m.split(":")[0] for m in stack["services"]["grafana"]["volumes"]
                      if m.startswith("./")}
    datasources = yaml.safe_load((grafana_mounts["/etc/grafana/provisioning/datasources"]
                                  / "prometheus.yaml").read_text())["datasources"]
    dashboard = json.loads((grafana_mounts["/var/lib/grafana/dashboards"] / "sluice.json").read_text())
    assert {d["uid"] for d in datasources} == dashboard_datasource_uids(dashboard)
    provider = yaml.safe_load((grafana_mounts["/etc/grafana/provisioning/dashboards"]
                               / "sluice.yaml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------------------------------------------------
# Dashboard and metric names

PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "absent", "absent_over_time",
    "label_values", "label_replace", "clamp_min", "clamp_max", "abs", "time", "vector", "scalar", "sort",
    "sort_desc", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "changes", "resets", "inf",
    "nan", "humanize", "humanizePercentage", "humanizeDuration",
}


def dashboard_datasource_uids(dashboard):
    uids = set()
    for panel in dashboard["panels"]:
        for holder in [panel, *panel.get("targets", [])]:
            if "datasource" in holder:
                uids.add(holder["datasource"]["uid"])
    for variable in dashboard["templating"]["list"]:
        uids.add(variable["datasource"]["uid"])
    return uids


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                      # string literals
    text = re.sub(r"\{[^}]*\}", "", text)                                  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    text = re.sub(r"\[[^\]]*\]", "", text)                                 # ranges
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        rest = text[match.end():].lstrip()
        if word in PROMQL_WORDS or rest.startswith("(") or word.startswith("__"):
            continue
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def dashboard_exprs():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "sluice.json").read_text())
    return dashboard, [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_exprs():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def source_metric_names():
    """Metric family names registered in the Swift sources (counters, histograms, collectors)."""
    names = set()
    for path in (ROOT / "Sources").rglob("*.swift"):
        names |= set(re.findall(r'"((?:sluice|process)_[a-z0-9_]+)"', path.read_text()))
    return names


def family_of(name, families):
    """The exported family a sample name belongs to (histograms add _bucket, _sum, _count)."""
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            return name[: -len(suffix)]
    return None


def test_metric_name_extraction():
    names = metric_names('histogram_quantile(0.99, sum by (model, le) (rate(sluice_request_duration_seconds_bucket'
                         '{job=~"$job",rpc="Predict"}[5m]))) > 0.025 or max by (model) (sluice_model_state{state='
                         '"FAILED"}) and on (instance) absent(up{job="x"})')
    assert names == {"sluice_request_duration_seconds_bucket", "sluice_model_state", "up"}


def test_dashboard_structure():
    dashboard, exprs = dashboard_exprs()
    assert dashboard["uid"] and dashboard["title"] == "Sluice"
    datasources = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
                                 .read_text())["datasources"]
    assert dashboard_datasource_uids(dashboard) == {datasources[0]["uid"]}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("request rate", "errors by code", "p50", "p99", "split", "verdicts", "loading and failed",
                  "auth denials", "rate-limit", "cpu", "resident memory"):
        assert topic in titles, topic
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    allowed = source_metric_names() | PROMETHEUS_SERIES
    for expr in exprs + alert_exprs():
        assert set(re.findall(r"\$(\w+)", expr)) <= variables | {"__rate_interval", "labels", "value"}, expr
        unknown = {n for n in metric_names(expr) if family_of(n, allowed) is None}
        assert not unknown, f"{expr}\nuses metrics no source exports: {unknown}"


@needs_promtool
def test_dashboard_promql_parses(tmp_path):
    """Each panel query, with Grafana's variables filled in, is a valid recording rule for promtool."""
    _, exprs = dashboard_exprs()
    rules = []
    for index, expr in enumerate(exprs):
        concrete = expr.replace("$__rate_interval", "1m").replace("$job", "sluice").replace(
            "$instance", ".*").replace("$model", ".*")
        rules.append({"record": f"dashboard:query_{index}", "expr": concrete})
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run([PROMTOOL, "check", "rules", tmp_path / "dashboard.rules.yml"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in out.stdout
    # promtool rejects bad PromQL (the check is not a no-op).
    (tmp_path / "bad.rules.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "bad", "rules": [{"record": "x:y", "expr": "sum by (model (rate(x[1m]))"}]}]}))
    assert run([PROMTOOL, "check", "rules", tmp_path / "bad.rules.yml"]).returncode != 0


def test_metrics_used_are_exported(tmp_path, sluice_server, proto_modules):
    """A scrape of the real binary: every metric the dashboard and alerts use is exported (those in
    ONLY_WHILE_ACTIVE only during a rollout or for a monitored version)."""
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    shutil.copytree(DEPLOY / "registry", registry)
    out = run([sluice_bin(), "models", "batching", "churn", "--max-batch-size", "8", "--max-queue-delay-us", "200",
               "--registry", registry])
    assert out.returncode == 0, out.stderr
    policy = {"apiKeys": [{"id": "test", "sha256": hashlib.sha256(API_KEY.encode()).hexdigest(),
                           "principal": "test", "roles": ["predictor"]}],
              "audit": {"path": str(tmp_path / "audit.log")}}
    (tmp_path / "security.json").write_text(json.dumps(policy))
    admin = free_port()
    server = sluice_server("--models", registry, "--security-config", tmp_path / "security.json",
                           "--admin-listen", f"127.0.0.1:{admin}")
    wait_http(f"http://127.0.0.1:{admin}/readyz", proc=server.proc)
    stub = pb_grpc.InferenceStub(server.channel())
    features = {k: feature_value(pb, v) for k, v in Fixture(SHARED_MODELS / "spark_churn_rf").row(0).items()}
    key = [("x-api-key", API_KEY)]
    stub.Predict(pb.PredictRequest(model="churn", features=features), metadata=key, timeout=10)
    stub.BatchPredict(pb.BatchPredictRequest(
        model="churn", rows=3, columns=[pb.Column(name=k, values=[v.number] * 3) for k, v in features.items()]),
        metadata=key, timeout=10)
    with pytest.raises(grpc.RpcError):
        stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10)

    status, text = http_get(f"http://127.0.0.1:{admin}/metrics")
    assert status == 200
    if PROMTOOL:
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    exported = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    used = set()
    for expr in dashboard_exprs()[1] + alert_exprs():
        used |= metric_names(expr)
    used -= PROMETHEUS_SERIES
    missing = {n for n in used if family_of(n, exported) is None and n not in ONLY_WHILE_ACTIVE}
    assert not missing, f"used by the dashboard/alerts but not exported: {sorted(missing)}"
    # Today's names the dashboard relies on, with samples after the calls above.
    for name in ("sluice_requests_total", "sluice_request_duration_seconds_bucket", "sluice_model_state",
                 "sluice_model_load_seconds", "sluice_batch_rows_bucket", "sluice_inflight_requests",
                 "sluice_audit_written_records_total", "sluice_audit_dropped_records_total",
                 "sluice_dynamic_batches_total"):
        assert name in used, name
        assert name in samples, f"{name} has no sample\n{text}"


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed (scripts/setup "
                                                                 "installs it)")
def test_prometheus_evaluates_rules_and_dashboard_on_two_replicas(tmp_path, sluice_server, proto_modules):
    """The compose Prometheus configuration (targets moved to loopback) scrapes two real replicas, loads and
    evaluates every alert rule without error, fires none on a healthy fleet, and runs every dashboard query
    without error; the panels over metrics exported today return data."""
    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    registry = tmp_path / "registry"
    shutil.copytree(DEPLOY / "registry", registry)
    admins = [free_port(), free_port()]
    replicas = [sluice_server("--models", registry, "--admin-listen", f"127.0.0.1:{port}") for port in admins]
    features = {k: feature_value(pb, v) for k, v in Fixture(SHARED_MODELS / "spark_churn_rf").row(0).items()}
    for replica, admin in zip(replicas, admins):
        wait_http(f"http://127.0.0.1:{admin}/readyz", proc=replica.proc)

    def traffic():
        for replica in replicas:
            stub = pb_grpc.InferenceStub(replica.channel())
            for _ in range(5):
                stub.Predict(pb.PredictRequest(model="churn", features=features), timeout=10)
            with pytest.raises(grpc.RpcError):
                stub.Predict(pb.PredictRequest(model="fraud", features=features), timeout=10)

    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / "prometheus" / "alerts.yml")]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sluice"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in admins]}]
    config["scrape_configs"] = [job]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    prom = subprocess.Popen([shutil.which("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def api(path, **params):
        import urllib.parse
        url = f"http://127.0.0.1:{web}/api/v1/{path}?" + urllib.parse.urlencode(params)
        status, body = http_get(url, timeout=5)
        reply = json.loads(body)
        assert status == 200 and reply["status"] == "success", (path, params, body)
        return reply["data"]

    try:
        deadline = time.monotonic() + 60
        rules = []
        while time.monotonic() < deadline:
            traffic()
            try:
                up = api("query", query='up{job="sluice"}')["result"]
                rules = [r for g in api("rules")["groups"] for r in g["rules"]]
            except (OSError, AssertionError):
                up, rules = [], []
            # rate() over 10s needs a few samples per replica after the traffic.
            ready = (len(up) == 2 and all(s["value"][1] == "1" for s in up)
                     and rules and all(r["health"] == "ok" for r in rules))
            if ready and api("query", query='sum(rate(sluice_requests_total[10s]))')["result"]:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"Prometheus did not scrape both replicas and evaluate the rules: {rules}")
        assert len(rules) == len(alert_exprs()), rules
        firing = [a for a in api("alerts")["alerts"] if a["state"] == "firing"]
        assert not firing, firing

        dashboard, exprs = dashboard_exprs()
        with_data = {}
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = (target["expr"].replace("$__rate_interval", "10s").replace("$job", "sluice")
                        .replace("$instance", ".*").replace("$model", ".*"))
                with_data[target["expr"]] = (panel["title"], bool(api("query", query=expr)["result"]))
        # What this fleet (two replicas, one model, Predict calls, NOT_FOUND errors, no rollout, no batches, no
        # audit log) must show; the other panels need traffic or metrics it does not have.
        showing = {title for title, has_data in with_data.values() if has_data}
        expected = {"Replicas up", "Request rate (all replicas)", "Server error ratio", "In-flight calls",
                    "Requests by RPC and model", "Requests by replica", "Errors by code",
                    "Errors by model and version", "Predict p50 by model and version",
                    "Predict p99 by model and version", "Versions by state", "Load time by version",
                    "Mean confidence"}
        assert expected <= showing, f"panels without data: {sorted(expected - showing)}"
    finally:
        prom.terminate()
        prom.wait(timeout=10)


# ---------------------------------------------------------------------------------------------------------
# Container image

BASE_IMAGE = os.environ.get("SLUICE_BASE_IMAGE", "localhost/sluice-base:bookworm")


def image_skip_reason():
    """Why this machine cannot build and check the image, or None."""
    if not sys.platform.startswith("linux"):
        return "the image check needs Linux"
    if os.geteuid() != 0:
        return "the image check needs root (podman image mount, chroot, bind mounts)"
    for name, package in (("podman", "podman"), ("unshare", "util-linux"), ("chroot", "coreutils")):
        if shutil.which(name) is None:
            return f"{name} is not installed (apt-get install {package}; then deploy/make-base-image.sh)"
    if run(["podman", "image", "exists", BASE_IMAGE]).returncode != 0:
        return (f"base image {BASE_IMAGE} is missing: run deploy/make-base-image.sh once (debootstrap from the "
                f"apt mirror takes about 4 minutes, over the CI budget, so the test suite does not)")
    return None


@pytest.fixture(scope="module")
def built_image():
    """Builds the image from the binary under test with deploy/build-image.sh; yields its name and mount."""
    reason = image_skip_reason()
    if reason:
        pytest.skip(reason)
    tag = f"localhost/sluice:test-{os.getpid()}"
    env = dict(os.environ, SLUICE_BIN=sluice_bin())
    build = subprocess.run([DEPLOY / "build-image.sh", BASE_IMAGE, tag], capture_output=True, text=True,
                           timeout=600, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    try:
        mounted = run(["podman", "image", "mount", tag])
        assert mounted.returncode == 0, mounted.stderr
        config = json.loads(run(["podman", "image", "inspect", tag]).stdout)[0]["Config"]
        yield tag, pathlib.Path(mounted.stdout.strip()), config
    finally:
        run(["podman", "image", "unmount", tag])
        run(["podman", "rmi", "--force", tag])


def test_image_layout(built_image):
    _, root, config = built_image
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/sluice"]
    cmd = config["Cmd"]
    assert cmd[cmd.index("--listen") + 1].startswith("0.0.0.0:")
    assert cmd[cmd.index("--admin-listen") + 1].startswith("0.0.0.0:")
    # No certificates or keys in the image: they are mounted.
    assert not any((root / "etc" / "sluice").rglob("*.*"))
    assert not list(root.rglob("*-key.pem")) and not (root / "etc/sluice/tls/tls.key").exists()
    # Every library the binary links resolves inside the image.
    ldd = run(["chroot", root, "/usr/bin/ldd", "/usr/local/bin/sluice"])
    assert ldd.returncode == 0 and "not found" not in ldd.stdout, ldd.stdout + ldd.stderr
    for library in ("libnghttp2.so.14", "libssl.so.3", "libprotobuf-c.so.1", "libz.so.1", "libmicrohttpd.so.12"):
        assert library in ldd.stdout
    help_text = run(["chroot", "--userspec=10001:10001", root, "/usr/local/bin/sluice", "--help"])
    assert help_text.returncode == 0 and "serve" in help_text.stdout


def test_image_version(built_image):
    host = run([sluice_bin(), "--version"])
    if host.returncode != 0:
        pytest.skip("this binary has no --version yet (added by the truthfulness work); the health check test "
                    "covers the image")
    _, root, config = built_image
    # As a container runtime would, with /proc mounted (the Swift runtime reads the arguments from it), in a
    # private mount namespace so the mount goes away with the process.
    script = f'mount -t proc proc "{root}/proc" && exec chroot --userspec={config["User"]} "$0" "$@"'
    inside = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(root),
                  *config["Entrypoint"], "--version"])
    assert inside.returncode == 0, inside.stdout + inside.stderr
    # The same build; the image's own libraries may be newer patch releases than the host's (e.g. OpenSSL).
    assert inside.stdout.splitlines()[0] == host.stdout.splitlines()[0]
    assert [line.split()[0] for line in inside.stdout.splitlines()] == [line.split()[0] for line in host.stdout.splitlines()]


def test_image_entrypoint_serves_on_read_only_root(built_image, tmp_path, proto_modules, dev_certs):
    """The image's entrypoint and default arguments under chroot, as the image's user, on the read-only
    mounted image, with the registry, TLS material, policy and audit directory bind-mounted as a runtime
    would (addresses moved to loopback ports): /readyz, a TLS Predict with an API key, the audit log, and a
    clean exit on SIGTERM."""
    _, root, config = built_image
    uid, gid = (int(x) for x in config["User"].split(":"))
    volumes = {"/etc/sluice/tls": tmp_path / "tls", "/etc/sluice/security": tmp_path / "security",
               "/var/lib/sluice/registry": tmp_path / "registry", "/var/log/sluice": tmp_path / "audit"}
    for directory in volumes.values():
        directory.mkdir()
    shutil.copy(dev_certs / "server.pem", volumes["/etc/sluice/tls"] / "tls.crt")
    shutil.copy(dev_certs / "server-key.pem", volumes["/etc/sluice/tls"] / "tls.key")
    shutil.copytree(DEPLOY / "registry", volumes["/var/lib/sluice/registry"], dirs_exist_ok=True)
    policy = {"apiKeys": [{"id": "test", "sha256": hashlib.sha256(API_KEY.encode()).hexdigest(),
                           "principal": "test", "roles": ["predictor"]}],
              "audit": {"path": "/var/log/sluice/audit.log"}}
    (volumes["/etc/sluice/security"] / "security.json").write_text(json.dumps(policy))
    for directory in volumes.values():
        for path in [directory, *directory.rglob("*")]:
            os.chown(path, uid, gid)
        os.chmod(directory, 0o700)
    os.chmod(volumes["/etc/sluice/tls"] / "tls.key", 0o400)

    args = list(config["Entrypoint"]) + list(config["Cmd"])
    port, admin = free_port(), free_port()
    args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
    args[args.index("--admin-listen") + 1] = f"127.0.0.1:{admin}"
    # A private mount namespace: the binds and /proc vanish with the process; the image stays read-only.
    binds = " && ".join(f'mount --bind "{src}" "{root}{dst}"' for dst, src in volumes.items())
    script = (f'{binds} && mount -t proc proc "{root}/proc" && mount --rbind /dev "{root}/dev" '
              f'&& exec chroot --userspec={uid}:{gid} "$0" "$@"')
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(root),
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        body = wait_http(f"http://127.0.0.1:{admin}/readyz", proc=proc)
        assert body.startswith("ready")
        assert wait_http(f"http://127.0.0.1:{admin}/healthz", proc=proc).startswith("ok")
        reply = predict_with_key(proto_modules, port)
        assert reply.version == 1
        # The server runs as the image's user, chrooted into the image.
        uids = next(line for line in open(f"/proc/{proc.pid}/status") if line.startswith("Uid:")).split()[1:]
        assert {int(u) for u in uids} == {uid}
        assert os.readlink(f"/proc/{proc.pid}/root") == str(root)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        stderr = proc.stderr.read()
        assert code == 0, stderr
        assert "serving gRPC on" in stderr
        audit = (volumes["/var/log/sluice"] / "audit.log")
        assert audit.stat().st_uid == uid, "the audit log is not written by the image's user"
        assert '"principal":"test"' in audit.read_text().replace(" ", "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
