"""The exceptions registry (infra/exceptions.yml): documented, expiring deviations.

Each entry names a service, the rule (or the requirement) it relaxes, what
exactly is relaxed, why, and an ADR that must exist. A finding matched by a
live entry stays in every report, marked suppressed with the rationale. An
entry that matches nothing is stale (EXC-003); an expired one fails (EXC-002).
"""

from __future__ import annotations

import datetime as dt
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


def load(project_dir: Path) -> tuple[list[Waiver], list[Finding]]:
    """Read the registry; malformed entries come back as EXC-001 findings, not errors."""
    path = project_dir / REGISTRY_PATH
    if not path.is_file():
        return [], []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("exceptions") or [] if isinstance(data, Mapping) else []
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
