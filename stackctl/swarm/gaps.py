"""What Swarm enforces of the hardening baseline, and what it silently loses.

Pure: it reads the rendered model and what the preflight probe saw on the
nodes, and returns one row per control. Every control compose enforces and the
Swarm translation cannot keep has a row; ``deploy`` prints the table and refuses
when one is lost, unless the user accepts the gaps. The one exception is start
order, which healthchecks and restarts carry on Swarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from checks.limits import declared_limit
from stackctl.project.secret_specs import specs_from_model
from stackctl.swarm.translate import (
    UNCARRIED_LIMITS,
    loopback_ports,
    runs_as_root,
    secret_sources,
    security_options_dropped,
    single_address_ports,
    tmpfs_options_dropped,
    unreadable_secrets,
)


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
    remedy: str = ""  # what makes the row pass, for deploy's refusal
    advisory: bool = False  # lost, but something else on Swarm carries its purpose

    @property
    def blocking(self) -> bool:
        """A control lost without a word: deploy refuses unless accepted."""
        return self.status is Enforcement.LOST and not self.advisory


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
        remedy="set no-new-privileges in every node's daemon.json (see README, Beyond one host)",
    )


def _applied(requirement: str, control: str, users: list[str], detail: str) -> Gap:
    if not users:
        return Gap(requirement, control, Enforcement.NOT_USED, "no service asks for it")
    return Gap(requirement, control, Enforcement.ENFORCED, f"{detail} ({len(users)} service(s))")


def _limits(spec: Mapping[str, Any], key: str) -> bool:
    """A limit compose applies (``deploy`` or the legacy key): the translation carries both."""
    return declared_limit(spec, key) not in (None, "", 0, "0")


def _lost(
    requirement: str,
    control: str,
    losses: Mapping[str, list[str]],
    detail: str,
    remedy: str,
) -> Gap:
    """NOT enforced when any service loses something (named with what), else not used."""
    lost = {name: what for name, what in losses.items() if what}
    if not lost:
        return Gap(requirement, control, Enforcement.NOT_USED, "no service asks for it")
    listed = "; ".join(f"{name}: {', '.join(what)}" for name, what in sorted(lost.items()))
    return Gap(requirement, control, Enforcement.LOST, f"{detail}: {listed}", remedy)


def _per_service(model: Mapping[str, Any], losses: Any) -> dict[str, list[str]]:
    return {name: losses(spec) for name, spec in (model.get("services") or {}).items()}


def _secret_owners(model: Mapping[str, Any]) -> Gap:
    """Who reads each Swarm secret copy: the declared owner, else the numeric ``user:``."""
    owners = {s.name: s.owner for s in specs_from_model(model) if s.owner is not None}
    lost = _per_service(model, lambda spec: unreadable_secrets(spec, owners))
    gap = _lost(
        "REQ-SPC-OPT-004",
        "secret owners",
        lost,
        "no declared owner and a user that is not numeric, so Swarm's 0:0 0400 copy is not theirs",
        "declare the reader's uid:gid as the secret's owner in x-secret-generators",
    )
    if gap.status is Enforcement.LOST:
        return gap
    readers = _services_with(model, lambda s: bool(secret_sources(s)) and not runs_as_root(s))
    if not readers:
        return Gap("REQ-SPC-OPT-004", "secret owners", Enforcement.NOT_USED, "every reader is root")
    return Gap(
        "REQ-SPC-OPT-004",
        "secret owners",
        Enforcement.ENFORCED,
        f"each copy owned by its declared owner or the service's user: {_named(readers)}",
    )


def assess(model: Mapping[str, Any], probes: Sequence[NodeProbe]) -> list[Gap]:
    """One row per hardening control of the baseline, for this selection on this cluster."""
    caps = _services_with(
        model, lambda s: "ALL" in [str(c).upper() for c in s.get("cap_drop") or []]
    )
    depends = _services_with(model, lambda s: bool(s.get("depends_on")))
    loopback = _services_with(model, loopback_ports)
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
        _lost(
            "REQ-SPC-OPT-002",
            "other resource limits",
            _per_service(model, lambda s: [k for k in UNCARRIED_LIMITS if s.get(k)]),
            "a Swarm task has no field for",
            "keep to deploy.resources.limits (memory, cpus, pids) and mem_limit, cpus,"
            " pids_limit, which the translation carries",
        ),
        _lost(
            "SEC-SPC-OPT-001",
            "seccomp/apparmor/label profiles",
            _per_service(model, security_options_dropped),
            "Swarm drops security_opt and runs the daemon's default profiles",
            "make the daemon's default profile the one the service needs, or run it outside Swarm",
        ),
        _lost(
            "SEC-SPC-OPT-001",
            "tmpfs options",
            _per_service(model, tmpfs_options_dropped),
            "Swarm's tmpfs mount keeps the size only (mode 1777, root-owned, no mount flags)",
            "drop the tmpfs options Swarm cannot keep, or run the service outside Swarm",
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
        _secret_owners(model),
        Gap(
            "PRJ-HYGIENE",
            "loopback-only published ports",
            Enforcement.COMPENSATED if loopback else Enforcement.NOT_USED,
            f"not published at all on Swarm: {_named(loopback)}" if loopback else "none declared",
        ),
        _lost(
            "PRJ-HYGIENE",
            "ports on one address",
            _per_service(model, single_address_ports),
            "Swarm ignores host_ip and publishes on every interface of every node",
            "publish on 127.0.0.1 (then reach it over the stack network) or on every address",
        ),
        Gap(
            "PRJ-HEALTH",
            "depends_on start order",
            Enforcement.LOST if depends else Enforcement.NOT_USED,
            f"dropped; healthchecks and restarts carry readiness: {_named(depends)}"
            if depends
            else "no service declares it",
            advisory=True,
        ),
    ]
    return rows


def blocking(gaps: Sequence[Gap]) -> list[Gap]:
    return [gap for gap in gaps if gap.blocking]
