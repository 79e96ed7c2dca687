"""The exceptions registry is strict: a typo never widens an exception, it is EXC-001."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import exceptions
from checks.catalogue import rule_catalogue
from checks.finding import Finding, Severity
from checks.stack import ProjectFacts
from conftest import REPO
from stackctl.reporting.findings import findings_cases

TODAY = dt.date(2026, 6, 1)
SERVICES = {"db", "web"}
ADR = "docs/adr/0002-entrypoint-capabilities.md"
CATALOGUE = rule_catalogue()


def finding(service: str = "db", rule: str = "PRIV-005", subject: str = "SYS_ADMIN") -> Finding:
    info = CATALOGUE[rule]
    return Finding(
        rule, info.requirement, Severity.CRITICAL, service, "adds", info.hint, "x.yml", 1, subject
    )


def run_registry(
    text: str, findings: list[Finding], rendered: set[str] | None = None
) -> tuple[list[Finding], list[Finding]]:
    """Registry text -> (findings after exceptions, EXC-001 problems), as the engine does."""
    data = exceptions.read_registry(textwrap.dedent(text)) or {}
    parsed, problems = exceptions.parse(data.get("exceptions") or [], REPO)
    valid, unknown = exceptions.check_names(parsed, CATALOGUE, SERVICES)
    rendered = SERVICES if rendered is None else rendered
    return exceptions.apply(findings, valid, TODAY, rendered), [*problems, *unknown]


GOOD = f"""
exceptions:
  - service: db
    rule: PRIV-005
    subjects: [SYS_ADMIN]
    relaxes: cap_add SYS_ADMIN
    rationale: needed to mount a FUSE filesystem
    adr: {ADR}
