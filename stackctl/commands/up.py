"""``up``: preflight a profile selection, start it, wait for healthy, compare with the model.

Progress goes to stderr as it happens; the result (the preflight steps, what
did not become healthy, the comparison) is the report, failures included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROFILES_EXAMPLE, PROJECT_OPS, profiles_group, report_group
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.reporting import Outcome, ReportTo

if TYPE_CHECKING:
    from stackctl.operating import lifecycle

ORDER = 50
REPORT = report_group("table", "json")
PROFILES = profiles_group(PROFILES_EXAMPLE + "; needed profiles are added automatically")


@dataclass(frozen=True)
class UpOptions:
    project: Project
    profiles: tuple[str, ...]
    wait_timeout: int
    down_on_failure: bool
    report: ReportTo
    keep_on_interrupt: bool = False


def parse(raw: opt.Raw) -> UpOptions:
    wait_timeout = opt.number(raw, "wait_timeout", 180)
    profiles = PROFILES.parse(raw)
    report = REPORT.parse(raw)
    project = PROJECT_OPS.parse(raw)
    if not profiles:
        # Starting all seven profiles by accident is costly; everything must be asked for.
        raise UsageError(
            "say which profiles to start", hint="--profiles core,data (or --profiles '*')"
        )
    return UpOptions(
        project,
        profiles,
        wait_timeout,
        opt.flag(raw, "down_on_failure"),
        report,
        opt.flag(raw, "keep_on_interrupt"),
    )


@dataclass(frozen=True)
class UpOutcome(Outcome):
    result: lifecycle.UpResult | None = None

    def as_data(self) -> Mapping[str, Any]:
        from stackctl.operating import lifecycle

        result = self.result
        if result is None:
            return {}
        verification = None
        if result.verification is not None:
            from stackctl.runtime.report import verification_data

            verification = verification_data(result.verification)
        return {
            "requested": list(result.requested),
            "profiles": list(result.profiles),
            "preflight": [
                {"step": step.name, "ok": step.ok, "detail": step.detail}
                for step in result.preflight
            ],
            "started": result.started,
            "unhealthy": [
                dict(zip(lifecycle.UNHEALTHY_HEADERS, row, strict=True)) for row in result.unhealthy
            ],
            "verification": verification,
        }


def run(options: UpOptions) -> UpOutcome:
    from stackctl.operating import lifecycle

    result = lifecycle.up(
        Compose(options.project),
        options.profiles,
        wait_timeout=options.wait_timeout,
        down_on_failure=options.down_on_failure,
        keep_on_interrupt=options.keep_on_interrupt,
    )
    return UpOutcome("up", exit_code=result.exit_code, problem=result.problem, result=result)


COMMANDS = (
    Command(
        "up",
        "Preflight (engine, secrets, state, Loki driver, images), start, wait for healthy.",
        (
            PROFILES,
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
            opt.Option(
                "keep_on_interrupt",
                "flag",
                "on Ctrl-C or SIGTERM, leave what this run started (default: stop and remove it)",
            ),
            REPORT,
            PROJECT_OPS,
        ),
        parse,
        run,
    ),
)
