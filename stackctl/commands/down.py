"""``down``: stop and remove a selection; volumes and host state are kept unless confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROFILES_EXAMPLE, PROJECT_OPS, profiles_group, report_group
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render_ahead, require_known_profiles
from stackctl.reporting import Outcome, ReportTo

if TYPE_CHECKING:
    from stackctl.operating import lifecycle

ORDER = 60
REPORT = report_group("table", "json")
PROFILES = profiles_group(PROFILES_EXAMPLE + " (default: every profile)")


@dataclass(frozen=True)
class DownOptions:
    project: Project
    profiles: tuple[str, ...]
    volumes: bool
    report: ReportTo


def parse(raw: opt.Raw) -> DownOptions:
    profiles = PROFILES.parse(raw)
    report = REPORT.parse(raw)
    project = PROJECT_OPS.parse(raw)
    volumes = opt.flag(raw, "volumes")
    if volumes and not opt.flag(raw, "yes_delete_volumes"):
        raise UsageError(
            "--volumes deletes the named volumes of the selection",
            hint="repeat with --volumes --yes-delete-volumes to confirm",
        )
    return DownOptions(project, profiles, volumes, report)


@dataclass(frozen=True)
class DownOutcome(Outcome):
    result: lifecycle.DownResult | None = None

    def as_data(self) -> Mapping[str, Any]:
        result = self.result
        if result is None:
            return {}
        return {
            "profiles": list(result.profiles),
            "volumes": result.volumes,
            "left": list(result.left),
        }


def run(options: DownOptions) -> DownOutcome:
    from stackctl.operating import lifecycle, preflight

    compose = Compose(options.project)
    # The one render down needs starts now, and the docker SDK loads meanwhile.
    render_ahead(compose, (ALL_PROFILES,))
    preflight.import_ahead("docker")
    require_known_profiles(compose, options.profiles)
    result = lifecycle.down(compose, options.profiles, volumes=options.volumes)
    return DownOutcome("down", exit_code=result.exit_code, problem=result.problem, result=result)


COMMANDS = (
    Command(
        "down",
        "Stop and remove containers; volumes and host state are kept unless confirmed.",
        (
            PROFILES,
            opt.Option("volumes", "flag", "also delete named volumes (needs --yes-delete-volumes)"),
            opt.Option("yes_delete_volumes", "flag", "confirm --volumes"),
            REPORT,
            PROJECT_OPS,
        ),
        parse,
        run,
    ),
)