"""

# Each case is GOOD with one mistake; a lenient reader would suppress the finding.
TYPOS = {
    "subject instead of subjects": ("subjects: [SYS_ADMIN]", "subject: [SYS_ADMIN]", "subjects"),
    "no subjects at all": ("subjects: [SYS_ADMIN]", "", "lacks subjects"),
    "empty subjects": ("subjects: [SYS_ADMIN]", "subjects: []", "non-empty list"),
    "subjects as a string": ("subjects: [SYS_ADMIN]", "subjects: SYS_ADMIN", "non-empty list"),
    "star mixed with names": ("subjects: [SYS_ADMIN]", 'subjects: ["*", SYS_ADMIN]', '"*"'),
    "number as subject": ("subjects: [SYS_ADMIN]", "subjects: [0400]", "must be text"),
    "repeated service key": ("service: db", "service: web\n    service: db", "repeats key"),
    "repeated subjects key": (
        "subjects: [SYS_ADMIN]",
        "subjects: [CHOWN]\n    subjects: [SYS_ADMIN]",
        "repeats key",
    ),
    "capitalised key": ("service: db", "Service: db", "unknown key 'Service'"),
    "rules instead of rule": ("rule: PRIV-005", "rules: PRIV-005", "did you mean 'rule'"),
    "misspelt requirement key": (
        "rule: PRIV-005",
        "requirment: SEC-SPC-OPT-001",
        "did you mean 'requirement'",
    ),
    "unknown rule": ("rule: PRIV-005", "rule: PRIV-05", "unknown rule 'PRIV-05'"),
    "rule in lower case": ("rule: PRIV-005", "rule: priv-005", "unknown rule"),
    "unknown service": ("service: db", "service: dbb", "unknown service 'dbb'"),
    "wildcard service": ("service: db", 'service: "*"', "unknown service"),
    "rule and requirement disagree": (
        "rule: PRIV-005",
        "rule: PRIV-005\n    requirement: REQ-SPC-OPT-004",
        "traces to SEC-SPC-OPT-001",
    ),
    "unknown requirement": ("rule: PRIV-005", "requirement: SEC-SPC-OPT-01", "unknown requirement"),
    "excepting the registry itself": ("rule: PRIV-005", "rule: EXC-001", "registry's own rule"),
    "adr outside the repository": (f"adr: {ADR}", "adr: ../../etc/hostname", "missing ADR"),
    "malformed expiry": ("relaxes:", "expires: next-year\n    relaxes:", "malformed expires"),
    "list as service": ("service: db", "service: [db]", "service must be text"),
}


@pytest.mark.parametrize("case", sorted(TYPOS))
def test_each_typo_is_exc_001_and_leaves_the_finding_open(case: str) -> None:
    old, new, expected = TYPOS[case]
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    result, problems = run_registry(text, [finding()])
    assert [p.rule_id for p in problems] == ["EXC-001"], problems
    assert expected in problems[0].message
    assert "entry 1" in problems[0].message
    assert not result[0].suppressed
    assert not [f for f in result if f.rule_id in {"EXC-002", "EXC-003"}]


def load_registry(text: str, project: Path) -> tuple[list[Finding], list[Finding]]:
    """Registry text read from a project by ``exceptions.load`` -> (findings, EXC-001 problems)."""
    (project / "infra").mkdir(parents=True, exist_ok=True)
    (project / "infra" / "exceptions.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    (project / ADR).parent.mkdir(parents=True, exist_ok=True)
    (project / ADR).write_text("# ADR\n", encoding="utf-8")
    parsed, problems = exceptions.load(project)
    valid, unknown = exceptions.check_names(parsed, CATALOGUE, SERVICES)
    return exceptions.apply([finding()], valid, TODAY, SERVICES), [*problems, *unknown]


# Mistakes outside the entries: a lenient reader would see an empty (or a different) registry.
TOP_LEVEL_TYPOS = {
    "exception instead of exceptions": (
        "exceptions:",
        "exception:",
        "unknown top-level key 'exception' (did you mean 'exceptions'?)",
    ),
    "capitalised exceptions": ("exceptions:", "Exceptions:", "unknown top-level key 'Exceptions'"),
    "exceptions key repeated": (
        "exceptions:",
        "exceptions: []\nexceptions:",
        "repeats top-level key 'exceptions'",
    ),
}


@pytest.mark.parametrize("case", sorted(TOP_LEVEL_TYPOS))
def test_each_top_level_typo_is_exc_001_naming_the_key(case: str, tmp_path: Path) -> None:
    old, new, expected = TOP_LEVEL_TYPOS[case]
    result, problems = load_registry(GOOD.replace(old, new, 1), tmp_path)
    assert problems and all(p.rule_id == "EXC-001" for p in problems), problems
    assert any(expected in p.message and "infra/exceptions.yml" in p.message for p in problems)
    if "repeated" not in case:
        assert not result[0].suppressed


def test_a_top_level_typo_beside_valid_entries_keeps_the_entries(tmp_path: Path) -> None:
    result, problems = load_registry(GOOD + "exception: []\n", tmp_path)
    assert [p.message for p in problems] == [
        "infra/exceptions.yml has unknown top-level key 'exception' (did you mean 'exceptions'?)"
    ]
    assert result[0].suppressed  # the entry itself is exact, so it still applies


def test_the_correct_registry_file_loads_without_problems(tmp_path: Path) -> None:
    result, problems = load_registry(GOOD, tmp_path)
    assert problems == [] and result[0].suppressed


def test_the_correct_entry_suppresses_and_says_what_it_relaxes() -> None:
    result, problems = run_registry(GOOD, [finding(), finding(subject="NET_ADMIN")])
    assert problems == []
    assert [f.suppressed for f in result] == [True, False]
    assert result[0].suppressed_relaxes == "cap_add SYS_ADMIN"
    assert result[0].suppressed_by.endswith(f"({ADR})")


def test_all_subjects_must_be_written_out_and_then_covers_only_that_rule() -> None:
    text = GOOD.replace("subjects: [SYS_ADMIN]", 'subjects: ["*"]')
    result, problems = run_registry(
        text, [finding(subject="SYS_ADMIN"), finding(subject=""), finding(rule="PRIV-004")]
    )
    assert problems == []
    assert [f.suppressed for f in result] == [True, True, False]


def test_did_you_mean_names_the_near_key() -> None:
    _, problems = run_registry(GOOD.replace("subjects:", "subject:"), [finding()])
    assert "unknown key 'subject' (did you mean 'subjects'?)" in problems[0].message


def test_every_problem_of_an_entry_is_named_in_one_finding() -> None:
    text = GOOD.replace("subjects:", "subject:").replace("rationale:", "reason:")
    _, problems = run_registry(text, [finding()])
    (problem,) = problems
    assert "'subject'" in problem.message and "'reason'" in problem.message
    assert "lacks rationale" in problem.message


def test_staleness_is_judged_only_over_rendered_services() -> None:
    text = GOOD.replace("service: db", "service: web")
    result, _ = run_registry(text, [finding()], rendered={"db"})
    assert not [f for f in result if f.rule_id == "EXC-003"]
    result, _ = run_registry(text, [finding()], rendered={"db", "web"})
    assert [f.rule_id for f in result if f.rule_id.startswith("EXC")] == ["EXC-003"]


def test_non_mapping_entries_and_odd_yaml_never_crash() -> None:
    text = "exceptions:\n  - just a string\n  - [1, 2]\n  - {? [a, b] : c}\n  - null\n"
    result, problems = run_registry(text, [finding()])
    assert len(problems) == 4 and all(p.rule_id == "EXC-001" for p in problems)
    assert not result[0].suppressed


def test_the_repository_registry_is_valid_under_the_strict_format() -> None:
    facts = ProjectFacts.read(REPO)
    data = exceptions.read_registry((REPO / exceptions.REGISTRY_PATH).read_text(encoding="utf-8"))
    parsed, problems = exceptions.parse(data["exceptions"], REPO)
    valid, unknown = exceptions.check_names(parsed, CATALOGUE, set(facts.declarations))
    assert problems == [] and unknown == [] and len(valid) == len(data["exceptions"]) >= 1


# -- properties ---------------------------------------------------------------------

FIELD_NAMES = [*exceptions.KNOWN_FIELDS, "subject", "Service", "rules", "requirment", "reason"]
RULE_IDS = ["PRIV-005", "PRIV-004", "SECRET-001", "priv-005", "EXC-001", "NOPE-1"]
REQUIREMENTS = ["SEC-SPC-OPT-001", "REQ-SPC-OPT-004", "SEC-SPC-OPT-01"]
SUBJECTS = ["SYS_ADMIN", "CHOWN", "", "*"]
VALUES: dict[str, Any] = {
    "service": st.sampled_from(["db", "web", "ghost", "*", "", None]),
    "rule": st.sampled_from([*RULE_IDS, "", None]),
    "requirement": st.sampled_from([*REQUIREMENTS, "", None]),
    "subjects": st.one_of(
        st.lists(st.sampled_from([*SUBJECTS, 400]), max_size=3),
        st.sampled_from(SUBJECTS),
        st.none(),
    ),
    "adr": st.sampled_from([ADR, "docs/adr/9999-missing.md", ""]),
    "expires": st.sampled_from(["2030-01-01", "2020-01-01", "soon", None]),
}
OTHER_VALUE = st.one_of(st.sampled_from(["x", "cap_add", ""]), st.none(), st.integers(0, 3))


@st.composite
def entry_pairs(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """A valid entry, then a few random edits: drop, rename, repeat or change a key.

    Starting from a valid entry keeps most examples close to what a person writes,
    so the property is exercised on entries that do suppress something.
    """
    entry: list[tuple[str, Any]] = [
        ("service", draw(st.sampled_from(["db", "web"]))),
        ("rule", draw(st.sampled_from(["PRIV-005", "PRIV-004", "SECRET-001"]))),
        ("subjects", draw(st.sampled_from([["SYS_ADMIN"], ["CHOWN"], ["*"], ["CHOWN", "x"]]))),
        ("relaxes", "cap_add"),
        ("rationale", "needed"),
        ("adr", ADR),
    ]
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, max(len(entry) - 1, 0)))
        edit = draw(st.sampled_from(["drop", "rename", "repeat", "change", "add"]))
        if not entry:
            break
        key, value = entry[position]
        if edit == "drop":
            del entry[position]
        elif edit == "rename":
            entry[position] = (draw(st.sampled_from(FIELD_NAMES)), value)
        elif edit == "repeat":
            entry.append((key, draw(VALUES.get(key, OTHER_VALUE))))
        elif edit == "change":
            entry[position] = (key, draw(VALUES.get(key, OTHER_VALUE)))
        else:
            name = draw(st.sampled_from(FIELD_NAMES))
            entry.append((name, draw(VALUES.get(name, OTHER_VALUE))))
    return entry


findings_strategy = st.lists(
    st.builds(
        finding,
        service=st.sampled_from(["db", "web", "ghost"]),
        rule=st.sampled_from(["PRIV-005", "PRIV-004", "SECRET-001"]),
        subject=st.sampled_from(["SYS_ADMIN", "CHOWN", "", "*"]),
    ),
    min_size=1,
    max_size=6,
)


def registry_text(entries: list[list[tuple[str, Any]]]) -> str:
    """YAML by hand, so that an entry can repeat a key (a dict cannot)."""
    lines = ["exceptions:"]
    for entry in entries:
        if not entry:
            lines.append("  - {}")
            continue
        for number, (key, value) in enumerate(entry):
            dumped = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...")
            lines.append(f"  {'- ' if number == 0 else '  '}{key}: {dumped.strip()}")
    return "\n".join(lines) + "\n"


def names_exactly(entry: list[tuple[str, Any]], target: Finding) -> bool:
    """The oracle, independent of the implementation: does this entry, read strictly,
    name ``target``'s service, rule or requirement, and subject exactly?"""
    keys = [key for key, _ in entry]
    if len(keys) != len(set(keys)) or not set(keys) <= set(exceptions.KNOWN_FIELDS):
        return False
    values = dict(entry)
    if values.get("service") != target.service:
        return False
    rule, requirement = values.get("rule"), values.get("requirement")
    if not rule and not requirement:
        return False
    if rule is not None and rule != target.rule_id:
        return False
    if requirement is not None and requirement != target.requirement:
        return False
    subjects = values.get("subjects")
    if not isinstance(subjects, list) or not all(isinstance(s, str) and s for s in subjects):
        return False
    return subjects == ["*"] or target.subject in subjects


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(entry_pairs(), min_size=1, max_size=3), targets=findings_strategy)
def test_no_registry_input_suppresses_a_finding_its_entry_does_not_name(
    entries: list[list[tuple[str, Any]]], targets: list[Finding]
) -> None:
    result, _ = run_registry(registry_text(entries), targets)
    for outcome in result:
        if outcome.suppressed:
            assert any(names_exactly(entry, outcome) for entry in entries), (
                registry_text(entries),
                outcome,
            )


