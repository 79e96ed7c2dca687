"""VAL-OPT-001/002 through the real compose binary, on fixture trees and on the stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli import run_stackctl
from conftest import FIXTURES, REPO
from stackctl.project.profiles import VALIDATION_MATRIX

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow


def run_validate(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_stackctl(project, "validate", *args)


def test_stack_matrix_passes_with_six_rows() -> None:
    done = run_validate(REPO, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)["results"]
    assert [(r["check_id"], r["profiles"]) for r in results] == [
        (c.check_id, c.label) for c in VALIDATION_MATRIX
    ]
    assert all(r["ok"] and not r["error"] for r in results)


def test_table_output_lists_every_combination() -> None:
    done = run_validate(REPO)
    assert done.returncode == 0
    for combination in VALIDATION_MATRIX:
        assert combination.label in done.stdout
    assert "6/6 combinations valid" in done.stdout


def test_valid_fixture_passes() -> None:
    assert run_validate(FIXTURES / "validate" / "valid").returncode == 0


@pytest.mark.parametrize(
    ("tree", "profiles", "expected_error"),
    [
        ("broken-include", "core", "infra/missing/docker-compose.yml: no such file or directory"),
        ("missing-extends", "core", 'service "no-such-template" not found in ../common.yml'),
        ("missing-variable", "core", "required variable APP_URL is missing a value"),
        ("unset-variable", "core", 'The "APP_MODE" variable is not set'),
        ("disabled-dependency", "core", 'service "app" depends on undefined service "db"'),
    ],
)
def test_broken_fixture_fails_with_compose_error(tree: str, profiles: str, expected_error: str):
    done = run_validate(FIXTURES / "validate" / tree, "--profiles", profiles)
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("VAL-OPT"))
    assert "FAIL" in row
    assert expected_error in row


def test_disabled_dependency_is_fine_when_both_profiles_are_on() -> None:
    done = run_validate(FIXTURES / "validate" / "disabled-dependency", "--profiles", "core,data")
    assert done.returncode == 0, done.stdout


def test_unknown_profile_is_a_usage_error_listing_known_ones() -> None:
    done = run_validate(FIXTURES / "validate" / "valid", "--profiles", "core,nope")
    assert done.returncode == 2
    assert "unknown profile: nope" in done.stderr
    assert "known profiles: core, data" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreadable_env_file_is_an_environment_error(tmp_path: Path) -> None:
    done = run_validate(FIXTURES / "validate" / "valid", "--env-file", str(tmp_path / "nope.env"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: env file")
    assert "hint:" in done.stderr


def test_missing_binary_is_an_environment_error(tmp_path: Path) -> None:
    env = {"PATH": "/nonexistent", "COMPOSE_BIN": str(tmp_path / "no-compose")}
    done = subprocess.run(
        [sys.executable, "-m", "stackctl", "--project-dir", str(REPO), "validate"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert "COMPOSE_BIN" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("profiles", ["core", "*"])
def test_stack_renders_without_warnings(profiles: str) -> None:
    done = run_validate(REPO, "--profiles", profiles)
    assert done.returncode == 0, done.stdout + done.stderr


def test_junit_output_parses(tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    out = tmp_path / "validate.xml"
    done = run_validate(REPO, "--format", "junit", "--output", str(out))
    assert done.returncode == 0
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert len(root.findall(".//testcase")) == len(VALIDATION_MATRIX)
