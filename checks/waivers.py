"""The exceptions registry (infra/exceptions.yml): documented, expiring deviations.

Each entry names a service, the rule (or the requirement) it relaxes, what
exactly is relaxed, why, and an ADR that must exist. A finding matched by a
live entry stays in every report, marked suppressed with the rationale. An
entry that matches nothing is stale (EXC-003); an expired one fails (EXC-002).
"""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from checks.finding import Finding, Severity
from checks.registry import RuleInfo

REGISTRY_PATH = "infra/exceptions.yml"
REQUIRED_FIELDS = ("service", "relaxes", "rationale", "adr")


# Rules about the registry itself, evaluated by the engine rather than on a model.
META_RULES: dict[str, RuleInfo] = {
    "EXC-001": RuleInfo(
        "EXC-001",
        "PRJ-EXCEPTIONS",
        Severity.HIGH,
        "exception entries are complete",
        "give the entry service, rule or requirement, relaxes, rationale and an existing adr",
        "Every registry entry names a service, a rule or requirement ID, what it relaxes, "
        "a rationale and an ADR file that exists; `expires` must be an ISO date.",
    ),
    "EXC-002": RuleInfo(
        "EXC-002",
        "PRJ-EXCEPTIONS",
        Severity.HIGH,
        "exceptions have not expired",
        "fix the finding, or renew the exception with a new review date and ADR note",
        "An entry past its `expires` date no longer suppresses anything and fails the gate.",
    ),
    "EXC-003": RuleInfo(
        "EXC-003",
        "PRJ-EXCEPTIONS",
        Severity.MEDIUM,
        "no stale exceptions",
        "delete the entry: the deviation it documents is gone",
        "An entry that matches no finding in any checked combination is stale.",
    ),
}


@dataclass(frozen=True)
class Waiver:
    index: int
    service: str
    rule: str
    requirement: str
    subjects: tuple[str, ...]
    relaxes: str
    rationale: str
    adr: str
    expires: dt.date | None

    @property
    def label(self) -> str:
        relaxed = self.rule or self.requirement
        return f"{REGISTRY_PATH} entry {self.index + 1} ({self.service} {relaxed})"

    def matches(self, finding: Finding) -> bool:
        if finding.service != self.service:
            return False
        if self.rule and finding.rule_id != self.rule:
            return False
        if self.requirement and finding.requirement != self.requirement:
            return False
        return not self.subjects or finding.subject in self.subjects


def _meta(rule_id: str, message: str, subject: str) -> Finding:
    meta = META_RULES[rule_id]
    return Finding(
        meta.id,
        meta.requirement,
        meta.severity,
        "",
        message,
        meta.hint,
        REGISTRY_PATH,
        subject=subject,
    )


class _TextDatesLoader(yaml.SafeLoader):
    """Safe YAML where dates stay strings, so an impossible date is an entry problem."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _file_problem(message: str) -> tuple[list[Waiver], list[Finding]]:
    return [], [_meta("EXC-001", f"{REGISTRY_PATH} {message}", "file")]


def load(project_dir: Path) -> tuple[list[Waiver], list[Finding]]:
    """Read the registry; every problem, with the file or an entry, comes back as EXC-001.

    A registry that cannot be read is never skipped in silence: its findings
    would reappear unexplained. It fails the gate with the reason instead.
    """
    path = project_dir / REGISTRY_PATH
    try:
        info = path.lstat()
    except FileNotFoundError:
        return [], []
    except OSError as error:
        return _file_problem(f"cannot be read: {error.strerror}")
    if stat.S_ISLNK(info.st_mode):
        if not path.resolve().is_relative_to(project_dir.resolve()):
            return _file_problem("is a symlink that leads outside the project")
        try:
            info = path.stat()
        except OSError as error:
            return _file_problem(f"is a symlink that cannot be followed: {error.strerror}")
    if stat.S_ISDIR(info.st_mode):
        return _file_problem("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end.
        return _file_problem("is not a regular file (a FIFO or device?)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return _file_problem(f"is not UTF-8 text (byte {error.start})")
    except OSError as error:
        return _file_problem(f"cannot be read: {error.strerror}")
    try:
        data = yaml.load(text, Loader=_TextDatesLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        return _file_problem(f"is not valid YAML{where}: {problem}")
    if data is None:
        return [], []
    if not isinstance(data, Mapping):
        return _file_problem(
            f"must be a mapping with an `exceptions:` list, not a {type(data).__name__}"
        )
    entries = data.get("exceptions") or []
    if not isinstance(entries, list):
        return _file_problem(f"`exceptions:` must be a list, not a {type(entries).__name__}")
    return parse(entries, project_dir)


def parse(entries: Sequence[Any], project_dir: Path) -> tuple[list[Waiver], list[Finding]]:
    waivers: list[Waiver] = []
    problems: list[Finding] = []
    for index, entry in enumerate(entries):
        where = f"entry {index + 1}"
        if not isinstance(entry, Mapping):
            problems.append(_meta("EXC-001", f"{where} is not a mapping", where))
            continue
        missing = [f for f in REQUIRED_FIELDS if not entry.get(f)]
        if not entry.get("rule") and not entry.get("requirement"):
            missing.append("rule or requirement")
        if missing:
            problems.append(_meta("EXC-001", f"{where} lacks {', '.join(missing)}", where))
            continue
        adr = str(entry["adr"])
        if not (project_dir / adr).is_file():
            problems.append(_meta("EXC-001", f"{where} links missing ADR {adr}", where))
            continue
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, dt.date):
            try:
                expires = dt.date.fromisoformat(str(expires))
            except ValueError:
                problems.append(_meta("EXC-001", f"{where} has a malformed expires date", where))
                continue
        subjects = entry.get("subjects") or []
        waivers.append(
            Waiver(
                index=index,
                service=str(entry["service"]),
                rule=str(entry.get("rule") or ""),
                requirement=str(entry.get("requirement") or ""),
                subjects=tuple(str(s) for s in subjects),
                relaxes=str(entry["relaxes"]),
                rationale=" ".join(str(entry["rationale"]).split()),
                adr=adr,
                expires=expires,
            )
        )
    return waivers, problems


def apply(findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date) -> list[Finding]:
    """Suppress findings matched by live waivers; add EXC-002/EXC-003 for the registry."""
    live = [w for w in waivers if w.expires is None or w.expires >= today]
    used: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        waiver = next((w for w in live if w.matches(finding)), None)
        if waiver is not None:
            used.add(waiver.index)
            finding = finding.suppress(f"{waiver.rationale} ({waiver.adr})")
        result.append(finding)
    for waiver in waivers:
        if waiver not in live:
            result.append(
                _meta("EXC-002", f"{waiver.label} expired on {waiver.expires}", str(waiver.index))
            )
        elif waiver.index not in used:
            result.append(_meta("EXC-003", f"{waiver.label} matches no finding", str(waiver.index)))
    return result
