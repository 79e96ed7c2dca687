"""``up``, ``down``, ``ps`` and ``logs``: operating a profile selection on the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command, register
from stackctl.commands import options as opt
from stackctl.errors import UsageError
from stackctl.operating import lifecycle
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render, require_known_profiles
from stackctl.reporting import Outcome, ReportTo, table

PROFILES_HELP = "profiles, e.g. core,data (comma-separated, repeatable; '*' for all)"
PROJECT = opt.project_options(opt.OPS_ENV_HELP)


def _known(project: Project, profiles: tuple[str, ...]) -> tuple[str, ...]:
    require_known_profiles(Compose(project), profiles)
    return profiles


# -- up ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UpOptions:
    project: Project
    profiles: tuple[str, ...]
    wait_timeout: int
    down_on_failure: bool


def parse_up(raw: opt.Raw) -> UpOptions:
    wait_timeout = opt.number(raw, "wait_timeout", 180)
    profiles = opt.selection(raw)
    project = opt.project(raw, "ops")
    return UpOptions(
        project, _known(project, profiles), wait_timeout, opt.flag(raw, "down_on_failure")
    )


def run_up(options: UpOptions) -> Outcome:
    code = lifecycle.up(
        Compose(options.project),
        options.profiles,
        wait_timeout=options.wait_timeout,
        down_on_failure=options.down_on_failure,
    )
    return Outcome("up", exit_code=code)


register(
    Command(
        "up",
        "Preflight (engine, secrets, state, Loki driver, images), start, wait for healthy.",
        (
            opt.Option(
                "profiles", "list", PROFILES_HELP + "; needed profiles are added automatically"
            ),
            opt.Option(
                "wait_timeout",
                "number",
                "seconds to wait for every service to be healthy (default 180)",
                default="180",
            ),
            opt.Option(
                "down_on_failure",
                "flag",
                "remove the selection's containers when it does not become healthy",
            ),
            *PROJECT,
        ),
        parse_up,
        run_up,
    )
)


# -- down -------------------------------------------------------------------------


@dataclass(frozen=True)
class DownOptions:
    project: Project
    profiles: tuple[str, ...]
    volumes: bool
    confirm: bool


def parse_down(raw: opt.Raw) -> DownOptions:
    profiles = opt.selection(raw)
    project = opt.project(raw, "ops")
    return DownOptions(
        project,
        _known(project, profiles),
        opt.flag(raw, "volumes"),
        opt.flag(raw, "yes_delete_volumes"),
    )


def run_down(options: DownOptions) -> Outcome:
    code = lifecycle.down(
        Compose(options.project), options.profiles, volumes=options.volumes, confirm=options.confirm
    )
    return Outcome("down", exit_code=code)


register(
    Command(
        "down",
        "Stop and remove containers; volumes and host state are kept unless confirmed.",
        (
            opt.Option("profiles", "list", PROFILES_HELP + " (default: every profile)"),
            opt.Option("volumes", "flag", "also delete named volumes (needs --yes-delete-volumes)"),
            opt.Option("yes_delete_volumes", "flag", "confirm --volumes"),
            *PROJECT,
        ),
        parse_down,
        run_down,
    )
)


# -- ps ---------------------------------------------------------------------------

PS_HEADERS = ("service", "profile", "state", "health", "ports")
STACK_PS_HEADERS = ("service", "node", "desired", "state", "error")


@dataclass(frozen=True)
class PsOptions:
    project: Project
    report: ReportTo
    stack: str | None = None


def parse_ps(raw: opt.Raw) -> PsOptions:
    report = ReportTo(opt.choice(raw, "format", ("table", "json"), "table"), opt.output_path(raw))
    return PsOptions(opt.project(raw, "ops"), report, opt.stack_name(raw))


@dataclass(frozen=True)
class PsOutcome(Outcome):
    rows: Sequence[Sequence[str]] = ()
    headers: Sequence[str] = PS_HEADERS

    def as_table(self) -> str:
        return table(self.rows, self.headers) if self.rows else "no containers"

    def as_data(self) -> Mapping[str, Any]:
        return {"containers": [dict(zip(self.headers, row, strict=True)) for row in self.rows]}


def run_ps(options: PsOptions) -> PsOutcome:
    if options.stack:
        from stackctl.swarm import cluster

        docker = cluster.Docker()
        cluster.require_manager(docker)  # not a manager: an environment error, exit 2
        rows = cluster.stack_rows(docker, options.stack)
        return PsOutcome("ps", rows=rows, headers=STACK_PS_HEADERS)
    return PsOutcome("ps", rows=lifecycle.ps_rows(Compose(options.project)))


register(
    Command(
        "ps",
        "Table of service, profile, state, health and published ports.",
        (
            opt.Option("format", "text", "table (default) or json", default="table"),
            opt.Option("output", "text", "write the report to this file instead of stdout"),
            opt.Option("stack", "text", opt.STACK_HELP),
            *PROJECT,
        ),
        parse_ps,
        run_ps,
        lambda options: options.report,
    )
)


# -- logs -------------------------------------------------------------------------


@dataclass(frozen=True)
class LogsOptions:
    project: Project
    service: str | None
    follow: bool
    tail: int
    stack: str | None = None


def parse_logs(raw: opt.Raw) -> LogsOptions:
    tail = opt.number(raw, "tail", 100, maximum=1_000_000)
    stack = opt.stack_name(raw)
    service, follow = opt.text(raw, "service"), opt.flag(raw, "follow")
    if stack and follow and not service:
        raise UsageError(
            "--follow on a stack follows one service",
            hint=f"add --service, e.g. --stack {stack} --follow --service web",
        )
    return LogsOptions(opt.project(raw, "ops"), service, follow, tail, stack)


def run_logs(options: LogsOptions) -> Outcome:
    if options.stack:
        return Outcome("logs", exit_code=_stack_logs(options))
    status = lifecycle.stream_logs(
        Compose(options.project), options.service, follow=options.follow, tail=options.tail
    )
    return Outcome("logs", exit_code=0 if status in (0, -15) else 1)


register(
    Command(
        "logs",
        "Service logs with every secret value masked.",
        (
            opt.Option("service", "text", "only this service"),
            opt.Option("follow", "flag", "keep streaming"),
            opt.Option("tail", "number", "lines per service (default 100)", default="100"),
            opt.Option("stack", "text", opt.STACK_HELP),
            *PROJECT,
        ),
        parse_logs,
        run_logs,
    )
)


def _stack_logs(options: LogsOptions) -> int:
    """``docker service logs`` of a stack, masked with the project's secret values."""
    from stackctl.swarm import cluster

    assert options.stack is not None
    docker = cluster.Docker()
    cluster.require_manager(docker)
    services = cluster.stack_services(docker, options.stack)
    if options.service and options.service not in services:
        raise UsageError(
            f"stack {options.stack} has no service {options.service!r}",
            hint=f"its services: {', '.join(services) or 'none (is it deployed?)'}",
        )
    redact = lifecycle.redactor_for(render(Compose(options.project), [ALL_PROFILES]))
    status = 0
    for service in [options.service] if options.service else services:
        code = cluster.stream_service_logs(
            docker,
            options.stack,
            service,
            tail=options.tail,
            follow=options.follow,
            write=lambda line: print(redact(line), end="", flush=True),
        )
        status = status or code
    return 0 if status in (0, -15) else 1
