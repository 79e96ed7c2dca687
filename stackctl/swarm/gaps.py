"""What Swarm enforces of the hardening baseline, and what it silently loses.

Pure: it reads the rendered model and what the preflight probe saw on the
nodes, and returns one row per control. ``deploy`` prints the table and refuses
when a SEC requirement would be lost, unless the user accepts the gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from checks.limits import deploy_limit
from stackctl.swarm.translate import LOOPBACK_HOSTS


class Enforcement(Enum):
    ENFORCED = "enforced"
    COMPENSATED = "compensating control"
    LOST = "NOT enforced"
    NOT_USED = "not used"


@dataclass(frozen=True)
class NodeProbe:
    """What one node's daemon gives every container it starts, as seen from inside one."""

    node: str
    no_new_privileges: bool | None  # None: the probe task did not report
    error: str = ""


@dataclass(frozen=True)
class Gap:
    requirement: str
    control: str
    status: Enforcement
    detail: str

    @property
    def blocking(self) -> bool:
        """A security requirement lost without a word: deploy refuses unless accepted."""
        return self.status is Enforcement.LOST and self.requirement.startswith("SEC-")


def _services_with(model: Mapping[str, Any], predicate: Any) -> list[str]:
    return sorted(n for n, s in (model.get("services") or {}).items() if predicate(s))


def _named(services: Sequence[str]) -> str:
    return ", ".join(services) if services else "-"


def _nnp(model: Mapping[str, Any], probes: Sequence[NodeProbe]) -> Gap:
    wanted = _services_with(
        model,
        lambda s: any("no-new-privileges" in str(o) for o in s.get("security_opt") or []),
    )
    control = "no-new-privileges"
    if not wanted:
        return Gap("SEC-SPC-OPT-001", control, Enforcement.NOT_USED, "no service asks for it")
    without = [p.node for p in probes if p.no_new_privileges is not True]
    if probes and not without:
        return Gap(
            "SEC-SPC-OPT-001",
            control,
            Enforcement.COMPENSATED,
            f"Swarm drops security_opt; every node's daemon sets it by default ({len(probes)}"
            " node(s) probed)",
        )
    where = _named(without) if probes else "no node could be probed"
    return Gap(
        "SEC-SPC-OPT-001",
        control,
        Enforcement.LOST,
        f"Swarm drops security_opt and the daemon default is off on: {where};"
        f" affects {_named(wanted)}",
    )


def _applied(requirement: str, control: str, users: list[str], detail: str) -> Gap:
    if not users:
        return Gap(requirement, control, Enforcement.NOT_USED, "no service asks for it")
    return Gap(requirement, control, Enforcement.ENFORCED, f"{detail} ({len(users)} service(s))")


def _limits(spec: Mapping[str, Any], key: str) -> bool:
    return deploy_limit(spec, key) not in (None, "", 0, "0")


def _loopback_ports(spec: Mapping[str, Any]) -> bool:
    return any(
        isinstance(p, Mapping) and str(p.get("host_ip") or "") in LOOPBACK_HOSTS
        for p in spec.get("ports") or []
    )


def assess(model: Mapping[str, Any], probes: Sequence[NodeProbe]) -> list[Gap]:
    """One row per hardening control of the baseline, for this selection on this cluster."""
    caps = _services_with(
        model, lambda s: "ALL" in [str(c).upper() for c in s.get("cap_drop") or []]
    )
    depends = _services_with(model, lambda s: bool(s.get("depends_on")))
    loopback = _services_with(model, _loopback_ports)
    rows = [
        _applied("SEC-SPC-OPT-001", "cap_drop: [ALL]", caps, "applied to each task"),
        _nnp(model, probes),
        _applied(
            "SEC-SPC-OPT-001",
            "init",
            _services_with(model, lambda s: bool(s.get("init"))),
            "applied to each task",
        ),
        _applied(
            "SEC-SPC-OPT-001",
            "read-only root",
            _services_with(model, lambda s: bool(s.get("read_only"))),
            "applied to each task",
        ),
        _applied(
            "SEC-SPC-OPT-001",
            "tmpfs scratch space",
            _services_with(model, lambda s: bool(s.get("tmpfs"))),
            "translated to type: tmpfs mounts",
        ),
        _applied(
            "REQ-SPC-OPT-002",
            "memory limit",
            _services_with(model, lambda s: _limits(s, "memory")),
            "applied to each task",
        ),
        _applied(
            "REQ-SPC-OPT-002",
            "cpu limit",
            _services_with(model, lambda s: _limits(s, "cpus")),
            "applied to each task (cpus as a string)",
        ),
        _applied(
            "REQ-SPC-OPT-002",
            "pids limit",
            _services_with(model, lambda s: _limits(s, "pids")),
            "applied to each task",
        ),
        _applied(
            "REQ-SPC-OPT-003",
            "DNS names, no static addresses",
            sorted(model.get("services") or {}),
            "overlay network per stack",
        ),
        _applied(
            "REQ-SPC-OPT-004",
            "secrets from files",
            _services_with(model, lambda s: bool(s.get("secrets"))),
            "Swarm secrets, mode 0400 per reader, versioned by content",
        ),
        Gap(
            "PRJ-HYGIENE",
            "loopback-only published ports",
            Enforcement.COMPENSATED if loopback else Enforcement.NOT_USED,
            f"not published at all on Swarm: {_named(loopback)}" if loopback else "none declared",
        ),
        Gap(
            "PRJ-HEALTH",
            "depends_on start order",
            Enforcement.LOST if depends else Enforcement.NOT_USED,
            f"dropped; healthchecks and restarts carry readiness: {_named(depends)}"
            if depends
            else "no service declares it",
        ),
    ]
    return rows


def blocking(gaps: Sequence[Gap]) -> list[Gap]:
    return [gap for gap in gaps if gap.blocking]
