"""``loki.preflight`` and ``loki.install``: the Loki logging driver, checked and installed."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, profiles_group, report_group
from stackctl.errors import USAGE, EnvironmentProblem
from stackctl.project.compose import Compose, Project
from stackctl.project.render import require_known_profiles
from stackctl.reporting import Outcome, ReportTo, say, table

ORDER = 120
REPORT = report_group("table", "json")
PROFILES = profiles_group("profiles, e.g. core,data (default: every profile)")
HEADERS = ("check", "result", "detail")


@dataclass(frozen=True)
class PreflightOptions:
    project: Project
    profiles: tuple[str, ...]
    report: ReportTo


def parse_preflight(raw: opt.Raw) -> PreflightOptions:
    profiles = PROFILES.parse(raw)
    report = REPORT.parse(raw)
    return PreflightOptions(PROJECT_OPS.parse(raw), profiles, report)


def run_preflight(options: PreflightOptions) -> Outcome:
    """The same step runner as ``up``, over the Loki steps; a failing step is exit 2 there too."""
    from stackctl.operating import preflight

    compose = Compose(options.project)
    require_known_profiles(compose, options.profiles)
    state = preflight.run_steps(
        compose, options.profiles, preflight.LOKI_STEPS, stop_at_failure=False
    )
    rows = [(r.name, "ok" if r.ok else "FAIL", r.detail) for r in state.results]
    problem = preflight.first_failure(state.results)
    return Outcome(
        "loki.preflight",
        exit_code=USAGE if problem else 0,
        text=table(rows, HEADERS),
        data={"checks": [dict(zip(HEADERS, row, strict=True)) for row in rows]},
        problem=problem,
    )


@dataclass(frozen=True)
class InstallOptions:
    dry_run: bool
    report: ReportTo


def parse_install(raw: opt.Raw) -> InstallOptions:
    return InstallOptions(opt.flag(raw, "dry_run"), REPORT.parse(raw))


def run_install(options: InstallOptions) -> Outcome:
    from stackctl.operating import loki

    data = {"command": loki.INSTALL_COMMAND, "dry_run": options.dry_run}
    if options.dry_run:
        return Outcome("loki.install", text=loki.INSTALL_COMMAND, data=data)
    from stackctl.operating import docker_api

    docker_api.client()  # one clear line when no engine answers
    say(f"running: {loki.INSTALL_COMMAND}")
    try:
        done = subprocess.run(
            shlex.split(loki.INSTALL_COMMAND),
            stdin=subprocess.DEVNULL,
            # docker's progress must not mix into a JSON report on stdout.
            stdout=None if options.report.fmt == "table" else sys.stderr,
            check=False,
        )
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot run docker: {error.strerror}", hint="install the docker CLI"
        ) from None
    if done.returncode != 0:
        raise EnvironmentProblem(
            "the plugin install failed (is the registry reachable?)", hint=loki.FALLBACK_HINT
        )
    return Outcome("loki.install", data=data)


COMMANDS = (
    Command(
        "loki.preflight",
        "Loki driver plugin installed and enabled, loki-url reachable, hang-safe options.",
        (PROFILES, REPORT, PROJECT_OPS),
        parse_preflight,
        run_preflight,
    ),
    Command(
        "loki.install",
        "Install the pinned Loki logging driver plugin with --alias loki.",
        (
            opt.Option("dry_run", "flag", "print the pinned install command instead of running it"),
            REPORT,
        ),
        parse_install,
        run_install,
    ),
)
