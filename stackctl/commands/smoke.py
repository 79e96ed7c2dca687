"""``smoke``: a selection started in a throwaway project, verified, probed by name, removed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_DIR, profiles_group, report_group
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.reporting import Case, Outcome, ReportTo

ORDER = 100
REPORT = report_group("table", "json")
PROFILES = profiles_group("profiles to start, e.g. core,data (required)")
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


def parse(raw: opt.Raw) -> SmokeOptions:
    report = REPORT.parse(raw)
    junit = opt.output_path(raw, "junit") or opt.output_path({"junit": DEFAULT_JUNIT}, "junit")
    profiles = PROFILES.parse(raw)
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


def run(options: SmokeOptions) -> SmokeOutcome:
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


COMMANDS = (
    Command(
        "smoke",
        "Start a selection in a throwaway project, verify it, probe it by name, remove it.\n\n"
        "Exit 0 passed, 1 failed, 2 usage/environment, 3 not run (images absent), 130 interrupted.",
        (
            PROFILES,
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
            REPORT,
            # Not the project group: smoke runs a throwaway copy under its own name and files.
            PROJECT_DIR,
            opt.Option("env_file", "text", "env file (default: .env; ignored with --fixture)"),
        ),
        parse,
        run,
    ),
)
