"""A project's own choice of rules: ``.stackctl.toml``, or ``[tool.stackctl]`` in pyproject.toml.

Read from the checked project's directory, strictly, like the exceptions file:
an unknown key, a wrong type, an unknown rule set, rule or severity is an error
naming the key (with a near match), never silently ignored. Keys (kebab-case,
as in ruff)::

    rule-set = "platform"          # or "portable" (the default)
    select = ["PRIV", "LOG-001"]   # only these: families or prefixes of the set's rules
                                   # ("ALL" for all of them), or any rule by its full ID
    ignore = ["HEALTH-001"]        # never these
    fail-on = "high"               # lowest severity that fails (a flag wins)
    baseline = ".stackctl-baseline.json"  # where `stackctl baseline` writes

    [severity]                     # [tool.stackctl.severity] in pyproject.toml
    PRIV-001 = "high"              # every finding of the rule (or family) at this level

``.stackctl.toml`` holds the keys at its top level. Both files configuring
stackctl at once is an error: one place decides.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from checks.finding import Severity
from checks.project_files import UnreadableFile, read_project_text
from checks.rule_sets import PORTABLE, RULE_SETS, UnknownSelector, check_selector

CONFIG_FILE = ".stackctl.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_BASELINE = ".stackctl-baseline.json"
KEYS = ("rule-set", "select", "ignore", "fail-on", "baseline", "severity")
MAX_BYTES = 1024 * 1024


class ConfigError(ValueError):
    """A configuration that cannot be used: the message names the file and key."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Config:
    """What the project chose; the defaults when it chose nothing."""

    rule_set: str = PORTABLE
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: Severity | None = None
    baseline: str = DEFAULT_BASELINE
    severity: Mapping[str, Severity] = field(default_factory=dict)
    source: str = ""  # where it was read; "" when no file configures stackctl


def _near(word: str, choices: Collection[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _read_toml(path: Path, shown: str, *, follow: bool = False) -> dict[str, Any] | None:
    """The parsed file, None when absent; anything unreadable is an error, and so is a
    symlink unless ``follow`` (a shared pyproject.toml may be one)."""
    try:
        text = read_project_text(path, shown, MAX_BYTES, f"{MAX_BYTES // 1024} KiB", follow=follow)
    except UnreadableFile as error:
        hints = {
            "symlink": "make it a regular file in the project",
            "special": "make it a regular TOML file",
        }
        raise ConfigError(error.message, hint=hints.get(error.problem, "")) from None
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown} is not valid TOML: {error}") from None


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}: {key} must be a list of strings, e.g. {key} = ["PRIV"]')
    return list(value)


def _severity(value: Any, key: str, where: str) -> Severity:
    names = [s.label for s in Severity]
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a severity name ({', '.join(names)})")
    try:
        return Severity.parse(value)
    except ValueError:
        raise ConfigError(
            f"{where}: {key} = {value!r} is not a severity{_near(value.lower(), names)}",
            hint=f"choose one of {', '.join(names)}",
        ) from None


def _baseline_path(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: baseline must be a file name, e.g. {DEFAULT_BASELINE!r}")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(
            f"{where}: baseline {value!r} must be a path inside the project",
            hint=f"name a file relative to the project, e.g. {DEFAULT_BASELINE!r}",
        )
    return path.as_posix()


def parse_config(table: Mapping[str, Any], source: str, rule_ids: Collection[str]) -> Config:
    """A ``Config`` from one TOML table, or ``ConfigError`` naming the first bad key."""
    for key in table:
        if key not in KEYS:
            raise ConfigError(
                f"{source}: unknown key {key!r}{_near(key, KEYS)}",
                hint=f"known keys: {', '.join(KEYS)}",
            )
    rule_set = table.get("rule-set", PORTABLE)
    if rule_set not in RULE_SETS:
        shown = rule_set if isinstance(rule_set, str) else str(rule_set)
        raise ConfigError(
            f"{source}: rule-set = {shown!r} is not a rule set{_near(shown, RULE_SETS)}",
            hint=f"choose {' or '.join(RULE_SETS)}",
        )
    chosen: dict[str, tuple[str, ...]] = {}
    try:
        for key in ("select", "ignore"):
            where = f"{source} {key}"
            words = _strings(table.get(key, []), key, source)
            chosen[key] = tuple(check_selector(w, rule_ids, where) for w in words)
        raw_levels = table.get("severity", {})
        if not isinstance(raw_levels, Mapping):
            raise ConfigError(f'{source}: severity must be a table of RULE = "level"')
        levels = {
            check_selector(rule, rule_ids, f"{source} [severity]"): _severity(
                value, f"severity.{rule}", source
            )
            for rule, value in raw_levels.items()
        }
    except UnknownSelector as error:
        raise ConfigError(
            str(error), hint="`stackctl check --explain RULE` names every rule"
        ) from None
    fail_on = table.get("fail-on")
    return Config(
        rule_set=str(rule_set),
        select=chosen["select"],
        ignore=chosen["ignore"],
        fail_on=None if fail_on is None else _severity(fail_on, "fail-on", source),
        baseline=_baseline_path(table.get("baseline", DEFAULT_BASELINE), source),
        severity=levels,
        source=source,
    )


def read_config(project_dir: Path, rule_ids: Collection[str]) -> Config:
    """The project's configuration: ``.stackctl.toml``, else ``[tool.stackctl]``, else defaults."""
    own = _read_toml(project_dir / CONFIG_FILE, CONFIG_FILE)
    pyproject = _read_toml(project_dir / PYPROJECT, PYPROJECT, follow=True)
    tool = (pyproject or {}).get("tool")
    section = tool.get("stackctl") if isinstance(tool, Mapping) else None
    if own is not None and section is not None:
        raise ConfigError(
            f"both {CONFIG_FILE} and {PYPROJECT} [tool.stackctl] configure stackctl",
            hint="keep one of them",
        )
    if own is not None:
        return parse_config(own, CONFIG_FILE, rule_ids)
    if section is None:
        return Config()
    if not isinstance(section, Mapping):
        raise ConfigError(f"{PYPROJECT}: [tool.stackctl] must be a table")
    return parse_config(section, f"{PYPROJECT} [tool.stackctl]", rule_ids)
