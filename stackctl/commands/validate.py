"""``validate``: VAL-OPT-001 and the VAL-OPT-002 profile matrix, rendered by compose."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stackctl import options as opt
from stackctl.commands import Command, register
from stackctl.compose import Compose, Project
from stackctl.reporting import Case, Outcome, ReportTo
from stackctl.validate import ValidationResult, render_results, validate

FORMATS = ("table", "json", "junit")

OPTIONS = (
    opt.Option("profiles", "list", "validate only this combination, e.g. core,data (repeatable)"),
    opt.Option("format", "text", "table (default), json or junit", default="table"),
    opt.Option("output", "text", "write the report to this file instead of stdout"),
    *opt.project_options(opt.VALIDATION_ENV_HELP),
)


@dataclass(frozen=True)
class ValidateOptions:
    project: Project
    profiles: tuple[str, ...]
    report: ReportTo


def parse(raw: opt.Raw) -> ValidateOptions:
    report = ReportTo(opt.choice(raw, "format", FORMATS, "table"), opt.output_path(raw))
    profiles = opt.selection(raw)
    return ValidateOptions(opt.project(raw, "validation"), profiles, report)


@dataclass(frozen=True)
class ValidateOutcome(Outcome):
    results: Sequence[ValidationResult] = ()

    def as_table(self) -> str:
        return render_results(self.results, "table")

    def as_data(self) -> Mapping[str, Any]:
        return {"results": [asdict(r) for r in self.results]}

    def as_cases(self) -> list[Case]:
        return [Case(r.check_id, r.profiles, r.ok, r.seconds, r.error) for r in self.results]


def run(options: ValidateOptions) -> ValidateOutcome:
    results = validate(Compose(options.project), options.profiles)
    failed = not all(r.ok for r in results)
    return ValidateOutcome("validate", exit_code=1 if failed else 0, results=results)


COMMAND = register(
    Command(
        "validate",
        "Render VAL-OPT-001 and the VAL-OPT-002 profile matrix; exit 1 on any failure.",
        OPTIONS,
        parse,
        run,
        lambda options: options.report,
    )
)
