"""Compose warnings become findings: real texts from the real compose binary, located."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checks.catalogue import rules_of_kind
from checks.finding import Severity
from checks.stack import ProjectFacts
from checks.warnings import (
    classify,
    compose_message,
    findings_from_warnings,
    render_failure_finding,
)

COMPOSE = str(Path(sys.executable).parent / "docker-compose")
TODAY = dt.date(2026, 6, 1)

# One file, not in our layout, with a warning of every kind compose has for plain files.
DRIFTED = """\
version: "3.8"
services:
  app:
    image: busybox:1.37.0
    environment:
      GREETING: ${UNSET_GREETING}
    ports:
      - {target: 80, published: "8080", mode: host}
    deploy:
      labels: {team: platform}
      placement: {constraints: ["node.role==manager"]}
      update_config: {parallelism: 1}
    secrets:
      - source: token
        uid: "1000"
        gid: "1000"
        mode: 0400
secrets:
  token: {file: ./token, labels: {owner: platform}}
networks:
  outside: {external: {name: shared}}
"""


def compose_warnings(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMPOSE, "--project-directory", str(directory), *args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
    )


def line_of(text: str, pattern: str) -> int:
    """The first line of ``text`` matching ``pattern``: computed here independently."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


@pytest.fixture
def drifted(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "docker-compose.yml").write_text(DRIFTED, encoding="utf-8")
    (tmp_path / "token").write_text("not-a-real-token\n", encoding="utf-8")
    done = compose_warnings(tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path, [line for line in done.stderr.splitlines() if line.strip()]


def test_every_warning_line_becomes_exactly_one_finding(drifted) -> None:
    directory, lines = drifted
    assert len(lines) >= 9, lines  # compose did warn about each drifted key
    findings = findings_from_warnings(lines, ProjectFacts.read(directory), ("*",))
    assert len(findings) == len(lines)
    assert all(f.message and f.source == "docker-compose.yml" for f in findings)


def test_swarm_only_keys_are_high_and_located(drifted) -> None:
    directory, lines = drifted
    findings = findings_from_warnings(lines, ProjectFacts.read(directory), ("*",))
    swarm = {f.subject: f for f in findings if f.rule_id == "COMPOSE-001"}
    assert {
        "deploy.labels",
        "deploy.placement",
        "deploy.update_config",
        "secrets.token.uid",
        "secrets.token.gid",
        "secrets.token.mode",
        "secrets.token.labels",
        "ports[80/tcp].mode",
    } <= set(swarm)
    assert all(f.severity.label == "high" for f in swarm.values())
    assert swarm["deploy.labels"].service == "app"
    assert swarm["secrets.token.labels"].service == ""
    expected = {
        "deploy.labels": r"^\s+labels: \{team",
        "deploy.placement": r"^\s+placement:",
        "deploy.update_config": r"^\s+update_config:",
        "secrets.token.uid": r"^\s+uid:",
        "secrets.token.mode": r"^\s+mode: 0400",
        "secrets.token.labels": r"^\s+token: \{file",
        "ports[80/tcp].mode": r"mode: host",
    }
    for subject, pattern in expected.items():
        assert swarm[subject].line == line_of(DRIFTED, pattern), subject


def test_obsolete_version_is_low_and_unset_variable_medium(drifted) -> None:
    directory, lines = drifted
    by_rule: dict[str, list] = {}
    for finding in findings_from_warnings(lines, ProjectFacts.read(directory), ()):
        by_rule.setdefault(finding.rule_id, []).append(finding)
    version = next(f for f in by_rule["COMPOSE-002"] if f.subject.startswith("version"))
    assert version.severity.label == "low" and version.line == line_of(DRIFTED, r"^version:")
    external = next(f for f in by_rule["COMPOSE-002"] if f.subject == "networks.outside")
    assert "external.name" in external.message
    assert external.line == line_of(DRIFTED, r"^\s+outside:")
    (unset,) = by_rule["COMPOSE-003"]
    assert unset.subject == "UNSET_GREETING" and unset.severity.label == "medium"
    assert unset.line == line_of(DRIFTED, r"UNSET_GREETING")


def test_a_key_set_in_an_extended_template_is_found_there(tmp_path: Path) -> None:
    template = "services:\n  base:\n    image: busybox:1.37.0\n    deploy:\n      labels: {a: b}\n"
    (tmp_path / "infra" / "web").mkdir(parents=True)
    (tmp_path / "infra" / "templates.yml").write_text(template, encoding="utf-8")
    (tmp_path / "infra" / "web" / "docker-compose.yml").write_text(
        "services:\n  web:\n    extends: {file: ../templates.yml, service: base}\n",
        encoding="utf-8",
    )
    (tmp_path / "docker-compose.yml").write_text(
        "include: [infra/web/docker-compose.yml]\n", encoding="utf-8"
    )
    done = compose_warnings(tmp_path)
    (finding,) = findings_from_warnings(done.stderr.splitlines(), ProjectFacts.read(tmp_path), ())
    assert (finding.rule_id, finding.service) == ("COMPOSE-001", "web")
    assert (finding.source, finding.line) == ("infra/templates.yml", 5)


def test_the_same_warning_from_several_combinations_is_one_finding(drifted) -> None:
    directory, lines = drifted
    facts = ProjectFacts.read(directory)
    once = findings_from_warnings(lines, facts, ("a",))
    assert findings_from_warnings(lines + lines, facts, ("a", "b")) == once


def test_unknown_warning_texts_are_kept_with_compose_s_own_line() -> None:
    line = 'time="2026-01-01T00:00:00Z" level=warning msg="something \\"new\\" happened"'
    finding = classify(line, ProjectFacts())
    assert finding is not None and finding.rule_id == "COMPOSE-009"
    assert finding.message == 'something "new" happened'


def test_tty_form_is_understood() -> None:
    line = (
        'WARN[0000] service "app": deploy.labels: deploy.labels are only applied to Swarm services'
    )
    assert compose_message(line).startswith('service "app"')
    finding = classify(line, ProjectFacts())
    assert finding is not None and (finding.rule_id, finding.service) == ("COMPOSE-001", "app")


def test_blank_lines_are_not_findings() -> None:
    assert findings_from_warnings(["", "   "], ProjectFacts(), ()) == []


def test_a_combination_that_cannot_render_carries_compose_s_line(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  api: {image: busybox:1.37.0, depends_on: [cache]}\n"
        "  cache: {image: busybox:1.37.0, profiles: [data]}\n",
        encoding="utf-8",
    )
    done = compose_warnings(tmp_path)
    assert done.returncode != 0
    error = next(line for line in done.stderr.splitlines() if line.strip())
    finding = render_failure_finding((), error)
    assert finding.rule_id == "RENDER-001" and finding.severity.label == "high"
    assert "depends on undefined service" in finding.message and "cache" in finding.message
    assert finding.subject == "(no profile)"
    other = render_failure_finding(("data",), error, source="compose.yaml")
    assert other.fingerprint != finding.fingerprint and other.source == "compose.yaml"


def test_warning_rules_are_documented() -> None:
    for info in rules_of_kind("compose").values():
        assert info.doc and info.hint and info.requirement.startswith("VAL-OPT-")


# -- through the engine: warnings beside the other findings ---------------------------


def render_model(directory: Path) -> dict:
    import json

    done = compose_warnings(directory)
    return json.loads(done.stdout)


def test_a_foreign_single_file_project_fails_with_warnings_beside_other_findings(
    drifted,
) -> None:
    from checks.evaluator import evaluate

    directory, lines = drifted
    facts = ProjectFacts.read(directory)
    warnings = findings_from_warnings(lines, facts, ())
    evaluation = evaluate(
        [facts.stack(render_model(directory), ())], compose_findings=warnings, today=TODAY
    )
    rules = {f.rule_id for f in evaluation.failing(Severity.HIGH)}
    assert {"COMPOSE-001", "PRIV-001", "ROOT-001"} <= rules  # warnings and model rules
    assert "COMPOSE-002" in {f.rule_id for f in evaluation.open_findings}


def test_a_compose_warning_can_be_excepted_and_names_are_checked_against_the_project(
    drifted, tmp_path: Path
) -> None:
    from checks import exceptions
    from checks.evaluator import evaluate

    directory, lines = drifted
    (directory / "docs").mkdir()
    (directory / "docs" / "adr.md").write_text("# why\n", encoding="utf-8")
    entries = [
        {
            "service": "app",
            "rule": "COMPOSE-001",
            "subjects": ["deploy.labels"],
            "relaxes": "labels for a future Swarm deployment",
            "rationale": "kept on purpose",
            "adr": "docs/adr.md",
        },
        {
            "service": "ap",
            "rule": "COMPOSE-001",
            "subjects": ["*"],
            "relaxes": "x",
            "rationale": "y",
            "adr": "docs/adr.md",
        },
    ]
    parsed, problems = exceptions.parse(entries, directory)
    assert problems == []
    facts = ProjectFacts.read(directory)
    evaluation = evaluate(
        [facts.stack(render_model(directory), ())],
        parsed,
        compose_findings=findings_from_warnings(lines, facts, ()),
        today=TODAY,
    )
    suppressed = [f for f in evaluation.findings if f.suppressed]
    assert [(f.rule_id, f.subject) for f in suppressed] == [("COMPOSE-001", "deploy.labels")]
    assert suppressed[0].suppressed_relaxes == "labels for a future Swarm deployment"
    (unknown,) = [f for f in evaluation.findings if f.rule_id == "EXC-001"]
    assert "unknown service 'ap'" in unknown.message and "did you mean 'app'" in unknown.message
    assert not [f for f in evaluation.findings if f.rule_id == "EXC-003"]
