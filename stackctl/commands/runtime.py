"""``verify`` and ``smoke``: what runs on the engine, compared with what the files declare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.commands import Command, register
from stackctl.commands import options as opt
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render, require_known_profiles
from stackctl.reporting import Case, Outcome, ReportTo

FORMATS = ("table", "json", "junit")
PROFILES_HELP = "profiles, e.g. core,data (comma-separated, repeatable; default: every profile)"

# -- verify -----------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOptions:
    project: Project
    profiles: tuple[str, ...]
    project_name: str | None
    report: ReportTo
    stack: str | None = None  # a Swarm stack instead of the compose project


def parse_verify(raw: opt.Raw) -> VerifyOptions:
    report = ReportTo(opt.choice(raw, "format", FORMATS, "table"), opt.output_path(raw))
    profiles = opt.selection(raw)
    project = opt.project(raw, "ops")
    require_known_profiles(Compose(project), profiles)
    name = opt.text(raw, "project")
    if name is not None and not name.strip():
        raise UsageError("--project is empty", hint="name a compose project, or leave it out")
    return VerifyOptions(project, profiles, name, report, opt.stack_name(raw))


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


def run_verify(options: VerifyOptions) -> VerifyOutcome:
    from stackctl.operating import docker_api
    from stackctl.runtime.verification import verify

    client = docker_api.client()
    extra = {"COMPOSE_PROJECT_NAME": options.project_name} if options.project_name else {}
    compose = Compose(options.project, extra_env=extra)
    model = render(compose, options.profiles or (ALL_PROFILES,))
    if options.stack:
        from stackctl.swarm.verify import verify_stack

        result = verify_stack(
            model, options.stack, client=client, project_dir=options.project.directory
        )
    else:
        result = verify(compose, model, client=client)
    return VerifyOutcome("verify", exit_code=0 if result.ok else 1, result=result)


register(
    Command(
        "verify",
        "Compare every running container with the rendered model; exit 1 on drift.",
        (
            opt.Option("profiles", "list", PROFILES_HELP),
            opt.Option("project", "text", "compose project name (default: the files' name)"),
            opt.Option("stack", "text", opt.STACK_HELP),
            opt.Option("format", "text", "table (default), json or junit", default="table"),
            opt.Option("output", "text", "write the report to this file instead of stdout"),
            *opt.project_options(opt.OPS_ENV_HELP),
        ),
        parse_verify,
        run_verify,
        lambda options: options.report,
    )
)


# -- smoke ------------------------------------------------------------------------

DEFAULT_JUNIT = "reports/smoke-junit.xml"


@dataclass(frozen=True)
class SmokeOptions:
    directory: Path
    env_file: str | None
    profiles: tuple[str, ...]
    fixture: bool
    keep: bool
    wait_timeout: int
    junit: Path | None
    report: ReportTo


def parse_smoke(raw: opt.Raw) -> SmokeOptions:
    report = ReportTo(opt.choice(raw, "format", ("table", "json"), "table"), opt.output_path(raw))
    junit = opt.output_path(raw, "junit") or opt.output_path({"junit": DEFAULT_JUNIT}, "junit")
    profiles = opt.selection(raw)
    if not profiles:
        raise UsageError(
            "say which profiles to smoke-test", hint="--profiles core,data (or --profiles '*')"
        )
    directory = Path(opt.text(raw, "project_dir") or ".")
    if not directory.is_dir():
        raise EnvironmentProblem(f"project directory {directory} does not exist")
    return SmokeOptions(
        directory,
        opt.text(raw, "env_file"),
        profiles,
        opt.flag(raw, "fixture"),
        opt.flag(raw, "keep"),
        opt.number(raw, "wait_timeout", 180),
        junit,
        report,
    )


@dataclass(frozen=True)
class SmokeOutcome(Outcome):
    result: Any = None  # stackctl.operating.smoke.SmokeResult
    junit_path: Path | None = None
    cases: tuple[Case, ...] = field(default_factory=tuple)

    def as_table(self) -> str:
        from stackctl.reporting import table
        from stackctl.runtime.report import verification_table

        result = self.result
        lines = []
        if not result.started:
            lines += ["the selection did not become healthy", result.start_detail]
        if result.verification is not None:
            lines.append(verification_table(result.verification))
        if result.probes:
            rows = [(p.service, p.port, "ok" if p.ok else "FAIL", p.detail) for p in result.probes]
            lines += ["", table(rows, ["service", "port", "reachable", "detail"])]
        failed = sum(1 for c in self.cases if not c.ok)
        verdict = "passed" if self.exit_code == 0 else "FAILED"
        lines += [
            "",
            f"smoke {result.project}: {verdict} ({len(self.cases)} cases, {failed} failed)",
        ]
        return "\n".join(line for line in lines if line is not None)

    def as_data(self) -> Mapping[str, Any]:
        return {
            "project": self.result.project,
            "junit": str(self.junit_path) if self.junit_path else None,
            "cases": [
                {"suite": c.suite, "name": c.name, "ok": c.ok, "message": c.message}
                for c in self.cases
            ],
        }

    def as_cases(self) -> list[Case]:
        return list(self.cases)


def run_smoke(options: SmokeOptions) -> SmokeOutcome:
    from stackctl.operating import smoke
    from stackctl.reporting import emit, junit

    result = smoke.run(
        options.directory,
        options.profiles,
        env_file=options.env_file,
        fixture=options.fixture,
        keep=options.keep,
        wait_timeout=options.wait_timeout,
    )
    cases = tuple(result.cases())
    if options.junit is not None:
        emit(junit(list(cases), "smoke"), options.junit)
    return SmokeOutcome(
        "smoke",
        exit_code=0 if result.ok else 1,
        result=result,
        junit_path=options.junit,
        cases=cases,
    )


register(
    Command(
        "smoke",
        "Start a selection in a throwaway project, verify it, probe it by name, remove it.\n\n"
        "Exit 0 passed, 1 failed, 2 usage/environment, 3 not run (images absent), 130 interrupted.",
        (
            opt.Option("profiles", "list", "profiles to start, e.g. core,data (required)"),
            opt.Option(
                "fixture",
                "flag",
                "the directory is a test fixture: run a copy with fresh "
                "secrets and the busybox test image",
            ),
            opt.Option("keep", "flag", "leave the smoke project running afterwards"),
            opt.Option(
                "wait_timeout", "number", "seconds to wait for health (default 180)", default="180"
            ),
            opt.Option("junit", "text", f"JUnit file (default: {DEFAULT_JUNIT})"),
            opt.Option("format", "text", "table (default) or json", default="table"),
            opt.Option("output", "text", "write the report to this file instead of stdout"),
            opt.Option("project_dir", "text", "project directory (default: the current directory)"),
            opt.Option("env_file", "text", "env file (default: .env; ignored with --fixture)"),
        ),
        parse_smoke,
        run_smoke,
        lambda options: options.report,
    )
)
