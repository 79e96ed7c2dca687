"""`check` on the real stack and on broken copies of it; the exceptions registry; reports."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from checks import exceptions
from checks.finding import Finding, Severity
from cli import run_stackctl
from conftest import REPO

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow


def run_check(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_stackctl(project, "check", *args)


@pytest.fixture(scope="module")
def stack_report() -> dict:
    done = run_check(REPO, "--format", "json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    return json.loads(done.stdout)


def test_stack_has_no_open_findings_and_no_stale_exceptions(stack_report: dict) -> None:
    findings = stack_report["findings"]
    assert [f for f in findings if not f["suppressed"]] == []
    assert not [f for f in findings if f["rule"].startswith("EXC-")]
    assert len(stack_report["combinations"]) == 6


def test_excepted_findings_stay_visible_with_reason(stack_report: dict) -> None:
    suppressed = [f for f in stack_report["findings"] if f["suppressed"]]
    assert {(f["service"], f["rule"]) for f in suppressed} >= {("loki", "LOG-001")}
    assert all("docs/adr/" in f["reason"] for f in suppressed)


def _edit(path: Path, service: str, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data["services"][service])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


BREAKAGES = {
    "privileged": (
        "infra/30-obs/grafana/docker-compose.yml",
        "grafana",
        lambda s: s.update(privileged=True),
        "PRIV-004",
        "SEC-SPC-OPT-001",
    ),
    "no cap_drop": (
        "infra/30-obs/grafana/docker-compose.yml",
        "grafana",
        # cap_drop merges as a union through extends, so leaving the template is what drops it
        lambda s: s.pop("extends"),
        "PRIV-001",
        "SEC-SPC-OPT-001",
    ),
    "literal password": (
        "infra/20-data/minio/docker-compose.yml",
        "minio",
        lambda s: s["environment"].update(MINIO_ROOT_PASSWORD="canary-literal-value"),
        "SECRET-001",
        "REQ-SPC-OPT-004",
    ),
    "no memory limit": (
        "infra/40-ai/qdrant/docker-compose.yml",
        "qdrant",
        lambda s: s.update(deploy={"resources": {"limits": {"memory": "0"}}}),
        "RES-001",
        "REQ-SPC-OPT-002",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_breaking_a_copy_produces_the_right_finding(breakage: str, copy_tree) -> None:
    relative, service, change, rule_id, requirement = BREAKAGES[breakage]
    stack = copy_tree(REPO)
    _edit(stack / relative, service, change)
    done = run_check(stack, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    hits = [f for f in report["findings"] if f["rule"] == rule_id and not f["suppressed"]]
    assert hits and all(f["requirement"] == requirement for f in hits)
    assert hits[0]["service"] == service and hits[0]["source"] == relative
    assert "canary-literal-value" not in done.stdout + done.stderr


def test_fixed_subnet_in_a_copy_is_found(copy_tree) -> None:
    stack = copy_tree(REPO)
    root = stack / "docker-compose.yml"
    data = yaml.safe_load(root.read_text())
    data["networks"]["platform"]["ipam"] = {"config": [{"subnet": "10.77.0.0/24"}]}
    root.write_text(yaml.safe_dump(data, sort_keys=False))
    done = run_check(stack, "--format", "json")
    assert done.returncode == 1
    rules = {(f["rule"], f["requirement"]) for f in json.loads(done.stdout)["findings"]}
    assert ("NET-002", "REQ-SPC-OPT-003") in rules


def test_fail_on_threshold(copy_tree) -> None:
    stack = copy_tree(REPO)
    _edit(
        stack / "infra/30-obs/grafana/docker-compose.yml", "grafana", lambda s: s.update(init=False)
    )  # PRIV-003 is medium
    assert run_check(stack).returncode == 0
    assert run_check(stack, "--fail-on", "medium").returncode == 1
    bad = run_check(stack, "--fail-on", "severe")
    assert bad.returncode == 2 and "unknown severity" in bad.stderr


def test_sarif_validates_against_the_2_1_0_schema(tmp_path: Path, sarif_schema: dict) -> None:
    import jsonschema

    out = tmp_path / "checks.sarif"
    assert run_check(REPO, "--format", "sarif", "--output", str(out)).returncode == 0
    log = json.loads(out.read_text())
    jsonschema.validate(log, sarif_schema)
    run = log["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"PRIV-001", "SECRET-001", "EXC-003"} <= rule_ids
    fingerprints = [r["partialFingerprints"]["stackctlFinding/v1"] for r in run["results"]]
    assert len(fingerprints) == len(set(fingerprints))
    assert all(r.get("suppressions") for r in run["results"])  # only excepted ones on the stack


def test_sarif_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    first = json.loads(run_check(REPO, "--format", "sarif").stdout)
    second = json.loads(run_check(REPO, "--format", "sarif").stdout)
    prints = lambda log: [r["partialFingerprints"] for r in log["runs"][0]["results"]]  # noqa: E731
    assert prints(first) == prints(second)


def test_junit_parses_and_has_one_case_per_rule(tmp_path: Path) -> None:
    out = tmp_path / "checks.xml"
    assert run_check(REPO, "--format", "junit", "--output", str(out)).returncode == 0
    root = ET.parse(out).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) >= 33 and not root.findall(".//failure")


def test_table_groups_by_requirement_and_traces_the_spec() -> None:
    done = run_check(REPO)
    assert done.returncode == 0
    assert "Spec traceability" in done.stdout
    for requirement in (
        "REQ-SPC-OPT-001",
        "REQ-SPC-OPT-002",
        "REQ-SPC-OPT-003",
        "REQ-SPC-OPT-004",
        "SEC-SPC-OPT-001",
    ):
        assert re.search(rf"^{requirement}\s+\S+", done.stdout, re.MULTILINE)


# -- registry -----------------------------------------------------------------


def _finding(service: str = "db", rule: str = "PRIV-005", subject: str = "CHOWN") -> Finding:
    return Finding(
        rule, "SEC-SPC-OPT-001", Severity.HIGH, service, "adds", "hint", "x.yml", subject=subject
    )


def _entry(**overrides) -> dict:
    entry = {
        "service": "db",
        "rule": "PRIV-005",
        "subjects": ["CHOWN"],
        "relaxes": "cap_add",
        "rationale": "needed",
        "adr": "docs/adr/0002-entrypoint-capabilities.md",
    }
    entry.update(overrides)
    return entry


def test_live_waiver_suppresses_only_its_subject() -> None:
    parsed, problems = exceptions.parse([_entry()], REPO)
    assert not problems
    result = exceptions.apply(
        [_finding(), _finding(subject="SYS_ADMIN")], parsed, dt.date(2026, 1, 1)
    )
    assert [f.suppressed for f in result] == [True, False]


def test_expired_waiver_fails_and_stops_suppressing() -> None:
    parsed, _ = exceptions.parse([_entry(expires="2020-01-01")], REPO)
    result = exceptions.apply([_finding()], parsed, dt.date(2026, 1, 1))
    assert not result[0].suppressed
    assert [f.rule_id for f in result[1:]] == ["EXC-002"] and result[1].severity == Severity.HIGH


def test_stale_waiver_is_reported() -> None:
    parsed, _ = exceptions.parse([_entry(service="ghost")], REPO)
    result = exceptions.apply([_finding()], parsed, dt.date(2026, 1, 1))
    assert [f.rule_id for f in result if f.rule_id.startswith("EXC")] == ["EXC-003"]


@pytest.mark.parametrize(
    "entry",
    [
        _entry(adr="docs/adr/9999-missing.md"),
        _entry(rationale=""),
        _entry(expires="soon"),
        {k: v for k, v in _entry().items() if k != "rule"},
    ],
)
def test_incomplete_entries_are_findings(entry: dict) -> None:
    parsed, problems = exceptions.parse([entry], REPO)
    assert not parsed and [p.rule_id for p in problems] == ["EXC-001"]


def test_stale_exception_in_a_copy_fails_nothing_but_is_reported(copy_tree) -> None:
    stack = copy_tree(REPO)
    registry = stack / "infra/exceptions.yml"
    data = yaml.safe_load(registry.read_text())
    data["exceptions"].append(_entry(service="grafana"))
    registry.write_text(yaml.safe_dump(data))
    done = run_check(stack, "--format", "json")
    rules = [f["rule"] for f in json.loads(done.stdout)["findings"]]
    assert "EXC-003" in rules


def test_a_typo_in_the_registry_cannot_hide_a_new_capability(copy_tree) -> None:
    """The reported story: `subject:` for `subjects:` once excepted a new SYS_ADMIN."""
    stack = copy_tree(REPO)
    _edit(
        stack / "infra/70-tooling/pgadmin/docker-compose.yml",
        "pgadmin",
        lambda s: s.setdefault("cap_add", []).append("SYS_ADMIN"),
    )
    registry = stack / "infra/exceptions.yml"
    text = registry.read_text()
    assert text.count("    subjects: [NET_BIND_SERVICE]") == 1
    registry.write_text(
        text.replace("    subjects: [NET_BIND_SERVICE]", "    subject: [NET_BIND_SERVICE]")
    )
    done = run_check(stack, "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    sys_admin = [f for f in findings if f["rule"] == "PRIV-005" and f["subject"] == "SYS_ADMIN"]
    assert sys_admin and not any(f["suppressed"] for f in sys_admin)
    (problem,) = [f for f in findings if f["rule"] == "EXC-001"]
    assert "did you mean 'subjects'" in problem["message"]
