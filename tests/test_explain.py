"""``--explain``: every rule has a doc, a violation and its fix, and the examples are true."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from checks import exceptions
from checks.catalogue import model_rules, rule_catalogue, rules_of_kind
from checks.evaluator import run_rules
from checks.explain import UnknownRule, explain
from checks.stack import ProjectFacts
from checks.warnings import findings_from_warnings, render_failure_finding
from cli import run
from conftest import REPO
from rule_fixtures import build_stack

CATALOGUE = rule_catalogue()
MODEL_RULES = model_rules()
COMPOSE = str(Path(sys.executable).parent / "docker-compose")
# Examples about files, .env.example or the layout cannot be one compose file.
NOT_A_SINGLE_FILE = {"HYG-005", "ROOT-002", "ROOT-003", "ROOT-004", "COMPOSE-009"}
# Compose refuses these violations while loading, so they are checked as models.
MODEL_ONLY = {"HEALTH-004", "SECRET-004"}


# Runtime checks judge a running container, which no compose snippet can show.
RUNTIME_RULES = sorted(rules_of_kind("runtime"))


@pytest.mark.parametrize("rule_id", sorted(set(CATALOGUE) - set(RUNTIME_RULES)))
def test_every_rule_explains_itself_with_a_violation_and_a_fix(rule_id: str) -> None:
    text = explain(rule_id)
    info = CATALOGUE[rule_id]
    assert text.startswith(f"{rule_id}: {info.title}")
    assert info.doc in text and f"Fix: {info.hint}" in text
    assert "Violation:" in text and "Fixed:" in text


@pytest.mark.parametrize("rule_id", RUNTIME_RULES)
def test_every_runtime_rule_explains_itself(rule_id: str) -> None:
    text = explain(rule_id)
    info = CATALOGUE[rule_id]
    assert text.startswith(f"{rule_id}: {info.title}")
    assert f"requirement {info.requirement}, severity {info.severity.label}" in text
    assert info.doc in text and f"Fix: {info.hint}" in text


@pytest.mark.slow
def test_explain_prints_a_runtime_rule_as_a_process(tmp_path: Path) -> None:
    """``python -m stackctl check --explain RUN-004``, from a directory with no project."""
    done = run(["-m", "stackctl", "check", "--explain", "run-004"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == explain("RUN-004")
    assert CATALOGUE["RUN-004"].doc in done.stdout


def test_rule_ids_are_matched_in_any_case() -> None:
    assert explain(" priv-001 ") == explain("PRIV-001")


def test_an_unknown_rule_names_the_closest_ones() -> None:
    with pytest.raises(UnknownRule, match=r"unknown rule 'PRIV-01'.*PRIV-001"):
        explain("PRIV-01")
    with pytest.raises(UnknownRule, match=r"docs/rules\.md"):
        explain("nothing-like-it")


def _case(rule_id: str, snippet: str) -> dict:
    data = yaml.safe_load(snippet)
    return {"model": data} if rule_id in MODEL_ONLY else {"compose": data}


@pytest.mark.parametrize("rule_id", sorted(set(MODEL_RULES) - NOT_A_SINGLE_FILE - {"ROOT-001"}))
def test_model_rule_examples_violate_and_their_fixes_pass(rule_id: str, tmp_path: Path) -> None:
    rule = MODEL_RULES[rule_id]
    bad = build_stack(_case(rule_id, rule.example), tmp_path / "bad")
    good = build_stack(_case(rule_id, rule.fixed), tmp_path / "good")
    assert list(run_rules(bad, [rule])), f"{rule_id}: its example does not violate it"
    assert list(run_rules(good, [rule])) == [], f"{rule_id}: its fixed example still fails"


def _compose(directory: Path, text: str) -> subprocess.CompletedProcess[str]:
    directory.mkdir(parents=True)
    (directory / "docker-compose.yml").write_text(text, encoding="utf-8")
    return subprocess.run(
        [COMPOSE, "--project-directory", str(directory), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
    )


@pytest.mark.parametrize("rule_id", ["COMPOSE-001", "COMPOSE-002", "COMPOSE-003"])
def test_warning_examples_make_compose_warn_and_their_fixes_do_not(
    rule_id: str, tmp_path: Path
) -> None:
    info = CATALOGUE[rule_id]
    for name, snippet, expected in (("bad", info.example, True), ("good", info.fixed, False)):
        done = _compose(tmp_path / name, snippet)
        facts = ProjectFacts.read(tmp_path / name)
        found = findings_from_warnings(done.stderr.splitlines(), facts, ())
        assert (rule_id in {f.rule_id for f in found}) is expected, (name, done.stderr)


def test_render_example_fails_to_render_and_its_fix_renders(tmp_path: Path) -> None:
    info = CATALOGUE["RENDER-001"]
    bad = _compose(tmp_path / "bad", info.example)
    assert bad.returncode != 0
    assert "cache" in render_failure_finding((), bad.stderr.splitlines()[0]).message
    assert _compose(tmp_path / "good", info.fixed).returncode == 0


def _registry_rules(snippet: str) -> list[str]:
    entries = exceptions.read_registry(snippet)["exceptions"]
    parsed, problems = exceptions.parse(entries, REPO)
    result = exceptions.apply([], parsed, dt.date(2026, 6, 1), rendered_services={"grafana"})
    return [f.rule_id for f in [*problems, *result]]


@pytest.mark.parametrize("rule_id", ["EXC-001", "EXC-002", "EXC-003"])
def test_registry_examples_fail_and_their_fixes_do_not(rule_id: str) -> None:
    info = CATALOGUE[rule_id]
    assert rule_id in _registry_rules(info.example)
    assert rule_id not in _registry_rules(info.fixed)


def test_image_rule_examples_show_the_facts_they_assume_apart_from_compose() -> None:
    text = explain("IMG-004")
    facts_at = text.index("Image facts assumed (records in infra/image-facts/):")
    assert facts_at < text.index("Violation:") < text.index("Fixed:")
    assert '- image: "example/app:1.0"' in text[facts_at:]
    assert "x-image-facts" not in text
    # Different facts for the violation and the fix are shown under each.
    differing = explain("IMG-002")
    assert differing.count("Image facts assumed") == 2
    assert "sources: {" not in differing.split("Fixed:")[0].split("Violation:")[1]
