"""Checks any team can adopt: the portable set by default, this platform's conventions only
where a project opts in, compose's own rules for files and env, and a baseline.

The projects in ``tests/fixtures/adoption/`` are small and shaped like real ones
(a plain single-service app, an app and its database with an override file, a
wiki whose defaults live in a committed ``.env``). Each test copies one to a
temporary directory and runs ``check`` (or ``baseline``) in-process with the real
compose binary: no stackctl process, no engine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checks import baseline
from checks.catalogue import rule_catalogue
from checks.config import DEFAULT_BASELINE
from checks.finding import Finding, Severity
from checks.rule_sets import PLATFORM, PORTABLE, in_set
from conftest import FIXTURES
from stackctl.commands import baseline as baseline_command
from stackctl.commands import check as check_command
from stackctl.commands.options import RawValue
from stackctl.errors import StackError

ADOPTION = FIXTURES / "adoption"
CATALOGUE = rule_catalogue()
# This platform's conventions: none of them may judge a project that did not opt in.
CONVENTIONS = ("ROOT-", "LOG-", "IMG-", "WIRE-", "ACCESS-", "HYG-003", "HYG-004", "PRIV-003")


def copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(ADOPTION / name, root)
    return root


def raw_for(root: Path, **flags: RawValue) -> dict[str, RawValue]:
    # No cross-check sample: these projects are tiny, and the renders cost time.
    return {"project_dir": str(root), "sample": "0", **flags}


def check(root: Path, **flags: RawValue) -> check_command.CheckOutcome:
    options = check_command.parse(raw_for(root, **flags))
    assert isinstance(options, check_command.CheckOptions)
    outcome = check_command.run(options)
    assert isinstance(outcome, check_command.CheckOutcome)
    return outcome


def header(outcome: check_command.CheckOutcome) -> dict[str, str]:
    assert outcome.checked is not None
    return dict(outcome.checked.rows())


def open_findings(outcome: check_command.CheckOutcome) -> list[Finding]:
    return outcome.evaluation.open_findings


def rules_found(outcome: check_command.CheckOutcome) -> set[str]:
    return {f.rule_id for f in open_findings(outcome)}


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


# -- the real-world shapes ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "app-db"])
def test_a_project_without_red_flags_passes_at_critical(name: str, tmp_path: Path) -> None:
    outcome = check(copy(name, tmp_path), fail_on="critical")
    assert outcome.exit_code == 0, outcome.as_table()
    assert not [f for f in open_findings(outcome) if f.severity == Severity.CRITICAL]


@pytest.mark.parametrize("name", ["plain", "app-db"])
def test_no_convention_of_this_platform_judges_a_project_that_did_not_opt_in(
    name: str, tmp_path: Path
) -> None:
    outcome = check(copy(name, tmp_path))
    assert not [f.rule_id for f in outcome.evaluation.findings if f.rule_id.startswith(CONVENTIONS)]
    assert all(in_set(f.rule_id, PORTABLE) for f in outcome.evaluation.findings)
    table = outcome.as_table()
    assert "Spec traceability" not in table
    assert "SPC-OPT" not in table and "PRJ-" not in table
    assert all(f.requirement == "" for f in outcome.evaluation.findings)


def add_service(root: Path, block: str) -> None:
    """Append a service (YAML lines indented under services:) before the volumes."""
    text = (root / "compose.yaml").read_text()
    (root / "compose.yaml").write_text(text.replace("\nvolumes:", f"{block}\nvolumes:", 1))


def test_the_plain_app_is_reported_with_its_own_profiles_and_files(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    add_service(root, "  debug:\n    image: busybox:1.36\n    profiles: [debug]\n")
    outcome = check(root)
    shown = header(outcome)
    assert shown["compose files"].startswith("compose.yaml (compose's default")
    assert shown["env file"] == "none (no .env.example)"
    assert shown["profiles"] == "(none); debug; *"
    assert shown["rules"].startswith("portable set")
    assert "debug" in outcome.evaluation.services


def test_a_missing_control_is_medium_and_host_takeover_is_critical(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    add_service(root, "  agent:\n    image: busybox:1.36\n    privileged: true\n")
    outcome = check(root, fail_on="critical")
    levels = {(f.rule_id, f.service, f.severity) for f in open_findings(outcome)}
    assert ("PRIV-004", "agent", Severity.CRITICAL) in levels
    assert ("PRIV-001", "web", Severity.MEDIUM) in levels
    assert outcome.exit_code == 1


def test_a_project_opts_into_the_platform_set_in_its_config(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    (root / ".stackctl.toml").write_text('rule-set = "platform"\n')
    outcome = check(root)
    found = rules_found(outcome)
    assert {"ROOT-001", "LOG-001", "PRIV-003"} <= found
    assert "Spec traceability" in outcome.as_table()
    privileges = [f for f in open_findings(outcome) if f.rule_id == "PRIV-001"]
    assert privileges and privileges[0].severity == Severity.CRITICAL  # the spec's severity
    assert privileges[0].requirement == "SEC-SPC-OPT-001"


def test_pyproject_config_selects_ignores_and_sets_severities(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.stackctl]\nselect = ["PRIV", "RES-001"]\n'
        'ignore = ["PRIV-002"]\nfail-on = "medium"\n\n'
        '[tool.stackctl.severity]\nRES = "high"\n'
    )
    outcome = check(root)
    assert rules_found(outcome) == {"PRIV-001", "RES-001"}
    assert {f.severity for f in open_findings(outcome) if f.rule_id == "RES-001"} == {Severity.HIGH}
    assert outcome.threshold == Severity.MEDIUM and outcome.exit_code == 1
    # Flags: --select replaces the config's select, --ignore adds to its ignore.
    flagged = check(root, select=["PRIV,RES"], ignore=["RES-001"], fail_on="high")
    assert rules_found(flagged) == {"PRIV-001"} and flagged.exit_code == 0


# -- compose's own rules for files and env ------------------------------------------------


def test_a_directory_with_an_override_is_checked_with_both_files(tmp_path: Path) -> None:
    outcome = check(copy("app-db", tmp_path))
    shown = header(outcome)
    assert shown["compose files"].startswith("compose.yaml, compose.override.yaml (compose's")
    assert "mail" in outcome.evaluation.services  # only the override defines it
    mail = [f for f in outcome.evaluation.findings if f.service == "mail"]
    assert mail and {f.source for f in mail} == {"compose.override.yaml"}
    assert all(f.line > 1 for f in mail)


def test_the_older_names_are_a_pair_too(tmp_path: Path) -> None:
    root = copy("app-db", tmp_path)
    (root / "compose.yaml").rename(root / "docker-compose.yml")
    (root / "compose.override.yaml").rename(root / "docker-compose.override.yml")
    shown = header(check(root))
    assert shown["compose files"].startswith("docker-compose.yml, docker-compose.override.yml")


def test_a_second_main_file_is_ignored_as_compose_ignores_it(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    (root / "docker-compose.yml").write_text("services:\n  other: {image: busybox:1.36}\n")
    outcome = check(root)
    assert "other" not in outcome.evaluation.services
    assert "docker-compose.yml also present, ignored" in header(outcome)["compose files"]


def test_a_committed_env_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    root = copy("committed-env", tmp_path)
    (root / "dotenv").rename(root / ".env")
    git(root, "init", "-q")
    git(root, "add", ".env", "compose.yaml")
    outcome = check(root)
    assert "COMPOSE-003" not in rules_found(outcome)
    assert header(outcome)["env file"].startswith(".env (tracked by git")
    hygiene = [f for f in outcome.evaluation.findings if f.rule_id == "HYG-001"]
    assert not hygiene  # wiki:2.5.303 came from .env, a pinned tag


def test_an_untracked_env_is_never_read_and_the_report_says_why(tmp_path: Path) -> None:
    root = copy("committed-env", tmp_path)
    (root / "dotenv").rename(root / ".env")
    (root / ".env").write_text((root / ".env").read_text() + "LOG_LEVEL=canary-untracked\n")
    git(root, "init", "-q")  # a repository, but .env is not added
    outcome = check(root)
    blanks = [f for f in outcome.evaluation.findings if f.rule_id == "COMPOSE-003"]
    assert {f.subject for f in blanks} >= {"WIKI_VERSION", "HTTP_PORT"}
    assert all(".env is not tracked by git: never read" in f.message for f in blanks)
    assert ".env is not tracked by git" in header(outcome)["env file"]
    assert "canary-untracked" not in outcome.as_table() + repr(outcome.as_data())


def test_a_file_given_outside_the_project_is_where_its_findings_point(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    outside = tmp_path / "elsewhere" / "extra.yml"
    outside.parent.mkdir()
    outside.write_text("services:\n  agent:\n    image: busybox:1.36\n    privileged: true\n")
    outcome = check(root, file=["compose.yaml", str(outside)])
    (flag,) = [f for f in open_findings(outcome) if f.rule_id == "PRIV-004"]
    assert flag.service == "agent"
    assert Path(flag.source) == outside.resolve() and flag.line == 2
    assert Path(flag.source).is_file()


# -- the baseline ------------------------------------------------------------------------


def write_baseline(root: Path) -> baseline_command.BaselineOutcome:
    options = baseline_command.parse(raw_for(root))
    outcome = baseline_command.run(options)
    assert isinstance(outcome, baseline_command.BaselineOutcome)
    return outcome


def test_baseline_then_check_passes_and_a_new_privileged_service_fails(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    (root / ".stackctl.toml").write_text('fail-on = "medium"\n')
    assert check(root).exit_code == 1  # medium findings today
    written = write_baseline(root)
    assert written.exit_code == 0 and sum(written.by_rule.values()) > 0
    assert (root / DEFAULT_BASELINE).is_file()
    accepted = check(root)
    assert accepted.exit_code == 0, accepted.as_table()
    assert open_findings(accepted) == []
    add_service(root, "  tools:\n    image: busybox:1.36\n    privileged: true\n")
    added = check(root)
    assert added.exit_code == 1
    assert {(f.rule_id, f.service) for f in open_findings(added)} >= {("PRIV-004", "tools")}
    assert {f.service for f in open_findings(added)} == {"tools"}


def test_a_fixed_finding_leaves_a_stale_entry_that_fails_nothing(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    write_baseline(root)
    text = (root / "compose.yaml").read_text()
    (root / "compose.yaml").write_text(
        text.replace(
            "    restart: unless-stopped\n",
            "    restart: unless-stopped\n    security_opt: [no-new-privileges:true]\n",
        )
    )
    outcome = check(root, fail_on="info")
    assert outcome.applied is not None
    assert [e.rule for e in outcome.applied.stale] == ["PRIV-002"]
    assert outcome.exit_code == 0
    assert "1 baseline entry no longer found" in outcome.as_table()


def test_baseline_records_fingerprints_not_lines(tmp_path: Path) -> None:
    found = [
        Finding("PRIV-001", "", Severity.MEDIUM, "web", "m", "h", "compose.yaml", 3),
        Finding("RES-001", "", Severity.MEDIUM, "web", "m", "h", "compose.yaml", 3, "cpus"),
    ]
    parsed = baseline.parse(baseline.render(found), "b.json")
    assert parsed.fingerprints == {f.fingerprint for f in found}
    moved = [Finding("PRIV-001", "", Severity.MEDIUM, "web", "m", "h", "compose.yaml", 40)]
    applied = baseline.apply(moved, parsed)
    assert applied.findings[0].suppressed and applied.matched == 1
    assert [e.subject for e in applied.stale] == ["cpus"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "is not valid JSON at line 1"),
        ('{"schema_version": 2, "findings": []}', "schema_version 2"),
        ('{"schema_version": 1, "findings": {}}', "findings must be a list"),
        ('{"schema_version": 1, "findings": [{"fingerprint": "x"}]}', "32 lowercase hex"),
        (
            '{"schema_version": 1, "findings": [{"fingerprint": "' + "a" * 32 + '", "rul": ""}]}',
            "unknown key 'rul'",
        ),
    ],
)
def test_a_broken_baseline_is_named_never_ignored(text: str, fragment: str) -> None:
    with pytest.raises(baseline.BaselineError, match=fragment):
        baseline.parse(text, "b.json")


def test_a_broken_baseline_file_stops_check_with_exit_2(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    (root / DEFAULT_BASELINE).write_text("{not json")
    with pytest.raises(StackError) as raised:
        check_command.parse(raw_for(root))
    assert raised.value.exit_code == 2 and "is not valid JSON" in raised.value.message


def test_baseline_never_writes_through_a_symlink(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    target = tmp_path / "elsewhere.json"
    target.write_text("keep")
    (root / DEFAULT_BASELINE).symlink_to(target)
    with pytest.raises(StackError, match="is a symlink"):
        baseline_command.parse(raw_for(root))
    assert target.read_text() == "keep"


def test_the_platform_rules_this_repository_opts_into() -> None:
    from checks.config import read_config
    from conftest import REPO

    config = read_config(REPO, CATALOGUE)
    assert config.rule_set == PLATFORM and config.source == "pyproject.toml [tool.stackctl]"


def test_each_profile_is_checked_with_the_profiles_it_needs(tmp_path: Path) -> None:
    root = copy("plain", tmp_path)
    add_service(
        root,
        "  cache:\n    image: valkey/valkey:8.0.1\n    profiles: [data]\n"
        "  worker:\n    image: busybox:1.36\n    profiles: [jobs]\n"
        "    depends_on: [cache]\n",
    )
    outcome = check(root)
    assert header(outcome)["profiles"] == "(none); data; jobs,data; *"
    assert "RENDER-001" not in rules_found(outcome)
