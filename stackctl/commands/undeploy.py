"""``undeploy``: remove a Swarm stack and wait until nothing of it remains."""

from __future__ import annotations

from dataclasses import dataclass

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.deploy import STACK_HELP, project_stack
from stackctl.commands.groups import project_group, report_group
from stackctl.errors import StackError
from stackctl.project.compose import Compose, Project
from stackctl.reporting import Outcome, ReportTo

ORDER = 140
REPORT = report_group("table", "json")
# Read only to name the stack: no notice about which env file that used.
PROJECT = project_group("ops", notice=False)


@dataclass(frozen=True)
class UndeployOptions:
    stack: str | None
    project: Project | None  # read only without --stack: its compose name is the stack's
    report: ReportTo


def parse(raw: opt.Raw) -> UndeployOptions:
    report = REPORT.parse(raw)
    stack = opt.stack_name(raw)
    project = None if stack else PROJECT.parse(raw)
    return UndeployOptions(stack, project, report)


def run(options: UndeployOptions) -> Outcome:
    from stackctl.swarm import cluster, deploy

    stack = options.stack
    try:
        if stack is None:
            assert options.project is not None
            stack = project_stack(Compose(options.project))
        deploy.undeploy(cluster.Docker(), stack)
    except StackError as problem:
        data = {"stack": stack, "removed": False}
        return Outcome("undeploy", exit_code=problem.exit_code, data=data, problem=problem)
    return Outcome("undeploy", data={"stack": stack, "removed": True})


COMMANDS = (
    Command(
        "undeploy",
        "Remove a Swarm stack and wait until no service, network or secret of it remains.",
        (opt.Option("stack", "text", STACK_HELP), REPORT, PROJECT),
        parse,
        run,
    ),
)
