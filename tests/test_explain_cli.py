"""``check --explain RULE`` on every entry point: the rule's doc, nothing rendered, exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.explain import explain
from cli import run, run_invoke

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

SCRIPT = str(Path(sys.executable).parent / "stackctl")


def script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def entry_points(rule: str, tmp_path: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """The same request through the console script, ``python -m`` and invoke.

    They run from an empty directory: explaining must not need a compose project.
    """
    return {
        "stackctl": script("check", "--explain", rule, cwd=tmp_path),
        "python -m": run(["-m", "stackctl", "check", "--explain", rule], cwd=tmp_path),
        "invoke": run_invoke(tmp_path, "check", "--explain", rule),
    }


def test_every_entry_point_prints_the_explanation_without_a_project(tmp_path: Path) -> None:
    expected = explain("PRIV-001")
    for name, result in entry_points("priv-001", tmp_path).items():
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert expected.strip() in result.stdout, name
        assert "Violation:" in result.stdout and "Fixed:" in result.stdout, name


def test_an_unknown_rule_is_a_usage_error_with_near_matches(tmp_path: Path) -> None:
    for name, result in entry_points("PRIV-01", tmp_path).items():
        assert result.returncode == 2, f"{name}: {result.stdout}{result.stderr}"
        assert "unknown rule 'PRIV-01'" in result.stderr, name
        assert "hint: did you mean PRIV-001" in result.stderr, name
        assert "Traceback" not in result.stderr and result.stdout == "", name


@pytest.mark.parametrize("rule", ["", "   "])
def test_an_empty_rule_is_a_usage_error(rule: str, tmp_path: Path) -> None:
    result = script("check", "--explain", rule, cwd=tmp_path)
    assert result.returncode == 2 and "--explain is empty" in result.stderr


def test_explain_ignores_a_project_that_could_not_render(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: [this is not a mapping\n")
    result = script("check", "--project-dir", str(tmp_path), "--explain", "EXC-001", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("EXC-001: ")


def test_explain_as_json_carries_the_rule_and_text(tmp_path: Path) -> None:
    result = script("check", "--explain", "exc-003", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["rule"] == "EXC-003"
    assert body["explain"] == explain("EXC-003")
