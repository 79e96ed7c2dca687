"""Which rules a project is held to: two rule sets, then its own select, ignore and severities.

``portable`` (the default anywhere) is hardening that holds for any compose
project, at the severities the field uses: taking over the host and exposing a
secret are critical, a missing control (no ``cap_drop``, no limits) is medium.
It judges only what compose rendered and the files it loaded.

``platform`` is every rule at the spec's severity and with its requirement ID:
the portable rules plus this platform's conventions (layout ROOT-*, Loki
LOG-*, the state path HYG-003, init PRIV-003, image facts IMG-*, wiring WIRE-*,
the access policy ACCESS-001, ...), some of which walk the project's tree. A
project opts in through its configuration (``checks.config``).

Rules are tagged here by family or by ID, never in the rule modules, so a new
rule of a portable family is portable at its declared severity.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from checks.finding import Finding, Severity
from checks.rule import Rule, RuleInfo

PORTABLE = "portable"
PLATFORM = "platform"
RULE_SETS = (PORTABLE, PLATFORM)
ALL = "ALL"  # a selector for every rule, as in ruff

# Families whose rules hold for any compose project.
PORTABLE_FAMILIES = frozenset(
    {"AUTH", "COMPOSE", "EXC", "HEALTH", "MOUNT", "PRIV", "RENDER", "RES", "SECRET"}
)
# Families that are this platform's conventions, or judge more than the render.
PLATFORM_FAMILIES = frozenset({"ACCESS", "HYG", "IMG", "LOG", "NET", "ROOT", "RUN", "WIRE"})
# Exceptions to the family, both ways.
PLATFORM_ONLY = frozenset(
    {
        "PRIV-003",  # init: true is this platform's baseline, not a hazard elsewhere
        "SECRET-003",  # environment-based secrets are a legitimate compose choice
    }
)
PORTABLE_ALSO = frozenset(
    {
        "HYG-001",  # an unpinned or malformed image reference
        "NET-005",  # host networking: the container shares the host's network namespace
    }
)
# Severities in the portable set where the spec's differ from the field's: a missing
# control is medium (it is not misuse), a missing nicety is low.
PORTABLE_SEVERITY: Mapping[str, Severity] = {
    "PRIV-001": Severity.MEDIUM,  # cap_drop lacks ALL
    "PRIV-002": Severity.MEDIUM,  # no-new-privileges not set
    "PRIV-005": Severity.MEDIUM,  # an ordinary cap_add (dangerous ones stay critical)
    "RES-001": Severity.MEDIUM,  # no memory, CPU or pids limit
    "HYG-001": Severity.MEDIUM,
    "SECRET-002": Severity.MEDIUM,
    "HEALTH-001": Severity.LOW,  # no healthcheck
    "HEALTH-003": Severity.LOW,  # depends_on without a readiness condition
}
FAMILY_TITLES: Mapping[str, str] = {
    "ACCESS": "access policy",
    "AUTH": "authentication",
    "COMPOSE": "compose's own warnings",
    "EXC": "exceptions file",
    "HEALTH": "health and readiness",
    "HYG": "hygiene",
    "IMG": "image facts",
    "LOG": "logging",
    "MOUNT": "mounts",
    "NET": "networking",
    "PRIV": "privileges",
    "RENDER": "rendering",
    "RES": "resource limits",
    "ROOT": "layout",
    "RUN": "runtime",
    "SECRET": "secrets",
    "WIRE": "wiring",
}


def family(rule_id: str) -> str:
    return rule_id.partition("-")[0]


def family_title(rule_id: str) -> str:
    name = family(rule_id)
    title = FAMILY_TITLES.get(name)
    return f"{name} ({title})" if title else name


def in_set(rule_id: str, rule_set: str) -> bool:
    """Whether ``rule_set`` holds the rule; a family tagged nowhere is platform only."""
    if rule_set == PLATFORM:
        return True
    if rule_id in PLATFORM_ONLY:
        return False
    return family(rule_id) in PORTABLE_FAMILIES or rule_id in PORTABLE_ALSO


class UnknownSelector(ValueError):
    """A selector that names no rule: its message says so, with near matches."""


def normalise(selector: str) -> str:
    return selector.strip().upper()


def matches(selector: str, rule_id: str) -> bool:
    """Like ruff: ``ALL``, a rule ID, a family (``PRIV``) or a prefix of IDs (``PRIV-00``)."""
    selector = normalise(selector)
    if selector in (ALL, rule_id):
        return True
    name = family(rule_id)
    return selector == name or (selector.startswith(name + "-") and rule_id.startswith(selector))


def check_selector(selector: str, rule_ids: Collection[str], where: str) -> str:
    """``selector`` normalised, or ``UnknownSelector`` naming ``where`` it was written."""
    chosen = normalise(selector)
    if not chosen:
        raise UnknownSelector(f"an empty rule selector in {where}")
    if any(matches(chosen, rule_id) for rule_id in rule_ids):
        return chosen
    known = sorted({*rule_ids, *(family(r) for r in rule_ids)})
    near = difflib.get_close_matches(chosen, known, n=3)
    hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
    raise UnknownSelector(f"unknown rule or family {selector!r} in {where}{hint}")


def _most_specific(rule_id: str, table: Mapping[str, Severity]) -> Severity | None:
    """The severity of the longest selector in ``table`` that matches ``rule_id``."""
    chosen = [s for s in table if matches(s, rule_id)]
    return table[max(chosen, key=len)] if chosen else None


@dataclass(frozen=True)
class Policy:
    """The rules one run judges by, with their severity in this run.

    ``rules`` holds each selected rule as this run reports it: the set's severity,
    and for a set without requirement IDs an empty requirement. ``overrides`` are the
    project's own severities, which win over whatever a finding says.
    """

    rule_set: str
    rules: Mapping[str, RuleInfo]
    overrides: Mapping[str, Severity] = dataclasses.field(default_factory=dict)

    @property
    def traced(self) -> bool:
        """Whether findings carry requirement IDs (and the report a traceability table)."""
        return self.rule_set == PLATFORM

    def selects(self, rule_id: str) -> bool:
        return rule_id in self.rules

    def model_rules(self, catalogue: Mapping[str, RuleInfo]) -> list[Rule]:
        """The catalogue's model rules this policy selects, unchanged (the evaluator's input)."""
        return [
            r for rule_id, r in catalogue.items() if isinstance(r, Rule) and rule_id in self.rules
        ]

    def judge(
        self, findings: Iterable[Finding], catalogue: Mapping[str, RuleInfo]
    ) -> list[Finding]:
        """Findings of selected rules only, at this run's severity and requirement.

        A finding at its rule's declared severity takes the set's; one a rule raised
        or lowered itself (a dangerous capability, a value filled at run time) keeps
        its own; a project override sets every finding of that rule.
        """
        judged: list[Finding] = []
        for finding in findings:
            effective = self.rules.get(finding.rule_id)
            if effective is None:
                continue
            declared = catalogue[finding.rule_id].severity
            severity = effective.severity if finding.severity == declared else finding.severity
            severity = self.overrides.get(finding.rule_id, severity)
            judged.append(
                dataclasses.replace(finding, severity=severity, requirement=effective.requirement)
            )
        return judged


def build_policy(
    catalogue: Mapping[str, RuleInfo],
    rule_set: str = PORTABLE,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    severity: Mapping[str, Severity] | None = None,
) -> Policy:
    """The rules of ``rule_set``, or of ``select`` when given, less ``ignore``.

    A family, prefix or ``ALL`` in ``select`` narrows the set (``PRIV`` in the portable
    set is its PRIV rules); a full rule ID selects that rule whatever the set, so a
    project can take one convention (``LOG-001``) without the others. Selectors are
    expected valid (``check_selector``); severities may be keyed by any selector, the
    most specific one winning.
    """

    def selected(rule_id: str) -> bool:
        if not select:
            return in_set(rule_id, rule_set)
        return any(
            normalise(s) == rule_id or (matches(s, rule_id) and in_set(rule_id, rule_set))
            for s in select
        )

    chosen = [
        rule_id
        for rule_id in catalogue
        if selected(rule_id) and not any(matches(s, rule_id) for s in ignore)
    ]
    table = dict(severity or {})
    rules: dict[str, RuleInfo] = {}
    overrides: dict[str, Severity] = {}
    for rule_id in chosen:
        info = catalogue[rule_id]
        level = info.severity
        if rule_set == PORTABLE:
            level = PORTABLE_SEVERITY.get(rule_id, level)
        override = _most_specific(rule_id, table)
        if override is not None:
            overrides[rule_id] = level = override
        requirement = info.requirement if rule_set == PLATFORM else ""
        rules[rule_id] = dataclasses.replace(info, severity=level, requirement=requirement)
    return Policy(rule_set, rules, overrides)
