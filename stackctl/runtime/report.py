"""A verification as a table, a JSON body and JUnit cases.

Findings use the same keys and case builder as every other finding
(``stackctl.reporting.findings``); the container stays as an extra key.
"""

from __future__ import annotations

from typing import Any

from stackctl.reporting import Case, table
from stackctl.reporting.findings import finding_dict, findings_case
from stackctl.runtime.comparison import RUNTIME_CHECKS, container_of
from stackctl.runtime.verification import Verification, fails


def verification_data(result: Verification) -> dict[str, Any]:
    """The JSON payload of a verification (inside the reporting envelope)."""
    return {
        "project": result.project,
        "containers": [{"name": c, "service": s} for c, s in result.containers],
        "findings": [{**finding_dict(f), "container": container_of(f)} for f in result.findings],
    }


def verification_cases(result: Verification) -> list[Case]:
    """One test case per container and runtime check; it fails on what fails the verification."""
    cases = []
    for container, service in result.containers:
        mine = [f for f in result.findings if container_of(f) == container]
        for check_id, info in RUNTIME_CHECKS.items():
            cases.append(
                findings_case(
                    container,
                    f"{check_id} {info.title} ({info.requirement}, {service})",
                    [f for f in mine if f.rule_id == check_id],
                    fails=fails,
                )
            )
    return cases


def verification_table(result: Verification) -> str:
    """Every finding, the hints for the failing ones, and the verdict."""
    rows = [
        (
            f.requirement,
            f.rule_id,
            "suppressed" if f.suppressed else f.severity.label,
            f.service or "-",
            f.message,
        )
        for f in sorted(result.findings, key=lambda f: (f.requirement, f.rule_id, f.message))
    ]
    lines = []
    if rows:
        lines.append(table(rows, ["requirement", "check", "severity", "service", "finding"]))
        hints = sorted({f"{f.rule_id}: {f.hint}" for f in result.failing})
        lines += ["", "how to fix:", *(f"  {hint}" for hint in hints)] if hints else []
    count = len(result.containers)
    verdict = (
        f"drift: {len(result.failing)} finding(s) in {count} container(s) of {result.project}"
        if not result.ok
        else f"no drift: {count} container(s) of {result.project} match the model "
        f"({len(RUNTIME_CHECKS)} checks each)"
    )
    if not count and result.ok:
        verdict = f"no containers of project {result.project} are running"
    lines += ["", verdict] if lines else [verdict]
    return "\n".join(lines)
