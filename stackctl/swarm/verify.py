"""``verify --stack``: the runtime checks of ``stackctl.runtime`` on a Swarm stack's tasks.

Each running task container on this node is compared with the rendered model
by the same ``comparison.compare``, so a task is held to the same controls as a
compose container: capabilities and NoNewPrivs of PID 1 from ``/proc``, init,
read-only root, limits, user, logging, image. That is how the compensating
daemon default is proven on a running task, not just configured.

Some checks mean something else on Swarm and are replaced or left out:
secrets are not host bind mounts (their mode and owner are read from the
service spec instead); Swarm never sets ``security_opt`` on a task, so
no-new-privileges is judged by its effect alone; Swarm assigns every task an
address on its overlay network (not a static address someone declared); and
compose's labels and config hash do not exist on a task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checks import exceptions
from checks.finding import Finding
from stackctl.project.render import Model
from stackctl.runtime.collection import observe
from stackctl.runtime.comparison import Collector, compare
from stackctl.runtime.facts import Expected
from stackctl.runtime.verification import Verification, expectations
from stackctl.swarm.cluster import NAMESPACE_LABEL

SERVICE_NAME_LABEL = "com.docker.swarm.service.name"
SECRET_MODE = 0o400
# Compose's own labels (RUN-016/017) and host-file secret mounts (RUN-012) do not exist on tasks.
NOT_ON_SWARM = frozenset({"RUN-012", "RUN-016", "RUN-017"})


def _applies(finding: Finding) -> bool:
    if finding.rule_id in NOT_ON_SWARM:
        return False
    # Swarm never sets the option on a task: only its effect (NoNewPrivs of PID 1,
    # from the daemon default) can hold, and that part of RUN-004 stays.
    if finding.rule_id == "RUN-004" and finding.subject == "security_opt":
        return False
    # Swarm gives each task an address on the overlay network; nobody declared it.
    return not (finding.rule_id == "RUN-014" and finding.subject.endswith("Address"))


def secret_findings(
    expected: Expected, container: str, spec_secrets: list[Mapping[str, Any]]
) -> list[Finding]:
    """Each declared secret is attached to the task, read-only for its one reader (RUN-012)."""
    out = Collector(expected.service, container)
    attached = {str((s.get("File") or {}).get("Name")): s for s in spec_secrets}
    for entry in expected.spec.get("secrets") or []:
        source = str(entry.get("source") if isinstance(entry, Mapping) else entry)
        target = str(entry.get("target") or source) if isinstance(entry, Mapping) else source
        name = target.removeprefix("/run/secrets/")
        found = attached.get(name)
        if found is None:
            out.add("RUN-012", f"secret {source} is not attached as {name}", subject=source)
            continue
        file = found.get("File") or {}
        if int(file.get("Mode", 0o444)) & 0o077:
            out.add("RUN-012", f"secret {source} is mode {int(file['Mode']):04o}", subject=source)
        owner = expected.secret_owners.get(source)
        if owner is not None and (str(file.get("UID")), str(file.get("GID"))) != tuple(
            map(str, owner)
        ):
            out.add(
                "RUN-012",
                f"secret {source} belongs to {file.get('UID')}:{file.get('GID')},"
                f" declared {owner[0]}:{owner[1]}",
                subject=source,
            )
    return out.findings


def verify_stack(
    model: Model,
    stack: str,
    *,
    client: Any,
    project_dir: Path,
    today: dt.date | None = None,
) -> Verification:
    """Compare every running task container of ``stack`` on this node with ``model``."""
    expected = {
        name: Expected(
            item.service,
            item.spec,
            None,
            {key: f"{stack}_{key}" for key in (model.data.get("networks") or {})},
            item.secret_owners,
        )
        for name, item in expectations(model, {}).items()
    }
    from docker.errors import NotFound

    summaries = client.api.containers(filters={"label": f"{NAMESPACE_LABEL}={stack}"})
    findings: list[Finding] = []
    checked: list[tuple[str, str]] = []
    spec_secrets: dict[str, list[Mapping[str, Any]]] = {}
    for summary in sorted(summaries, key=lambda s: str((s.get("Names") or ["?"])[0])):
        labels = summary.get("Labels") or {}
        service = str(labels.get(SERVICE_NAME_LABEL, "")).removeprefix(f"{stack}_")
        if service not in expected:
            continue
        spec = expected[service].spec
        try:
            observed = observe(client, summary["Id"], str(spec.get("image") or ""))
        except NotFound:
            continue  # a task replaced between listing and inspecting

        findings += [f for f in compare(expected[service], observed) if _applies(f)]
        if service not in spec_secrets:
            task_spec = client.api.inspect_service(f"{stack}_{service}")["Spec"]["TaskTemplate"]
            spec_secrets[service] = list(task_spec.get("ContainerSpec", {}).get("Secrets") or [])
        findings += secret_findings(expected[service], observed.name, spec_secrets[service])
        checked.append((observed.name, service))
    registry, _ = exceptions.load(project_dir)
    findings, _ = exceptions.waive(findings, registry, today or dt.date.today())
    return Verification(stack, checked, findings)
