"""Adoption as a user types it: `stackctl baseline` then `stackctl check`, `invoke baseline`,
the rule flags on `gate`, and what the report's header says. Real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli import run_invoke
from conftest import FIXTURES

# Every test here starts stackctl or invoke.
pytestmark = pytest.mark.slow

SCRIPT = str(Path(sys.executable).parent / "stackctl")
PRIVILEGED = "  tools:\n    image: busybox:1.36\n    privileged: true\n"


def project(tmp_path: Path, name: str = "app-db") -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / "adoption" / name, root)
    return root


def stackctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args, "--project-dir", str(root)],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_baseline_then_check_passes_until_a_privileged_service_is_added(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert stackctl(root, "check", "--fail-on", "low").returncode == 1
    written = stackctl(root, "baseline")
    assert written.returncode == 0, written.stdout + written.stderr
    assert "wrote .stackctl-baseline.json" in written.stdout
    accepted = stackctl(root, "check", "--fail-on", "low")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "baseline:      .stackctl-baseline.json" in accepted.stdout
    compose = root / "compose.yaml"
    compose.write_text(compose.read_text().replace("\nsecrets:", f"{PRIVILEGED}\nsecrets:", 1))
    added = stackctl(root, "check", "--format", "json")
    assert added.returncode == 1, added.stdout + added.stderr
    open_ = [f for f in json.loads(added.stdout)["findings"] if not f["suppressed"]]
    assert {(f["rule"], f["service"], f["severity"]) for f in open_} >= {
        ("PRIV-004", "tools", "critical")
    }
    assert {f["service"] for f in open_} == {"tools"}


def test_invoke_baseline_writes_the_same_file(tmp_path: Path) -> None:
    root = project(tmp_path, "plain")
    done = run_invoke(root, "baseline", "--project-dir", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads((root / ".stackctl-baseline.json").read_text())
    assert body["schema_version"] == 1 and body["findings"]


def test_gate_takes_the_rule_flags_and_the_header_names_files_and_env(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = stackctl(root, "gate", "--select", "PRIV", "--ignore", "PRIV-002", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    checked = json.loads(done.stdout)["check"]
    assert {f["rule"] for f in checked["findings"]} == {"PRIV-001"}
    shown = checked["checked"]
    assert shown["compose_files"] == ["compose.yaml", "compose.override.yaml"]
    assert shown["env_file"] is None and shown["env_origin"] == "none (no .env.example)"
    assert shown["rule_set"] == "portable" and "PRIV-002" not in shown["rules"]


def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path, "plain")
    (root / ".stackctl.toml").write_text('select = ["PRIV"]\nignroe = ["RES"]\n')
    done = stackctl(root, "check")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "unknown key 'ignroe' (did you mean 'ignore'?)" in done.stderr
