"""Warnings become findings; a selection that cannot render is one; the rest is checked."""

from __future__ import annotations

import json

import pytest

from cli import run_stackctl
from conftest import FIXTURES

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

SELECTIONS = FIXTURES / "selections"


def test_warnings_are_findings_beside_the_others() -> None:
    done = run_stackctl(SELECTIONS / "swarm-warnings", "check", "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    messages = [f["message"] for f in findings]
    assert any(f["rule"] == "COMPOSE-002" and "version" in f["message"] for f in findings)
    assert any("deploy.labels are only applied to Swarm services" in m for m in messages)
    assert any(f["rule"] == "PRIV-004" for f in json.loads(done.stdout)["findings"])


def test_warnings_show_in_the_table() -> None:
    done = run_stackctl(SELECTIONS / "swarm-warnings", "check")
    assert done.returncode == 1
    assert "deploy.placement is only honored by the Swarm scheduler" in done.stdout
    assert "runs privileged" in done.stdout


def test_validate_stays_strict_on_warnings() -> None:
    done = run_stackctl(SELECTIONS / "swarm-warnings", "validate")
    assert done.returncode == 1
    row = next(line for line in done.stdout.splitlines() if line.startswith("VAL-OPT-001"))
    assert "FAIL" in row and "the attribute `version` is obsolete" in row


def test_a_failing_full_render_stops_the_run_in_one_line() -> None:
    # Every selection loads the same files: none is rendered after the full one fails.
    done = run_stackctl(SELECTIONS / "partial", "check", "--format", "json")
    assert done.returncode == 2, done.stderr
    compose_line = "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'"
    assert done.stderr.startswith("error: the full model (--profile '*') does not render")
    assert compose_line in done.stderr and "hint:" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2 and done.stdout == ""


def test_nothing_renders_is_an_environment_error() -> None:
    done = run_stackctl(SELECTIONS / "nothing", "check")
    assert done.returncode == 2
    assert done.stderr.startswith("error: the full model (--profile '*') does not render")
    assert "no such file or directory" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_render_failures_reach_junit_and_sarif() -> None:
    from xml.etree import ElementTree as ET

    # core alone cannot render: app needs cache, of data (the full model renders)
    invalid = ("--profiles", "core")
    partial = SELECTIONS / "cross-profile"
    junit = ET.fromstring(run_stackctl(partial, "check", *invalid, "--format", "junit").stdout)
    failures = [
        case.find("failure").text or ""
        for case in junit.iter("testcase")
        if case.find("failure") is not None
    ]
    assert any("profiles core do not render" in message for message in failures)
    sarif = json.loads(run_stackctl(partial, "check", *invalid, "--format", "sarif").stdout)
    run = sarif["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    render_results = [r for r in run["results"] if "do not render" in r["message"]["text"]]
    assert render_results
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in render_results)
