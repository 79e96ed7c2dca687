"""``deploy`` / ``undeploy``: the same hardened selection, on a Swarm.

Order of work, each step stopping at its first failure:
render the selection with compose -> translate it -> preflight the cluster
(manager, every node's no-new-privileges default and logging driver, images)
-> print what Swarm enforces -> refuse any control Swarm would lose (the gap
table's NOT enforced rows) unless accepted -> deploy -> wait for convergence
with progress.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackctl.errors import EnvironmentProblem, StackError
from stackctl.operating.redact import Redactor
from stackctl.project.secret_specs import SecretSpec, specs_from_model
from stackctl.reporting import say, short_list, table
from stackctl.swarm import DEFAULT_PROBE_IMAGE, cluster, gaps
from stackctl.swarm.translate import Translation, translate

Say = Callable[[str], None]


@dataclass(frozen=True)
class DeployPlan:
    """Everything decided before the cluster is touched."""

    stack: str
    model: Mapping[str, Any]
    translation: Translation
    secrets: tuple[SecretSpec, ...]

    @property
    def services(self) -> list[str]:
        return sorted(self.model.get("services") or {})

    @property
    def one_shot(self) -> list[str]:
        return [
            name
            for name, spec in (self.translation.stack.get("services") or {}).items()
            if (spec.get("deploy") or {}).get("restart_policy", {}).get("condition") == "none"
            and not spec.get("healthcheck")
        ]

    def logging(self) -> Mapping[str, Any] | None:
        drivers = {
            str((spec.get("logging") or {}).get("driver") or "")
            for spec in (self.model.get("services") or {}).values()
        }
        drivers.discard("")
        for spec in (self.model.get("services") or {}).values():
            if (spec.get("logging") or {}).get("driver") in drivers - {"json-file", "local"}:
                return dict(spec["logging"])
        return None


def plan(model: Mapping[str, Any], stack: str) -> DeployPlan:
    """Translate a rendered selection; every used file secret must exist and be readable."""
    specs = specs_from_model(model)
    used = {
        ref.get("source") if isinstance(ref, Mapping) else str(ref)
        for spec in (model.get("services") or {}).values()
        for ref in spec.get("secrets") or []
    }
    specs = [s for s in specs if s.name in used]
    versions: dict[str, str] = {}
    for spec in specs:
        try:
            versions[spec.name] = cluster.content_version(spec.path)
        except OSError as error:
            raise EnvironmentProblem(
                f"secret {spec.name}: cannot read {spec.path}: {error.strerror}",
                hint="invoke secrets.scaffold",
            ) from None
    owners = {s.name: s.owner for s in specs if s.owner is not None}
    translation = translate(
        model,
        stack=stack,
        secret_versions=versions,
        secret_owners=owners,
    )
    return DeployPlan(stack, model, translation, tuple(specs))


def gap_table(rows: Sequence[gaps.Gap]) -> str:
    return table(
        [(g.requirement, g.control, g.status.value, g.detail) for g in rows],
        ["requirement", "control", "on Swarm", "detail"],
    )


def print_gap_table(rows: Sequence[gaps.Gap]) -> None:
    print(gap_table(rows))


def preflight(
    docker: cluster.Docker, deploy_plan: DeployPlan, probe_image: str, progress: Say
) -> list[gaps.NodeProbe]:
    progress("preflight (swarm)")
    cluster.require_manager(docker)
    progress("  ok    swarm      this engine is an active manager")
    probes = cluster.probe_nodes(docker, image=probe_image, logging=deploy_plan.logging())
    broken = [p for p in probes if p.no_new_privileges is None]
    if broken:
        listed = short_list([f"{p.node} ({p.error})" for p in broken])
        raise EnvironmentProblem(
            f"the node probe could not run on {len(broken)} node(s): {listed}",
            hint="a node without the stack's logging plugin or the probe image fails here;"
            " install the plugin (invoke loki.install) on every node",
        )
    with_default = sum(1 for p in probes if p.no_new_privileges)
    progress(
        f"  ok    nodes      {len(probes)} node(s) probed; {with_default} with the daemon's"
        " no-new-privileges default"
    )
    images = [str(s.get("image")) for s in (deploy_plan.model.get("services") or {}).values()]
    missing = cluster.missing_images(docker, [i for i in images if i and i != "None"])
    if missing:
        progress(f"  note  images     not on this node, Swarm pulls them: {', '.join(missing)}")
    else:
        progress(f"  ok    images     {len(set(images))} image(s) present on this node")
    return probes


def failure_report(
    docker: cluster.Docker, deploy_plan: DeployPlan, state: cluster.Convergence
) -> str:
    redact = Redactor.from_files(spec.path for spec in deploy_plan.secrets)
    parts = []
    for service in state.pending:
        errors = state.failed.get(service, ())
        parts.append(f"--- {service}: {'; '.join(errors) or 'not converged'} ---")
        tail = cluster.service_log_tail(docker, deploy_plan.stack, service)
        parts.append(redact(tail) or "(no output)")
    return "\n".join(parts)


def deploy(
    docker: cluster.Docker,
    deploy_plan: DeployPlan,
    *,
    accept_gaps: bool = False,
    probe_image: str = DEFAULT_PROBE_IMAGE,
    timeout: float = 300.0,
    progress: Say = say,
    show_gaps: Callable[[Sequence[gaps.Gap]], None] = print_gap_table,
) -> int:
    """Deploy and wait for convergence; 0 when every service converged.

    What Swarm enforces goes to ``show_gaps`` before anything is deployed. Every
    failure raises a ``StackError``: a refused gap or an environment problem
    (exit 2), a stack that did not converge (exit 1, its redacted log tails
    shown first).
    """
    probes = preflight(docker, deploy_plan, probe_image, progress)
    rows = gaps.assess(deploy_plan.model, probes)
    show_gaps(rows)
    lost = gaps.blocking(rows)
    if lost and not accept_gaps:
        names = "; ".join(f"{g.requirement} {g.control}: {g.detail}" for g in lost)
        remedies = "; ".join(dict.fromkeys(g.remedy for g in lost if g.remedy))
        raise EnvironmentProblem(
            f"refusing to deploy: Swarm would silently lose {names}",
            hint=f"{remedies}, or repeat with --accept-swarm-gaps"
            if remedies
            else "repeat with --accept-swarm-gaps",
        )
    for gap in lost:
        progress(f"warning: deploying with an accepted gap: {gap.requirement} {gap.control}")
    for note in deploy_plan.translation.notes:
        progress(f"note: {note.service or 'stack'}: {note.message}")
    with tempfile.TemporaryDirectory(prefix="stackctl-swarm-") as work:
        stack_file = Path(work) / "stack.yml"
        # The file names secret files, never their values.
        stack_file.write_text(yaml.safe_dump(deploy_plan.translation.stack, sort_keys=False))
        stack_file.chmod(0o600)
        ignored = cluster.deploy(docker, stack_file, deploy_plan.stack)
    if ignored:
        progress(f"warning: docker stack deploy: {ignored}")
    progress(f"deployed stack {deploy_plan.stack}; waiting up to {timeout:.0f}s to converge")
    state = cluster.wait_converged(
        docker,
        deploy_plan.stack,
        deploy_plan.services,
        one_shot=deploy_plan.one_shot,
        timeout=timeout,
        progress=lambda line: progress(f"  {line}"),
    )
    if not state.converged:
        progress(failure_report(docker, deploy_plan, state))
        raise StackError(
            f"stack {deploy_plan.stack} did not converge",
            hint=f"nothing was rolled back: inspect, then"
            f" `invoke undeploy --stack {deploy_plan.stack}`",
        )
    current = list(deploy_plan.translation.secret_names.values())
    pruned = cluster.prune_old_secrets(docker, deploy_plan.stack, current)
    if pruned:
        progress(f"removed {len(pruned)} superseded secret version(s)")
    progress(f"stack {deploy_plan.stack}: all {len(deploy_plan.services)} services converged")
    return 0


def undeploy(
    docker: cluster.Docker, stack: str, *, timeout: float = 120.0, progress: Say = say
) -> int:
    """Remove ``stack``; 0 when nothing of it is left, else a ``StackError`` (exit 1) naming it."""
    cluster.require_manager(docker)
    remaining = cluster.undeploy(docker, stack, timeout=timeout, progress=progress)
    if not remaining.empty:
        raise StackError(f"stack {stack} left {remaining.describe()}")
    progress(f"stack {stack}: no services, networks, secrets or configs left")
    return 0