@settings(max_examples=200, deadline=None)
@given(targets=findings_strategy)
def test_an_exact_entry_always_suppresses_its_finding(targets: list[Finding]) -> None:
    target = targets[0]
    if target.service == "ghost" or target.subject in {"", "*"}:
        return  # not nameable: an unknown service, or a subject only ["*"] can cover
    entry = [
        ("service", target.service),
        ("rule", target.rule_id),
        ("subjects", [target.subject]),
        ("relaxes", "x"),
        ("rationale", "y"),
        ("adr", ADR),
    ]
    result, problems = run_registry(registry_text([entry]), [target])
    assert problems == [] and result[0].suppressed


def test_registry_text_round_trips_repeated_keys(tmp_path: Path) -> None:
    text = registry_text([[("service", "db"), ("service", "web")]])
    entry = exceptions.read_registry(text)["exceptions"][0]
    assert entry == {"service": "web"} and entry.duplicates == ("service",)


def test_engine_accepts_a_service_of_another_profile_and_does_not_call_it_stale(
    tmp_path: Path,
) -> None:
    from checks.evaluator import evaluate

    (tmp_path / "compose.yml").write_text(
        "services:\n  web: {image: busybox:1.37.0}\n"
        "  worker: {image: busybox:1.37.0, profiles: [jobs]}\n",
        encoding="utf-8",
    )
    facts = ProjectFacts.read(tmp_path)
    entry = yaml.safe_load(GOOD)["exceptions"][0] | {"service": "worker"}
    parsed, problems = exceptions.parse([entry], REPO)
    rendered_without_jobs = facts.stack({"services": {"web": {"image": "busybox:1.37.0"}}}, ())
    evaluation = evaluate([rendered_without_jobs], parsed, problems, today=TODAY)
    assert not [f for f in evaluation.findings if f.rule_id.startswith("EXC-")]
    rendered_with_jobs = facts.stack(
        {"services": {"web": {"image": "busybox:1.37.0"}, "worker": {"image": "x"}}}, ("jobs",)
    )
    evaluation = evaluate([rendered_with_jobs], parsed, problems, today=TODAY)
    assert [f.rule_id for f in evaluation.findings if f.rule_id.startswith("EXC-")] == ["EXC-003"]


