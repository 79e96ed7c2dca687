"""``deploy``: the same hardened selection on a Docker Swarm.

The selection is rendered and checked with the same steps as ``up`` (profiles
and the profiles they need, secret files, Loki options); the Swarm side lives
in ``stackctl/swarm/``. What Swarm enforces is the report; a refusal or a
stack that does not converge comes back in it as the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, profiles_group, report_group
from stackctl.errors import StackError, UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render, require_known_profiles
from stackctl.reporting import Outcome, ReportTo
from stackctl.swarm import DEFAULT_PROBE_IMAGE

if TYPE_CHECKING:
    from stackctl.swarm import gaps


ORDER = 130
REPORT = report_group("table", "json")
PROFILES = profiles_group("profiles, e.g. core,data ('*' for all)")
STACK_HELP = "stack name (default: the compose project name)"


def project_stack(compose: Compose) -> str:
    """The stack a project deploys as when ``--stack`` is not given: its compose name."""
    name = str(render(compose, [ALL_PROFILES]).data.get("name") or "")
    return opt.stack_name({"stack": name}) or name


@dataclass(frozen=True)
class DeployOptions:
    project: Project
    profiles: tuple[str, ...]
    stack: str | None  # None: the compose project name, rendered when run
    accept_gaps: bool
    probe_image: str
    wait_timeout: int
    report: ReportTo


def parse(raw: opt.Raw) -> DeployOptions:
    wait_timeout = opt.number(raw, "wait_timeout", 300)
    profiles = PROFILES.parse(raw)
    if not profiles:
        raise UsageError(
            "say which profiles to deploy", hint="--profiles core,data (or --profiles '*')"
        )
    report = REPORT.parse(raw)
    project = PROJECT_OPS.parse(raw)
    probe_image = opt.text(raw, "probe_image")
    if probe_image is not None and not probe_image.strip():
        raise UsageError("--probe-image is empty", hint="name a local image, or leave the flag out")
    return DeployOptions(
        project,
        profiles,
        opt.stack_name(raw),
        opt.flag(raw, "accept_swarm_gaps"),
        probe_image or DEFAULT_PROBE_IMAGE,
        wait_timeout,
        report,
    )


@dataclass(frozen=True)
class DeployOutcome(Outcome):
    stack: str | None = None
    gaps: Sequence[gaps.Gap] = field(default_factory=tuple)

    def as_table(self) -> str:
        from stackctl.swarm import deploy

        return deploy.gap_table(self.gaps) if self.gaps else ""

    def as_data(self) -> Mapping[str, Any]:
        return {
            "stack": self.stack,
            "gaps": [
                {
                    "requirement": g.requirement,
                    "control": g.control,
                    "status": g.status.value,
                    "detail": g.detail,
                }
                for g in self.gaps
            ],
        }


def run(options: DeployOptions) -> DeployOutcome:
    from stackctl.operating import preflight
    from stackctl.swarm import cluster, deploy

    compose = Compose(options.project)
    stack = options.stack
    found: list[gaps.Gap] = []
    try:
        require_known_profiles(compose, options.profiles)
        stack = stack or project_stack(compose)
        # The preflight steps that need no engine: the nodes are probed by deploy itself.
        steps = (preflight.profiles_step, preflight.secrets_step, preflight.loki_options_step)
        state = preflight.run_steps(compose, options.profiles, steps, stop_at_failure=True)
        deploy.deploy(
            cluster.Docker(),
            deploy.plan(state.chosen.model.data, stack),
            accept_gaps=options.accept_gaps,
            probe_image=options.probe_image,
            timeout=options.wait_timeout,
            show_gaps=found.extend,
        )
    except StackError as problem:
        # The report still says what Swarm enforces, when it got that far.
        return DeployOutcome(
            "deploy", exit_code=problem.exit_code, problem=problem, stack=stack, gaps=tuple(found)
        )
    return DeployOutcome("deploy", stack=stack, gaps=tuple(found))


COMMANDS = (
    Command(
        "deploy",
        "Render the selection, translate it for Swarm, check every node, deploy, converge.",
        (
            PROFILES,
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
                f" {DEFAULT_PROBE_IMAGE})",
            ),
            opt.Option(
                "wait_timeout",
                "number",
                "seconds to wait for the stack to converge (default 300)",
                default="300",
            ),
            REPORT,
            PROJECT_OPS,
        ),
        parse,
        run,
    ),
)
