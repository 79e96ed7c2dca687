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


def test_one_selection_failing_leaves_the_others_checked() -> None:
    done = run_stackctl(SELECTIONS / "partial", "check", "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    failures = [f["message"] for f in findings if "do not render" in f["message"]]
    compose_line = "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'"
    assert any("core,data,obs,tooling" in m and compose_line in m for m in failures)
    # web (core) is in every selection that renders: it is still checked
    assert any(f["rule"] == "PRIV-004" and f["service"] == "web" for f in findings)
    assert len(failures) == 2  # "*" and core,data,obs,tooling, each once


def test_nothing_renders_is_an_environment_error() -> None:
    done = run_stackctl(SELECTIONS / "nothing", "check")
    assert done.returncode == 2
    assert done.stderr.startswith("error: nothing could be rendered")
    assert "no such file or directory" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_render_failures_reach_junit_and_sarif() -> None:
    from xml.etree import ElementTree as ET

    partial = SELECTIONS / "partial"
    junit = ET.fromstring(run_stackctl(partial, "check", "--format", "junit").stdout)
    failures = [
        case.find("failure").text or ""
        for case in junit.iter("testcase")
        if case.find("failure") is not None
    ]
    assert any("core,data,obs,tooling do not render" in message for message in failures)
    sarif = json.loads(run_stackctl(partial, "check", "--format", "sarif").stdout)
    run = sarif["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    render_results = [r for r in run["results"] if "do not render" in r["message"]["text"]]
    assert render_results
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in render_results)
