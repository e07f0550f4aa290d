"""Issue 10: the operator documentation is generated or checked against the real binary.

- docs/operators.md is what scripts/gen-operators-doc makes from the op registry (regenerate after adding an op).
- docs/configuration.md covers every `sluice serve` flag and every config-file key the binary knows.
- `sluice serve --help` lists every config key; relative links in README.md and docs/*.md point at files.
"""
import json
import re
import subprocess
import sys

from conftest import ROOT, sluice_bin


def test_operator_list_is_current():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-operators-doc"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = (ROOT / "docs" / "operators.md").read_text()
    assert "| `TreeEnsembleClassifier` |" in text and "`class_weights`" in text and "| `ai.onnx.ml` | 1–5 |" in text


def known_config_keys(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"noSuchKey": 1}))
    out = subprocess.run([sluice_bin(), "serve", "--config", str(config)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    return [k.strip() for k in out.stderr.split("known keys: ", 1)[1].strip().split(",")]


def test_configuration_reference_covers_every_flag_and_key(tmp_path):
    doc = (ROOT / "docs" / "configuration.md").read_text()
    help_text = subprocess.run([sluice_bin(), "serve", "--help"], capture_output=True, text=True).stdout
    flags = sorted(set(re.findall(r"^\s+(--[a-z-]+)", help_text, re.M)) - {"--help", "--version"})
    assert len(flags) >= 15, help_text
    for flag in flags:
        assert f"`{flag}" in doc, f"{flag} is not in docs/configuration.md"
    keys = known_config_keys(tmp_path)
    assert "models" in keys and "adminListen" in keys, keys
    for key in keys:
        assert f"`{key}`" in doc, f"config key {key} is not in docs/configuration.md"
        assert f'"{key}"' in help_text, f"config key {key} is not in serve --help"


def test_relative_links_resolve():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"
