"""``loki.preflight`` and ``loki.install``: the Loki logging driver, checked and installed."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from stackctl.commands import Command, register
from stackctl.commands import options as opt
from stackctl.errors import USAGE, EnvironmentProblem
from stackctl.operating import loki, preflight
from stackctl.project.compose import Compose, Project
from stackctl.project.render import require_known_profiles
from stackctl.reporting import Outcome, say, table


@dataclass(frozen=True)
class PreflightOptions:
    project: Project
    profiles: tuple[str, ...]


def parse_preflight(raw: opt.Raw) -> PreflightOptions:
    profiles = opt.selection(raw)
    project = opt.project(raw, "ops")
    require_known_profiles(Compose(project), profiles)
    return PreflightOptions(project, profiles)


def run_preflight(options: PreflightOptions) -> Outcome:
    """The same step runner as ``up``, over the Loki steps; a failing step is exit 2 there too."""
    state = preflight.run_steps(
        Compose(options.project), options.profiles, preflight.LOKI_STEPS, stop_at_failure=False
    )
    rows = [(r.name, "ok" if r.ok else "FAIL", r.detail) for r in state.results]
    problem = preflight.first_failure(state.results)
    return Outcome(
        "loki.preflight",
        exit_code=USAGE if problem else 0,
        text=table(rows, ["check", "result", "detail"]),
        problem=problem,
    )


register(
    Command(
        "loki.preflight",
        "Loki driver plugin installed and enabled, loki-url reachable, hang-safe options.",
        (
            opt.Option("profiles", "list", "profiles, e.g. core,data (default: every profile)"),
            *opt.project_options(opt.OPS_ENV_HELP),
        ),
        parse_preflight,
        run_preflight,
    )
)


@dataclass(frozen=True)
class InstallOptions:
    dry_run: bool


def run_install(options: InstallOptions) -> Outcome:
    if options.dry_run:
        return Outcome("loki.install", text=loki.INSTALL_COMMAND)
    from stackctl.operating import docker_api

    docker_api.client()  # one clear line when no engine answers
    say(f"running: {loki.INSTALL_COMMAND}")
    try:
        done = subprocess.run(
            shlex.split(loki.INSTALL_COMMAND), stdin=subprocess.DEVNULL, check=False
        )
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot run docker: {error.strerror}", hint="install the docker CLI"
        ) from None
    if done.returncode != 0:
        raise EnvironmentProblem(
            "the plugin install failed (is the registry reachable?)", hint=loki.FALLBACK_HINT
        )
    return Outcome("loki.install")


register(
    Command(
        "loki.install",
        "Install the pinned Loki logging driver plugin with --alias loki.",
        (opt.Option("dry_run", "flag", "print the pinned install command instead of running it"),),
        lambda raw: InstallOptions(opt.flag(raw, "dry_run")),
        run_install,
    )
)
