"""``ps``: the project's containers (or a Swarm stack's tasks), one row each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, report_group
from stackctl.project.compose import Compose, Project
from stackctl.reporting import Outcome, ReportTo, table

ORDER = 70
REPORT = report_group("table", "json")
PS_HEADERS = ("service", "profile", "state", "health", "ports")
STACK_PS_HEADERS = ("service", "node", "desired", "state", "error")


@dataclass(frozen=True)
class PsOptions:
    project: Project
    report: ReportTo
    stack: str | None = None


def parse(raw: opt.Raw) -> PsOptions:
    report = REPORT.parse(raw)
    return PsOptions(PROJECT_OPS.parse(raw), report, opt.stack_name(raw))


@dataclass(frozen=True)
class PsOutcome(Outcome):
    rows: Sequence[Sequence[str]] = ()
    headers: Sequence[str] = PS_HEADERS

    def as_table(self) -> str:
        return table(self.rows, self.headers) if self.rows else "no containers"

    def as_data(self) -> Mapping[str, Any]:
        return {"containers": [dict(zip(self.headers, row, strict=True)) for row in self.rows]}


def run(options: PsOptions) -> PsOutcome:
    from stackctl.operating import lifecycle

    if options.stack:
        from stackctl.swarm import cluster

        docker = cluster.Docker()
        cluster.require_manager(docker)  # not a manager: an environment error, exit 2
        rows = cluster.stack_rows(docker, options.stack)
        return PsOutcome("ps", rows=rows, headers=STACK_PS_HEADERS)
    return PsOutcome("ps", rows=lifecycle.ps_rows(Compose(options.project)))


COMMANDS = (
    Command(
        "ps",
        "Table of service, profile, state, health and published ports.",
        (REPORT, opt.Option("stack", "text", opt.STACK_HELP), PROJECT_OPS),
        parse,
        run,
    ),
)
