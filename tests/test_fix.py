"""``fix`` on small projects in the shapes teams write, run in-process as the runner runs it.

Each project is copied from tests/fixtures/fix/, fixed with ``--apply``, and then
held to the promise: no finding is left marked fixable, every selection still
renders, no comment is lost, files the fix did not need are byte-identical, and a
second ``fix`` proposes nothing. A fix whose re-check fails is rolled back.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checks import fixes
from checks.fixes import comments
from conftest import FIXTURES
from stackctl.commands import all_commands
from stackctl.commands.check import CheckOutcome
from stackctl.commands.fix import FixOutcome
from stackctl.project.render import render_cache
from stackctl.reporting import Outcome, format_report

SHAPES = {
    # name: (compose files given with -f, env file)
    "single": ((), None),
    "override": (("compose.yaml", "compose.override.yaml"), None),
    "dotenv": ((), ".env"),
    "included": ((), None),
}


def command(
    name: str, project: Path, files: tuple[str, ...], env: str | None, **flags: Any
) -> Outcome:
    """Parse and run a command the way the runner does (inside one render cache)."""
    declared = all_commands()[name]
    raw: dict[str, Any] = {o.name: (False if o.kind == "flag" else None) for o in declared.options}
    raw.update(project_dir=str(project), file=list(files) or None, env_file=env, **flags)
    with render_cache():
        return declared.run(declared.parse(raw))


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("shape", list(SHAPES))
def test_fix_apply_leaves_nothing_fixable_and_keeps_every_comment(shape: str, copy_tree) -> None:
    project = copy_tree(FIXTURES / "fix" / shape, shape)
    files, env = SHAPES[shape]
    before = snapshot(project)

    proposed = command("fix", project, files, env)
    assert isinstance(proposed, FixOutcome) and proposed.plan is not None
    assert proposed.exit_code == 1 and proposed.plan.proposals, proposed.as_table()
    assert snapshot(project) == before  # the diff alone writes nothing

    applied = command("fix", project, files, env, apply=True)
    assert isinstance(applied, FixOutcome) and applied.proven is not None
    assert applied.exit_code == 0 and not applied.proven.refused, applied.as_table()
    after = snapshot(project)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {p.file for p in applied.proven.kept}
    for name in before:
        if name.endswith((".yaml", ".yml")):
            assert not comments(before[name].decode()) - comments(after[name].decode()), name

    checked = command("check", project, files, env)
    assert isinstance(checked, CheckOutcome)
    assert not checked.fixes, [f.rule_id for f in checked.evaluation.findings]
    assert not any(f.rule_id == "RENDER-001" for f in checked.evaluation.findings)
    assert not [
        f for f in checked.evaluation.open_findings if f.fingerprint in applied.plan.finding_fixes()
    ]

    again = command("fix", project, files, env)
    assert isinstance(again, FixOutcome) and again.plan is not None
    assert again.exit_code == 0 and not again.plan.proposals
    assert snapshot(project) == after


def test_the_shared_template_is_fixed_once_and_services_defined_elsewhere_keep_their_files(
    copy_tree,
) -> None:
    project = copy_tree(FIXTURES / "fix" / "override", "override")
    outcome = command("fix", project, SHAPES["override"][0], None)
    assert isinstance(outcome, FixOutcome) and outcome.plan is not None
    by_rule = {p.rule_id: p for p in outcome.plan.proposals if p.rule_id != "HYG-002"}
    # api and db share templates.yaml, so no-new-privileges and init land there once ...
    assert by_rule["PRIV-002"].file == by_rule["PRIV-003"].file == "templates.yaml"
    assert len(by_rule["PRIV-003"].findings) == 2
    # ... but cap_drop ALL would stop db (its image's facts say it needs root's
    # capabilities), so it goes to api alone, in the file that defines api
    assert by_rule["PRIV-001"].file == "compose.yaml"
    assert [f.service for f in by_rule["PRIV-001"].findings] == ["api"]
    (refusal,) = [r for r in outcome.plan.refusals if r.finding.rule_id == "PRIV-001"]
    assert refusal.finding.service == "db" and "SETUID" in refusal.reason
    # the ports are written in the override file, so that is where they are bound
    ports = [p for p in outcome.plan.proposals if p.rule_id == "HYG-002"]
    assert {p.file for p in ports} == {"compose.override.yaml"}


def test_a_value_a_person_wrote_through_a_variable_is_left_with_the_reason(copy_tree) -> None:
    project = copy_tree(FIXTURES / "fix" / "dotenv", "dotenv")
    outcome = command("fix", project, (), ".env")
    assert isinstance(outcome, FixOutcome) and outcome.plan is not None
    (refusal,) = [r for r in outcome.plan.refusals if r.finding.rule_id == "PRIV-003"]
    assert "a person chose it" in refusal.reason
    # a project without the platform's templates gets no size or logging offered
    others = {r.finding.rule_id: r.reason for r in outcome.plan.refusals if r is not refusal}
    assert others.keys() == {"RES-001", "LOG-001"}
    assert "no Loki logging template" in others["LOG-001"]
    assert "not fixed: PRIV-003 shop" in outcome.as_table()


def _failing(monkeypatch: pytest.MonkeyPatch, value: str | bool) -> None:
    """Make the init fixer write ``init: <value>``: a fix the re-check must refuse."""
    broken = replace(fixes.SERVICE_VALUES["PRIV-003"], value=value)
    monkeypatch.setitem(fixes.SERVICE_VALUES, "PRIV-003", broken)


@pytest.mark.parametrize(
    ("value", "why"),
    [("sometimes", "no longer checks"), (False, "PRIV-003 is still reported")],
    ids=["breaks-the-render", "repairs-nothing"],
)
def test_a_fix_the_recheck_refuses_is_rolled_back_byte_for_byte(
    value: str | bool, why: str, copy_tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_tree(FIXTURES / "fix" / "single", "single")
    before = snapshot(project)
    _failing(monkeypatch, value)
    outcome = command("fix", project, (), None, apply=True, select=["PRIV-003"])
    assert isinstance(outcome, FixOutcome) and outcome.proven is not None
    assert outcome.exit_code == 1 and not outcome.proven.kept
    assert all(why in reason for _, reason in outcome.proven.refused), outcome.proven.refused
    assert snapshot(project) == before
    report = json.loads(format_report(outcome, "json"))
    assert {c["status"] for c in report["changes"]} == {"refused"}


def test_one_bad_fix_does_not_take_the_good_ones_with_it(
    copy_tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_tree(FIXTURES / "fix" / "single", "single")
    _failing(monkeypatch, "sometimes")
    outcome = command("fix", project, (), None, apply=True)
    assert isinstance(outcome, FixOutcome) and outcome.proven is not None
    assert {p.rule_id for p, _ in outcome.proven.refused} == {"PRIV-003"}
    assert {p.rule_id for p in outcome.proven.kept} == {
        "PRIV-001",
        "PRIV-002",
        "HYG-002",
        "COMPOSE-002",
    }
    text = (project / "compose.yaml").read_text()
    assert "init:" not in text and "cap_drop" in text and "version" not in text
    assert "  edge:\n    external: true   # do not rename\n    name: ops-edge\n" in text


def test_fix_speaks_json_and_check_marks_fixable_findings(copy_tree) -> None:
    project = copy_tree(FIXTURES / "fix" / "included", "included")
    outcome = command("fix", project, (), None, select=["PRIV-002"])
    report = json.loads(format_report(outcome, "json"))
    (change,) = report["changes"]
    assert change["file"] == "common.yaml" and change["status"] == "proposed"
    assert {f["service"] for f in change["findings"]} == {"api", "worker"}
    assert change["diff"].startswith("--- a/common.yaml\n+++ b/common.yaml\n")
    checked = json.loads(format_report(command("check", project, (), None), "json"))
    fixable = {(f["rule"], f["service"]) for f in checked["findings"] if f["fixable"]}
    assert fixable == {
        ("PRIV-002", "api"),
        ("PRIV-002", "worker"),
        ("LOG-001", "api"),
        ("LOG-001", "worker"),
        ("RES-001", "api"),
    }
    table = format_report(command("check", project, (), None), "table")
    assert "fixable" in table and "7 fixable by `stackctl fix`" in table  # RES-001: 3 limits


def test_sizes_and_logging_come_from_the_platform_templates(copy_tree) -> None:
    project = copy_tree(FIXTURES / "fix" / "included", "included")
    outcome = command("fix", project, (), None, apply=True, select=["RES-001", "LOG-001"])
    assert isinstance(outcome, FixOutcome) and outcome.exit_code == 0, outcome.as_table()
    api = (project / "services/api/compose.yaml").read_text()
    assert "extends: {file: ../../common.yaml, service: small}" in api  # the smallest size
    common = (project / "common.yaml").read_text()
    assert "  base:\n    init: true\n    cap_drop: [ALL]\n    restart: unless-stopped\n" in common
    assert "restart: unless-stopped\n    extends: logging-loki\n" in common
    # worker extends job, which no size template extends: nothing to offer, said once
    assert outcome.as_table().count("not fixed: RES-001 worker: no size template extends") == 1


def test_check_sarif_with_fixes_validates(copy_tree, sarif_schema: dict) -> None:
    import jsonschema

    project = copy_tree(FIXTURES / "fix" / "single", "single")
    log = json.loads(format_report(command("check", project, (), None), "sarif"))
    jsonschema.validate(log, sarif_schema)
    fixed = [r for r in log["runs"][0]["results"] if "fixes" in r]
    assert {r["ruleId"] for r in fixed} == {
        "PRIV-001",
        "PRIV-002",
        "PRIV-003",
        "HYG-002",
        "COMPOSE-002",
    }
    (version,) = [r for r in fixed if "version" in r["message"]["text"]]
    (change,) = version["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "compose.yaml"
    (replacement,) = change["replacements"]
    assert replacement["deletedRegion"]["startLine"] == 1
    assert replacement["insertedContent"]["text"] == "# left from compose v1\n"


def test_fix_repairs_only_the_rules_the_project_chose(copy_tree) -> None:
    """Without a config a project is judged by the portable set: no platform convention
    (init, the size and logging templates) is written into it."""
    project = copy_tree(FIXTURES / "fix" / "single", "single")
    (project / ".stackctl.toml").unlink()
    proposed = command("fix", project, (), None)
    assert isinstance(proposed, FixOutcome) and proposed.plan is not None
    repaired = {p.rule_id for p in proposed.plan.proposals}
    assert repaired, proposed.as_table()
    assert "PRIV-003" not in repaired and "LOG-001" not in repaired and "RES-001" not in repaired
