"""One verification of a compose project: every container looked at, compared, waived.

:func:`verify` lists the project's containers and the strangers on its
networks, collects each (``stackctl.runtime.collection``), compares it
(``stackctl.runtime.comparison``) and lets the exceptions registry suppress
what it covers, exactly as for the static checks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from checks import exceptions
from checks.conventions import PROJECT_LABEL, SERVICE_LABEL
from checks.finding import Finding, Severity
from stackctl.errors import RenderError
from stackctl.project.compose import Compose, first_error_line
from stackctl.project.render import Model
from stackctl.project.secret_specs import specs_from_model
from stackctl.runtime.collection import network_members, observe
from stackctl.runtime.comparison import compare, unmanaged
from stackctl.runtime.facts import Expected

# Findings below this severity are shown but do not fail (e.g. "cannot read /proc").
FAIL_AT = Severity.MEDIUM


def fails(finding: Finding) -> bool:
    """An open finding at or above :data:`FAIL_AT`: it fails the verification."""
    return not finding.suppressed and finding.severity >= FAIL_AT


def service_hashes(compose: Compose) -> dict[str, str]:
    """Compose's config hash of every service of every profile (``config --hash '*'``)."""
    done = compose.run(["config", "--hash", "*"], ["*"])
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config --hash failed")
    hashes = {}
    for line in done.stdout.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and value:
            hashes[name] = value.strip()
    return hashes


@dataclass
class Verification:
    """The outcome for one project: the containers looked at and what differs."""

    project: str
    containers: list[tuple[str, str]]  # (container, service)
    findings: list[Finding]

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if fails(f)]

    @property
    def ok(self) -> bool:
        return not self.failing


def expectations(model: Model, hashes: Mapping[str, str]) -> dict[str, Expected]:
    """Every service of ``model`` as the engine should run it (network names as created)."""
    project = str(model.data.get("name", ""))
    networks = {
        key: str((spec or {}).get("name") or f"{project}_{key}")
        for key, spec in (model.data.get("networks") or {}).items()
    }
    owners = {spec.name: spec.owner for spec in specs_from_model(model.data)}
    return {
        name: Expected(name, spec, hashes.get(name), networks, owners)
        for name, spec in model.services.items()
    }


def verify(
    compose: Compose,
    model: Model,
    *,
    client: Any,
    hashes: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> Verification:
    """Compare every container of ``model``'s project (and strangers on its networks)."""
    hashes = service_hashes(compose) if hashes is None else hashes
    project = str(model.data.get("name", ""))
    expected = expectations(model, hashes)
    summaries = client.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    findings: list[Finding] = []
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    from docker.errors import NotFound

    # A container removed between listing and inspecting is gone, not an error.
    for summary in sorted(summaries, key=lambda s: str((s.get("Names") or ["?"])[0])):
        seen.add(str(summary["Id"]))
        labels = summary.get("Labels") or {}
        service = labels.get(SERVICE_LABEL, "")
        with contextlib.suppress(NotFound):
            if service in expected:
                spec = expected[service].spec
                observed = observe(client, summary["Id"], str(spec.get("image") or ""))
                findings += compare(expected[service], observed)
                checked.append((observed.name, service))
            elif service not in hashes:  # not a service of another profile either
                attrs = client.api.inspect_container(summary["Id"])
                findings += unmanaged(attrs, project, hashes)
                checked.append((str(attrs.get("Name", "?")).lstrip("/"), service or "-"))
    for network in sorted(set(expected_networks(expected))):
        for container_id in network_members(client, network):
            if container_id in seen:
                continue
            seen.add(container_id)
            try:
                attrs = client.api.inspect_container(container_id)
            except NotFound:
                continue
            strangers = unmanaged(attrs, project, hashes)
            if strangers:
                findings += strangers
                checked.append((str(attrs.get("Name", "?")).lstrip("/"), "-"))
    registry, _ = exceptions.load(compose.project.directory)
    findings, _ = exceptions.waive(findings, registry, today or dt.date.today())
    return Verification(project, checked, findings)


def expected_networks(expected: Mapping[str, Expected]) -> Iterable[str]:
    """The engine names of every network a declared service joins."""
    for item in expected.values():
        for key in item.spec.get("networks") or {}:
            yield item.network_names.get(key, key)
