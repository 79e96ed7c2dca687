"""Runs every rule over every rendered combination and merges the results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from checks import exceptions
from checks.catalogue import model_rules, rule_catalogue
from checks.finding import Finding, Severity
from checks.rule import Rule
from checks.stack import Stack


@dataclass
class Evaluation:
    """De-duplicated findings across combinations, plus what was checked."""

    findings: list[Finding]
    combinations: list[str]
    services: set[str] = field(default_factory=set)

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    def failing(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.open_findings if f.severity >= threshold]


def run_rules(stack: Stack, rules: Iterable[Rule]) -> Iterable[Finding]:
    for rule in rules:
        for hit in rule.function(stack):
            if hit.source:
                source, line = hit.source, hit.line or 1
            else:
                source, line = stack.facts.source(hit.service)
            yield rule.finding(
                hit.service,
                hit.message,
                source=source,
                line=line,
                subject=hit.subject,
                severity=hit.severity,
            )


def evaluate(
    stacks: Sequence[Stack],
    waivers: Sequence[exceptions.Waiver] = (),
    registry_problems: Sequence[Finding] = (),
    *,
    today: dt.date | None = None,
    rules: Iterable[Rule] | None = None,
    compose_findings: Sequence[Finding] = (),
) -> Evaluation:
    """Evaluate ``rules`` (default: all) on each stack; one finding per fingerprint.

    ``compose_findings`` (compose's warnings, combinations that did not render) are
    merged in and can be excepted like any other finding. Exceptions must name a
    rule of the catalogue and a service the project defines; only the services
    rendered here decide whether an exception is stale.
    """
    selected = list(rules if rules is not None else model_rules().values())
    unique: dict[str, Finding] = {}
    services: set[str] = set()
    defined: set[str] = set()
    for stack in stacks:
        services.update(stack.services)
        defined.update(stack.services, stack.facts.declarations, stack.facts.sources)
        for finding in run_rules(stack, selected):
            unique.setdefault(finding.fingerprint, finding)
    for finding in compose_findings:
        unique.setdefault(finding.fingerprint, finding)
    valid, unknown_names = exceptions.check_names(waivers, rule_catalogue(), defined)
    findings = exceptions.apply(unique.values(), valid, today or dt.date.today(), services)
    findings.extend(registry_problems)
    findings.extend(unknown_names)
    findings.sort(key=lambda f: (f.requirement, f.rule_id, f.service, f.subject))
    labels = [",".join(s.profiles) or "(none)" for s in stacks]
    return Evaluation(findings=findings, combinations=labels, services=services)
