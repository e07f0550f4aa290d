"""Helpers for tests that serve the ONNX fixtures in Tests/fixtures/models through a real registry."""
import json
import math
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_MODELS = ROOT / "Tests" / "fixtures" / "models"


def shared_model_names():
    manifest = json.loads((SHARED_MODELS / "manifest.json").read_text())
    return [m["name"] for m in manifest["models"]]


def manifest_entry(name):
    manifest = json.loads((SHARED_MODELS / "manifest.json").read_text())
    return next(m for m in manifest["models"] if m["name"] == name)


class Fixture:
    """inputs.json / expected.json of one model, as per-row feature dicts and expected outputs."""

    def __init__(self, directory):
        directory = pathlib.Path(directory)
        self.directory = directory
        self.model_path = directory / "model.onnx"
        inputs = json.loads((directory / "inputs.json").read_text())
        expected = json.loads((directory / "expected.json").read_text())
        self.inputs = inputs["inputs"]
        self.outputs = expected["outputs"]
        self.rows = len(self.inputs[0]["data"])
        # Feature names in dense order: one per column of each input.
        self.features = []
        for spec in self.inputs:
            if "columns" not in spec:
                width = spec["shape"][1] if len(spec["shape"]) > 1 else 1
                spec["columns"] = [spec["name"]] if width == 1 else [f"{spec['name']}[{i}]" for i in range(width)]
            for column in spec["columns"]:
                self.features.append((column, spec["dtype"]))
        self.single_multicolumn_input = len(self.inputs) == 1 and len(self.inputs[0]["columns"]) > 1
        self.labels, self.probabilities, self.values, self.class_order = self._expected()

    def _expected(self):
        labels = probabilities = values = None
        class_order = None
        for out in self.outputs:
            if out["dtype"] in ("int64", "string") and len(out["shape"]) == 1:
                labels = out["data"]
            elif out["dtype"] == "map":
                class_order = sorted(out["data"][0].keys(), key=lambda k: (len(k), k))
                probabilities = [[row[k] for k in class_order] for row in out["data"]]
            elif out["dtype"] == "float32":
                if len(out["shape"]) == 2 and out["shape"][1] > 1:
                    probabilities = out["data"]
                else:
                    values = [v[0] if isinstance(v, list) else v for v in out["data"]]
        return labels, probabilities, values, class_order

    def row(self, index):
        """{feature name: value} for one row."""
        out = {}
        for spec in self.inputs:
            values = spec["data"][index]
            if not isinstance(values, list):
                values = [values]
            for column, value in zip(spec["columns"], values):
                out[column] = value
        return out

    def numeric_row(self, index):
        return [v for (name, dtype), v in zip(self.features, self.row(index).values()) if dtype != "string"]

    @property
    def numeric_only(self):
        return all(dtype != "string" for _, dtype in self.features)


def register(sluice_bin, registry, name, model_path, stage="Production", aliases=(), feature_names=None, extra=()):
    args = [sluice_bin, "models", "register", "--registry", str(registry), "--name", name, "--file", str(model_path),
            "--stage", stage]
    for alias in aliases:
        args += ["--alias", alias]
    if feature_names:
        args += ["--feature-names", ",".join(feature_names)]
    args += list(extra)
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split(" version ")[1].split()[0])


def feature_value(pb, value):
    if isinstance(value, str):
        return pb.FeatureValue(text=value)
    return pb.FeatureValue(number=float("nan") if value is None else value)


def close(a, b, tol=1e-5):
    return abs(a - b) <= tol or (math.isnan(a) and math.isnan(b))


def wait_serving(server, proto_modules, timeout=30.0):
    """Waits until the server's health check says SERVING (models loaded)."""
    import time

    health = proto_modules.health_pb2_grpc.HealthStub(server.channel())
    request = proto_modules.health_pb2.HealthCheckRequest()
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = health.Check(request, timeout=5).status
        if status == proto_modules.health_pb2.HealthCheckResponse.SERVING:
            return server
        time.sleep(0.05)
    raise AssertionError(f"server not SERVING after {timeout}s (status {status})\n{server.output}")
