"""The two rule sets, the project's configuration (strict, like the exceptions file) and
compose's own default file names. Pure: no compose, no process."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.catalogue import rule_catalogue
from checks.config import ConfigError, parse_config, read_config
from checks.conventions import default_compose_files, ignored_default_files
from checks.finding import Finding, Severity
from checks.rule_sets import (
    PLATFORM,
    PLATFORM_FAMILIES,
    PORTABLE,
    PORTABLE_FAMILIES,
    UnknownSelector,
    build_policy,
    check_selector,
    family,
    in_set,
    matches,
)

CATALOGUE = rule_catalogue()


# -- the rule sets -----------------------------------------------------------------------


def test_every_family_of_the_catalogue_is_tagged_once() -> None:
    families = {family(rule_id) for rule_id in CATALOGUE}
    assert families <= PORTABLE_FAMILIES | PLATFORM_FAMILIES, families - (
        PORTABLE_FAMILIES | PLATFORM_FAMILIES
    )
    assert not PORTABLE_FAMILIES & PLATFORM_FAMILIES


@pytest.mark.parametrize(
    "rule_id",
    ["ROOT-001", "ROOT-002", "LOG-001", "HYG-003", "HYG-004", "PRIV-003", "IMG-001", "WIRE-001"],
)
def test_this_platforms_conventions_are_platform_only(rule_id: str) -> None:
    assert not in_set(rule_id, PORTABLE) and in_set(rule_id, PLATFORM)


def test_the_platform_set_is_the_whole_catalogue_at_the_specs_severities() -> None:
    policy = build_policy(CATALOGUE, PLATFORM)
    assert set(policy.rules) == set(CATALOGUE)
    for rule_id, info in policy.rules.items():
        assert info.severity == CATALOGUE[rule_id].severity
        assert info.requirement == CATALOGUE[rule_id].requirement
    assert policy.traced


def test_portable_severities_follow_the_field() -> None:
    policy = build_policy(CATALOGUE, PORTABLE)
    level = {rule_id: info.severity for rule_id, info in policy.rules.items()}
    # Host takeover and exposed secrets are critical ...
    for rule_id in ("PRIV-004", "PRIV-006", "SECRET-001", "SECRET-006"):
        assert level[rule_id] == Severity.CRITICAL, rule_id
    # ... a missing control is not.
    for rule_id in ("PRIV-001", "PRIV-002", "RES-001"):
        assert level[rule_id] == Severity.MEDIUM, rule_id
    assert all(info.requirement == "" for info in policy.rules.values())
    assert not policy.traced


def test_a_finding_keeps_a_severity_its_rule_raised_and_takes_a_project_override() -> None:
    policy = build_policy(CATALOGUE, PORTABLE, severity={"PRIV-007": Severity.LOW})
    info = CATALOGUE["PRIV-005"]
    plain = info.finding("vpn", "adds capability CHOWN", source="compose.yaml", subject="CHOWN")
    dangerous = info.finding(
        "vpn",
        "adds SYS_ADMIN",
        source="compose.yaml",
        subject="SYS_ADMIN",
        severity=Severity.CRITICAL,
    )
    device = CATALOGUE["PRIV-007"].finding(
        "vm", "maps /dev/kvm", source="compose.yaml", subject="/dev/kvm", severity=Severity.CRITICAL
    )
    judged = {f.subject: f for f in policy.judge([plain, dangerous, device], CATALOGUE)}
    assert judged["CHOWN"].severity == Severity.MEDIUM  # the set's severity for the rule
    assert judged["SYS_ADMIN"].severity == Severity.CRITICAL  # the rule raised it itself
    assert judged["/dev/kvm"].severity == Severity.LOW  # the project's own word wins
    assert all(f.requirement == "" for f in judged.values())


def test_unselected_rules_drop_their_findings() -> None:
    policy = build_policy(CATALOGUE, PORTABLE)
    layout = CATALOGUE["ROOT-001"].finding("", "m", source="compose.yaml")
    assert policy.judge([layout], CATALOGUE) == []


@pytest.mark.parametrize(
    ("selector", "rule_id", "expected"),
    [
        ("PRIV", "PRIV-004", True),
        ("priv-00", "PRIV-004", True),
        ("PRIV-004", "PRIV-004", True),
        ("ALL", "LOG-001", True),
        ("PRI", "PRIV-004", False),  # a family is matched whole, as a prefix of IDs is
        ("PRIV-01", "PRIV-004", False),
        ("LOG", "PRIV-004", False),
    ],
)
def test_selectors_match_like_ruff(selector: str, rule_id: str, expected: bool) -> None:
    assert matches(selector, rule_id) is expected


def test_select_narrows_the_set_and_a_full_id_reaches_beyond_it() -> None:
    policy = build_policy(CATALOGUE, PORTABLE, select=("PRIV", "LOG-001"), ignore=("PRIV-002",))
    assert "PRIV-003" not in policy.rules  # a platform convention, not named by its ID
    assert "PRIV-002" not in policy.rules
    assert {"PRIV-001", "PRIV-004", "LOG-001"} <= set(policy.rules)


def test_an_unknown_selector_is_named_with_a_near_match() -> None:
    with pytest.raises(UnknownSelector, match=r"unknown rule or family 'PRIVV' in --select"):
        check_selector("PRIVV", CATALOGUE, "--select")
    with pytest.raises(UnknownSelector, match=r"did you mean 'PRIV-004'"):
        check_selector("PRIV-04", CATALOGUE, "--select")


# -- the configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"selct": ["PRIV"]}, "unknown key 'selct' (did you mean 'select'?)"),
        ({"rule-set": "platfrom"}, "is not a rule set (did you mean 'platform'?)"),
        ({"select": "PRIV"}, "select must be a list of strings"),
        ({"ignore": ["NOPE-001"]}, "unknown rule or family 'NOPE-001'"),
        ({"fail-on": "hihg"}, "is not a severity (did you mean 'high'?)"),
        ({"severity": {"PRIV-001": "severe"}}, "severity.PRIV-001 = 'severe' is not a severity"),
        ({"severity": {"PRIVV": "low"}}, "unknown rule or family 'PRIVV'"),
        ({"severity": "low"}, "severity must be a table"),
        ({"baseline": "../outside.json"}, "must be a path inside the project"),
        ({"baseline": "/etc/passwd"}, "must be a path inside the project"),
    ],
)
def test_a_bad_config_is_an_error_naming_the_key(table: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(table, ".stackctl.toml", CATALOGUE)
    assert fragment in raised.value.message
    assert ".stackctl.toml" in raised.value.message


def test_a_good_config_is_read_from_either_file(tmp_path: Path) -> None:
    assert read_config(tmp_path, CATALOGUE).source == ""  # the defaults
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert read_config(tmp_path, CATALOGUE).rule_set == PORTABLE
    (tmp_path / "pyproject.toml").write_text(
        '[tool.stackctl]\nrule-set = "platform"\n[tool.stackctl.severity]\nPRIV = "low"\n'
    )
    config = read_config(tmp_path, CATALOGUE)
    assert config.rule_set == PLATFORM and config.severity == {"PRIV": Severity.LOW}
    (tmp_path / ".stackctl.toml").write_text('fail-on = "critical"\n')
    with pytest.raises(ConfigError, match=r"both \.stackctl\.toml and pyproject\.toml"):
        read_config(tmp_path, CATALOGUE)
    (tmp_path / "pyproject.toml").unlink()
    assert read_config(tmp_path, CATALOGUE).fail_on == Severity.CRITICAL


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"rule-set = [\n", "is not valid TOML"),
        (b"rule-set = '\xff'\n", "is not UTF-8"),
    ],
)
def test_an_unreadable_config_file_is_named(tmp_path: Path, content: bytes, fragment: str) -> None:
    (tmp_path / ".stackctl.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        read_config(tmp_path, CATALOGUE)


def test_a_config_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.toml").write_text('rule-set = "platform"\n')
    (tmp_path / ".stackctl.toml").symlink_to(tmp_path / "real.toml")
    with pytest.raises(ConfigError, match="is a symlink"):
        read_config(tmp_path, CATALOGUE)


# -- compose's default files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "loaded", "ignored"),
    [
        (["compose.yaml"], ("compose.yaml",), ()),
        (["compose.yaml", "compose.override.yaml"], ("compose.yaml", "compose.override.yaml"), ()),
        (
            ["docker-compose.yml", "docker-compose.override.yml"],
            ("docker-compose.yml", "docker-compose.override.yml"),
            (),
        ),
        (
            ["compose.yml", "docker-compose.override.yaml"],
            ("compose.yml", "docker-compose.override.yaml"),
            (),
        ),
        (
            ["docker-compose.yaml", "docker-compose.yml"],
            ("docker-compose.yml",),
            ("docker-compose.yaml",),
        ),
        (["compose.yaml", "docker-compose.yml"], ("compose.yaml",), ("docker-compose.yml",)),
        (
            ["compose.yaml", "compose.override.yml", "compose.override.yaml"],
            ("compose.yaml", "compose.override.yml"),
            ("compose.override.yaml",),
        ),
        (["compose.override.yaml"], ("docker-compose.yml",), ()),  # no main file: no override
    ],
)
def test_the_default_files_are_the_ones_compose_picks(
    tmp_path: Path, present: list[str], loaded: tuple[str, ...], ignored: tuple[str, ...]
) -> None:
    for name in present:
        (tmp_path / name).write_text("services: {}\n")
    assert default_compose_files(tmp_path) == loaded
    assert ignored_default_files(tmp_path) == ignored


def test_findings_of_a_set_without_requirements_carry_none() -> None:
    policy = build_policy(CATALOGUE, PORTABLE)
    found = Finding("PRIV-004", "SEC-SPC-OPT-001", Severity.CRITICAL, "web", "m", "h", "c.yaml")
    (judged,) = policy.judge([found], CATALOGUE)
    assert judged.requirement == "" and judged.severity == Severity.CRITICAL
