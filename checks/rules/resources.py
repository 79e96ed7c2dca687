"""REQ-SPC-OPT-002: bounded resources for every long-running service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.finding import Hit, Severity
from checks.limits import LEGACY_KEYS, declared_limit
from checks.rule import rule
from checks.rules._shared import is_one_shot_job
from checks.stack import Stack


def _unbounded(value: Any) -> bool:
    if value in (None, ""):
        return True
    try:
        return float(str(value).rstrip("bkmgBKMG")) <= 0
    except ValueError:
        return False


@rule(
    "RES-001",
    requirement="REQ-SPC-OPT-002",
    severity=Severity.HIGH,
    title="memory, CPU and pids limits on long-running services",
    hint="extend a resource template (small/medium/large) from infra/common-optimizations.yml",
    example="""
    services:
      api: {image: "example/api:2.0.1"}
    """,
    fixed="""
    services:
      api:
        image: "example/api:2.0.1"
        deploy: {resources: {limits: {memory: 256M, cpus: "0.5", pids: 128}}}
    """,
)
def resource_limits(stack: Stack) -> Iterator[Hit]:
    """Every long-running service has memory, CPU and pids *limits*.

    Reservations do not count, and ``0`` means unlimited. One-shot jobs are
    exempt: a restart policy that lets them exit (none, ``no``, ``on-failure``)
    and a dependant waiting on ``service_completed_successfully``, or a job's name
    (``migrate``, ``db-init``, ``createbuckets``) and no published port.
    """
    for name, spec in stack.services.items():
        if is_one_shot_job(stack, name):
            continue
        for label in LEGACY_KEYS:
            if _unbounded(declared_limit(spec, label)):
                yield Hit(name, f"has no {label} limit", subject=label)
