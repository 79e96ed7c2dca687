"""``deploy`` and ``undeploy``: the same hardened selection on a Docker Swarm.

The selection is rendered and checked with the same steps as ``up`` (profiles
and the profiles they need, secret files, Loki options); the Swarm side lives
in ``stackctl/swarm/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stackctl.commands import Command, register
from stackctl.commands import options as opt
from stackctl.errors import UsageError
from stackctl.operating import preflight
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render, require_known_profiles
from stackctl.reporting import Outcome
from stackctl.swarm import cluster, deploy

PROJECT = opt.project_options(opt.OPS_ENV_HELP)
STACK_HELP = "stack name (default: the compose project name)"
COMPOSE_STEPS = (preflight.profiles_step, preflight.secrets_step, preflight.loki_options_step)


def _stack_name(raw: opt.Raw, project: Callable[[], Project]) -> str:
    """``--stack``, else the compose project name (rendered only when needed)."""
    given = opt.stack_name(raw)
    if given is not None:
        return given
    name = str(render(Compose(project()), [ALL_PROFILES]).data.get("name") or "")
    return opt.stack_name({"stack": name}) or name


# -- deploy -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployOptions:
    project: Project
    profiles: tuple[str, ...]
    stack: str
    accept_gaps: bool
    probe_image: str
    wait_timeout: int


def parse_deploy(raw: opt.Raw) -> DeployOptions:
    wait_timeout = opt.number(raw, "wait_timeout", 300)
    profiles = opt.selection(raw)
    if not profiles:
        raise UsageError(
            "say which profiles to deploy", hint="--profiles core,data (or --profiles '*')"
        )
    project = opt.project(raw, "ops")
    require_known_profiles(Compose(project), profiles)
    probe_image = opt.text(raw, "probe_image")
    if probe_image is not None and not probe_image.strip():
        raise UsageError("--probe-image is empty", hint="name a local image, or leave the flag out")
    probe_image = probe_image or cluster.DEFAULT_PROBE_IMAGE
    return DeployOptions(
        project,
        profiles,
        _stack_name(raw, lambda: project),
        opt.flag(raw, "accept_swarm_gaps"),
        probe_image,
        wait_timeout,
    )


def run_deploy(options: DeployOptions) -> Outcome:
    state = preflight.run_steps(
        Compose(options.project), options.profiles, COMPOSE_STEPS, stop_at_failure=True
    )
    plan = deploy.plan(state.chosen.model.data, options.stack)
    code = deploy.deploy(
        cluster.Docker(),
        plan,
        accept_gaps=options.accept_gaps,
        probe_image=options.probe_image,
        timeout=options.wait_timeout,
    )
    return Outcome("deploy", exit_code=code)


register(
    Command(
        "deploy",
        "Render the selection, translate it for Swarm, check every node, deploy, converge.",
        (
            opt.Option("profiles", "list", "profiles, e.g. core,data ('*' for all)"),
            opt.Option("stack", "text", STACK_HELP),
            opt.Option(
                "accept_swarm_gaps",
                "flag",
                "deploy even when Swarm would lose a SEC requirement (each gap is named)",
            ),
            opt.Option(
                "probe_image",
                "text",
                f"image of the one-shot task that probes every node (default:"
                f" {cluster.DEFAULT_PROBE_IMAGE})",
            ),
            opt.Option(
                "wait_timeout",
                "number",
                "seconds to wait for the stack to converge (default 300)",
                default="300",
            ),
            *PROJECT,
        ),
        parse_deploy,
        run_deploy,
    )
)


# -- undeploy -------------------------------------------------------------------------


@dataclass(frozen=True)
class UndeployOptions:
    stack: str


def parse_undeploy(raw: opt.Raw) -> UndeployOptions:
    return UndeployOptions(_stack_name(raw, lambda: opt.project(raw, "ops", notice=False)))


def run_undeploy(options: UndeployOptions) -> Outcome:
    return Outcome("undeploy", exit_code=deploy.undeploy(cluster.Docker(), options.stack))


register(
    Command(
        "undeploy",
        "Remove a Swarm stack and wait until no service, network or secret of it remains.",
        (opt.Option("stack", "text", STACK_HELP), *PROJECT),
        parse_undeploy,
        run_undeploy,
    )
)