# -- every report says what an exception relaxes --------------------------------------


def _reported(fmt: str) -> str:
    script = Path(sys.executable).parent / "stackctl"
    done = subprocess.run(
        [str(script), "check", "--format", fmt], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _registry_relaxes() -> dict[tuple[str, str], str]:
    data = yaml.safe_load((REPO / exceptions.REGISTRY_PATH).read_text())
    return {(e["service"], e["rule"]): " ".join(e["relaxes"].split()) for e in data["exceptions"]}


@pytest.mark.slow
def test_json_and_table_show_what_each_exception_of_the_stack_relaxes() -> None:
    expected = _registry_relaxes()
    suppressed = [f for f in json.loads(_reported("json"))["findings"] if f["suppressed"]]
    assert suppressed, "the stack's registry suppresses nothing any more"
    for item in suppressed:
        assert item["relaxes"] == expected[(item["service"], item["rule"])]
    table = _reported("table")
    for item in suppressed:
        (row,) = [line for line in table.splitlines() if item["message"] in line]
        assert "suppressed" in row and f"relaxes {item['relaxes']};" in row


@pytest.mark.slow
def test_sarif_justification_names_what_is_relaxed() -> None:
    expected = _registry_relaxes()
    results = json.loads(_reported("sarif"))["runs"][0]["results"]
    for result in results:
        (suppression,) = result["suppressions"]
        relaxes = expected[(result["properties"]["service"], result["ruleId"])]
        assert suppression["justification"].startswith(f"relaxes {relaxes}: ")
        assert "docs/adr/" in suppression["justification"]


def test_a_failing_junit_case_lists_the_excepted_findings_with_what_they_relax() -> None:
    result, _ = run_registry(GOOD, [finding(), finding(subject="NET_ADMIN")])
    (case,) = findings_cases(result, [CATALOGUE["PRIV-005"]])
    assert not case.ok
    lines = case.message.splitlines()
    assert len(lines) == 2 and "relaxes cap_add SYS_ADMIN" in lines[1]
    assert "relaxes" not in lines[0]  # the open finding is not marked as excepted
