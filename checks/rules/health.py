"""Deterministic start-up: healthchecks and readiness-aware ordering (spec section 8)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules._shared import is_one_shot_job
from checks.stack import Stack

REQ = "PRJ-HEALTH"  # project ID: spec section 8, "healthchecks and explicit depends_on"


def has_healthcheck(spec: Mapping[str, Any]) -> bool:
    check = spec.get("healthcheck") or {}
    if check.get("disable") is True:
        return False
    test = check.get("test") or []
    if isinstance(test, str):
        test = [test]
    return bool(test) and str(test[0]).upper() != "NONE"


@rule(
    "HEALTH-001",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="long-running services have a healthcheck",
    hint="add a healthcheck whose command exists inside the image",
    example="""
    services:
      web: {image: "nginx:1.27.3"}
    """,
    fixed="""
    services:
      web:
        image: "nginx:1.27.3"
        healthcheck: {test: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1/"]}
    """,
)
def healthcheck_present(stack: Stack) -> Iterator[Hit]:
    """Every long-running service declares an enabled healthcheck (``disable: true`` or
    ``test: [NONE]`` count as none). One-shot jobs are exempt, recognised as RES-001
    recognises them: a restart policy that lets them exit (none, ``no``,
    ``on-failure``) and a dependant waiting on ``service_completed_successfully``,
    or a job's name (``migrate``, ``db-init``, ``createbuckets``) and no published
    port."""
    for name, spec in stack.services.items():
        if not is_one_shot_job(stack, name) and not has_healthcheck(spec):
            yield Hit(name, "has no healthcheck")


@rule(
    "HEALTH-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="service_healthy targets have a healthcheck",
    hint="add a healthcheck to the dependency, or wait on a different condition",
    example="""
    services:
      db: {image: "postgres:17.4"}
      app: {image: "example/app:1.4.2", depends_on: {db: {condition: service_healthy}}}
    """,
    fixed="""
    services:
      db:
        image: "postgres:17.4"
        healthcheck: {test: ["CMD", "pg_isready", "-U", "postgres"]}
      app: {image: "example/app:1.4.2", depends_on: {db: {condition: service_healthy}}}
    """,
)
def healthy_targets(stack: Stack) -> Iterator[Hit]:
    """A ``service_healthy`` dependency on a service without a healthcheck never starts."""
    for name, spec in stack.services.items():
        for dep, condition in (spec.get("depends_on") or {}).items():
            if (condition or {}).get("condition") != "service_healthy":
                continue
            target = stack.services.get(dep)
            if target is not None and not has_healthcheck(target):
                yield Hit(name, f"waits for {dep} to be healthy, but it has no healthcheck", dep)


@rule(
    "HEALTH-003",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="depends_on states a readiness condition",
    hint="use the long form with condition: service_healthy (or service_completed_successfully)",
    example="""
    services:
      db: {image: "postgres:17.4", healthcheck: {test: ["CMD", "pg_isready"]}}
      app: {image: "example/app:1.4.2", depends_on: [db]}
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4", healthcheck: {test: ["CMD", "pg_isready"]}}
      app: {image: "example/app:1.4.2", depends_on: {db: {condition: service_healthy}}}
    """,
)
def readiness_conditions(stack: Stack) -> Iterator[Hit]:
    """Compose renders the short ``depends_on: [x]`` form as ``service_started``, which
    only orders container creation; the long form with a readiness condition is
    required."""
    for name, spec in stack.services.items():
        for dep, condition in (spec.get("depends_on") or {}).items():
            if (condition or {}).get("condition", "service_started") == "service_started":
                yield Hit(name, f"depends on {dep} without a readiness condition", subject=dep)


@rule(
    "HEALTH-004",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no dependency cycles",
    hint="break the cycle; one side must not wait for the other",
    example="""
    services:
      a: {image: "example/a:1.0.0", depends_on: {b: {condition: service_healthy}}}
      b: {image: "example/b:1.0.0", depends_on: {a: {condition: service_healthy}}}
    """,
    fixed="""
    services:
      a: {image: "example/a:1.0.0", depends_on: {b: {condition: service_healthy}}}
      b: {image: "example/b:1.0.0", healthcheck: {test: ["CMD", "true"]}}
    """,
)
def dependency_cycles(stack: Stack) -> Iterator[Hit]:
    """``depends_on`` forms no cycle (reported once, on the cycle's first service)."""
    # A depth-first walk with its own stack, not recursion: a chain of thousands of
    # services is a shape a generated project can have, and must not exhaust Python's.
    graph = {name: list(spec.get("depends_on") or {}) for name, spec in stack.services.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[str]] = set()
    for root in sorted(graph):
        if state.get(root) is not None:
            continue
        path = [root]  # the services on the current path, in order
        position = {root: 0}
        pending = [iter(graph[root])]  # each path entry's dependencies still to visit
        state[root] = 1
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                done = path.pop()
                del position[done]
                state[done] = 2
                pending.pop()
            elif state.get(dep) == 1:
                cycle = [*path[position[dep] :], dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    first = min(cycle[:-1])
                    yield Hit(first, "dependency cycle: " + " -> ".join(cycle), subject=first)
            elif dep in graph and state.get(dep) is None:
                state[dep] = 1
                position[dep] = len(path)
                path.append(dep)
                pending.append(iter(graph[dep]))
