"""``logs``: service logs with every secret value masked.

In table format to stdout the lines stream as they arrive (``--follow`` keeps
streaming); ``--format json`` or ``--output`` collect them into one report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, report_group
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render
from stackctl.reporting import Outcome, ReportTo

ORDER = 80
REPORT = report_group("table", "json")
# compose and docker stop a followed stream with SIGTERM on their own: not a failure.
STREAM_ENDED = (0, -15)


@dataclass(frozen=True)
class LogsOptions:
    project: Project
    service: str | None
    follow: bool
    tail: int
    report: ReportTo
    stack: str | None = None

    @property
    def streamed(self) -> bool:
        """Lines go straight to stdout; otherwise they are collected into the report."""
        return self.report.fmt == "table" and self.report.output is None


def parse(raw: opt.Raw) -> LogsOptions:
    tail = opt.number(raw, "tail", 100, maximum=1_000_000)
    report = REPORT.parse(raw)
    stack = opt.stack_name(raw)
    service, follow = opt.text(raw, "service"), opt.flag(raw, "follow")
    if stack and follow and not service:
        raise UsageError(
            "--follow on a stack follows one service",
            hint=f"add --service, e.g. --stack {stack} --follow --service web",
        )
    options = LogsOptions(PROJECT_OPS.parse(raw), service, follow, tail, report, stack)
    if follow and not options.streamed:
        raise UsageError(
            "--follow streams to stdout; a --format json or --output report is written once",
            hint="leave out --follow, or --format and --output",
        )
    return options


@dataclass(frozen=True)
class LogsOutcome(Outcome):
    service: str | None = None
    lines: Sequence[str] = ()

    def as_table(self) -> str:
        return "".join(self.lines)

    def as_data(self) -> Mapping[str, Any]:
        return {"service": self.service, "lines": [line.rstrip("\n") for line in self.lines]}


def run(options: LogsOptions) -> LogsOutcome:
    from stackctl.operating import lifecycle

    lines: list[str] = []
    write = _print if options.streamed else lines.append
    if options.stack:
        status = _stack_logs(options, write)
    else:
        compose = Compose(options.project)
        status = lifecycle.stream_logs(
            compose, options.service, follow=options.follow, tail=options.tail, write=write
        )
    code = 0 if status in STREAM_ENDED else 1
    return LogsOutcome("logs", exit_code=code, service=options.service, lines=lines)


def _print(line: str) -> None:
    print(line, end="", flush=True)


def _stack_logs(options: LogsOptions, write: Callable[[str], None]) -> int:
    """``docker service logs`` of a stack, masked with the project's secret values."""
    from stackctl.operating import lifecycle
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
            write=lambda line: write(redact(line)),
        )
        status = status or code
    return status


COMMANDS = (
    Command(
        "logs",
        "Service logs with every secret value masked.",
        (
            opt.Option("service", "text", "only this service"),
            opt.Option("follow", "flag", "keep streaming"),
            opt.Option("tail", "number", "lines per service (default 100)", default="100"),
            opt.Option("stack", "text", opt.STACK_HELP),
            REPORT,
            PROJECT_OPS,
        ),
        parse,
        run,
    ),
)
