"""Every rule has a violating and a passing fixture, rendered by the real compose binary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checks.catalogue import model_rules, rule_catalogue, rules_of_kind
from checks.evaluator import run_rules
from cli import run
from conftest import REPO
from rule_fixtures import RULE_FIXTURES, build_stack, load_fixture

RULES = model_rules()


def findings_of(rule_id: str, case: str, tmp_path: Path):
    stack = build_stack(load_fixture(rule_id)[case], tmp_path / case)
    return list(run_rules(stack, [RULES[rule_id]]))


def test_every_rule_has_a_fixture_and_every_fixture_a_rule() -> None:
    fixtures = {path.stem for path in RULE_FIXTURES.glob("*.yml")}
    assert fixtures == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_violating_fixture_is_found(rule_id: str, tmp_path: Path) -> None:
    findings = findings_of(rule_id, "violating", tmp_path)
    assert findings, f"{rule_id} found nothing in its violating fixture"
    rule = RULES[rule_id]
    for finding in findings:
        assert finding.rule_id == rule_id
        assert finding.requirement == rule.requirement
        assert finding.hint == rule.hint
        assert finding.message and finding.source


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_passing_fixture_is_clean(rule_id: str, tmp_path: Path) -> None:
    assert findings_of(rule_id, "passing", tmp_path) == []


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_is_documented(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.function.__doc__, f"{rule_id} needs a docstring: it is the rule's documentation"
    assert rule.requirement.startswith(("REQ-SPC-OPT-", "SEC-SPC-OPT-", "PRJ-"))


def test_secret_values_never_appear_in_messages(tmp_path: Path) -> None:
    findings = findings_of("SECRET-001", "violating", tmp_path)
    text = " ".join(f.message for f in findings)
    assert {f.subject for f in findings} == {"DB_PASSWORD", "SERVICE_TOKEN", "API_KEY"}
    for value in ("literal", "from-env", "from-env-file"):
        assert value not in text


def test_env_example_values_are_not_printed(tmp_path: Path) -> None:
    findings = findings_of("HYG-005", "violating", tmp_path)
    assert {f.subject for f in findings} == {"ADMIN_PASSWORD", "SESSION"}
    assert "hunter2" not in " ".join(f.message for f in findings)


def test_pinned_image_rule_names_each_bad_reference(tmp_path: Path) -> None:
    findings = findings_of("HYG-001", "violating", tmp_path)
    assert {f.service for f in findings} == {"a", "b", "c", "d"}


def test_dangerous_capability_is_critical(tmp_path: Path) -> None:
    (finding,) = findings_of("PRIV-005", "violating", tmp_path)
    assert finding.subject == "SYS_ADMIN" and finding.severity.label == "critical"


@pytest.mark.slow
def test_rules_doc_is_up_to_date() -> None:
    done = run(["scripts/gen_rules_doc.py", "--check"])
    assert done.returncode == 0, done.stderr


def _rules_doc_sections() -> dict[str, tuple[str, str]]:
    """Rule ID -> (the requirement heading it sits under, its section text) in docs/rules.md."""
    sections: dict[str, tuple[str, str]] = {}
    requirement = ""
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for block in re.split(r"^(?=##+ )", text, flags=re.MULTILINE):
        heading = block.split("\n", 1)[0]
        if heading.startswith("## "):
            requirement = heading.removeprefix("## ").strip()
        elif heading.startswith("### "):
            sections[heading.removeprefix("### ").strip()] = (requirement, block)
    return sections


KIND_WORDS = {
    "model": "model",
    "compose": "compose",
    "exceptions": "exceptions file",
    "runtime": "runtime",
}
LINKED_ID_RE = re.compile(r"\[([A-Z]+-\d+)\]")


def test_rules_doc_lists_every_rule_under_its_requirement_with_its_kind() -> None:
    catalogue = rule_catalogue()
    sections = _rules_doc_sections()
    assert set(sections) == set(catalogue)
    for prefix in ("RUN-", "COMPOSE-", "RENDER-001", "EXC-", "IMG-", "WIRE-"):
        assert any(rule_id.startswith(prefix) for rule_id in sections), prefix
    for rule_id, info in catalogue.items():
        requirement, section = sections[rule_id]
        assert requirement == info.requirement, rule_id
        assert f"{info.severity.label}, {KIND_WORDS[info.kind]} rule)" in section, rule_id
        assert info.doc in section and f"Fix: {info.hint}" in section, rule_id


def _linked_ids(section: str, lead: str) -> list[str]:
    """The rule IDs linked on the line of ``section`` that starts with ``lead``."""
    lines = [line for line in section.splitlines() if line.startswith(lead)]
    return LINKED_ID_RE.findall(lines[0]) if lines else []


def test_rules_doc_names_the_static_rules_each_runtime_rule_mirrors() -> None:
    sections = _rules_doc_sections()
    runtime = rules_of_kind("runtime")
    assert any(info.mirrors for info in runtime.values())
    for rule_id, info in runtime.items():
        assert _linked_ids(sections[rule_id][1], "Mirrors ") == list(info.mirrors), rule_id
        for static in info.mirrors:
            checked_by = _linked_ids(sections[static][1], "Checked on the running containers")
            assert rule_id in checked_by, (static, rule_id)


def test_credential_arguments_are_found_in_every_field_and_never_printed(tmp_path: Path) -> None:
    findings = findings_of("SECRET-006", "violating", tmp_path / "args")
    assert {(f.service, f.subject.split(":")[0]) for f in findings} == {
        ("cache", "command"),
        ("job", "entrypoint"),
        ("db", "healthcheck"),
        ("sync", "command"),
    }
    urls = findings_of("SECRET-007", "violating", tmp_path / "urls")
    assert {f.subject for f in urls} == {"DATABASE_URL", "BROKER"}
    text = " ".join(f.message + f.subject for f in [*findings, *urls])
    assert "literal" not in text.replace("literally", "") and "abc123" not in text


def test_disk_devices_are_critical_and_others_high(tmp_path: Path) -> None:
    findings = findings_of("PRIV-007", "violating", tmp_path)
    assert {(f.subject, f.severity.label) for f in findings} == {
        ("/dev/sda", "critical"),
        ("/dev/fuse", "high"),
    }


def test_uppercase_repository_is_named_as_the_reason(tmp_path: Path) -> None:
    findings = findings_of("HYG-001", "violating", tmp_path)
    (upper,) = [f for f in findings if f.service == "c"]
    assert "not lowercase" in upper.message


def test_extra_hosts_in_compose_s_rendered_form_are_checked(tmp_path: Path) -> None:
    findings = findings_of("NET-004", "violating", tmp_path)
    assert {f.subject for f in findings} == {"db", "dns:192.0.2.53"}


def test_every_confinement_escape_is_named(tmp_path: Path) -> None:
    findings = findings_of("PRIV-004", "violating", tmp_path)
    assert {(f.service, f.subject) for f in findings} == {
        ("app", "privileged"),
        ("app", "pid"),
        ("app", "seccomp:unconfined"),
        ("labels", "label:disable"),
        ("labels", "systempaths:unconfined"),
    }


def test_access_policy_names_every_router_and_service_that_disagree(tmp_path: Path) -> None:
    findings = findings_of("ACCESS-001", "violating", tmp_path)
    assert {(f.service, f.subject) for f in findings} == {
        ("dashboards", "dashboards"),
        ("notes", "notes"),
        ("chat", "chat"),
        ("status", "status"),
        ("gateway", "prometheus@internal"),
    }
    messages = " ".join(f.message for f in findings)
    assert "router notes routes to notes, which declares no org.platform.access" in messages
    assert "sets ENABLE_SIGNUP=true, not false" in messages
