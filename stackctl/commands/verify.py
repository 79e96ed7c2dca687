"""``verify``: every running container (or Swarm task) compared with the rendered model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, profiles_group, report_group
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render, require_known_profiles
from stackctl.reporting import Case, Outcome, ReportTo

ORDER = 90
REPORT = report_group("table", "json", "junit")
PROFILES = profiles_group(
    "profiles, e.g. core,data (comma-separated, repeatable; default: every profile)"
)


@dataclass(frozen=True)
class VerifyOptions:
    project: Project  # --project-name picks another compose project of the same files
    profiles: tuple[str, ...]
    report: ReportTo
    stack: str | None = None  # a Swarm stack instead of the compose project


def parse(raw: opt.Raw) -> VerifyOptions:
    report = REPORT.parse(raw)
    profiles = PROFILES.parse(raw)
    project = PROJECT_OPS.parse(raw)
    return VerifyOptions(project, profiles, report, opt.stack_name(raw))


@dataclass(frozen=True)
class VerifyOutcome(Outcome):
    result: Any = None  # stackctl.runtime.verification.Verification (imported lazily)

    def as_table(self) -> str:
        from stackctl.runtime.report import verification_table

        return verification_table(self.result)

    def as_data(self) -> Mapping[str, Any]:
        from stackctl.runtime.report import verification_data

        return verification_data(self.result)

    def as_cases(self) -> list[Case]:
        from stackctl.runtime.report import verification_cases

        return verification_cases(self.result)


def run(options: VerifyOptions) -> VerifyOutcome:
    from stackctl.operating import docker_api
    from stackctl.runtime.verification import verify

    compose = Compose(options.project)
    require_known_profiles(compose, options.profiles)
    client = docker_api.client()
    model = render(compose, options.profiles or (ALL_PROFILES,))
    if options.stack:
        from stackctl.swarm.verify import verify_stack

        result = verify_stack(
            model, options.stack, client=client, project_dir=options.project.directory
        )
    else:
        result = verify(compose, model, client=client)
    return VerifyOutcome("verify", exit_code=0 if result.ok else 1, result=result)


COMMANDS = (
    Command(
        "verify",
        "Compare every running container with the rendered model; exit 1 on drift.",
        (PROFILES, opt.Option("stack", "text", opt.STACK_HELP), REPORT, PROJECT_OPS),
        parse,
        run,
    ),
)
