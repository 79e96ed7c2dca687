"""``validate``: VAL-OPT-001 and the VAL-OPT-002 profile matrix, rendered by compose.

``--exhaustive`` answers for every non-empty profile selection instead, derived
from one full render, with the checks run on each distinct set of services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import (
    CROSS_CHECK,
    DEFAULT_CROSS_CHECK,
    PROJECT_VALIDATION,
    CrossCheck,
    profiles_group,
    report_group,
)
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.project.compose import Compose, Project, is_environment_error
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render_ahead, render_cache
from stackctl.project.selections import sample_seed
from stackctl.reporting import Case, Outcome, ReportTo, say

if TYPE_CHECKING:
    from stackctl.checking.validation import (
        ExhaustiveResult,
        ValidationResult,
    )

ORDER = 10
REPORT = report_group("table", "json", "junit")
PROFILES = profiles_group("validate only this combination, e.g. core,data (repeatable)")


@dataclass(frozen=True)
class ValidateOptions:
    project: Project
    profiles: tuple[str, ...]
    report: ReportTo
    exhaustive: bool = False
    cross: CrossCheck = DEFAULT_CROSS_CHECK


def parse(raw: opt.Raw) -> ValidateOptions:
    report = REPORT.parse(raw)
    profiles = PROFILES.parse(raw)
    every = opt.flag(raw, "exhaustive")
    if every and profiles:
        raise UsageError(
            "--exhaustive covers every selection; --profiles narrows to one",
            hint="use one of them",
        )
    project = PROJECT_VALIDATION.parse(raw)
    return ValidateOptions(project, profiles, report, every, CROSS_CHECK.parse(raw))


@dataclass(frozen=True)
class ValidateOutcome(Outcome):
    results: Sequence[ValidationResult] = ()

    def as_table(self) -> str:
        from stackctl.checking.validation import render_results

        return render_results(self.results, "table")

    def as_data(self) -> Mapping[str, Any]:
        return {"results": [asdict(r) for r in self.results]}

    def as_cases(self) -> list[Case]:
        return [Case(r.check_id, r.profiles, r.ok, r.seconds, r.error) for r in self.results]


@dataclass(frozen=True)
class ExhaustiveOutcome(Outcome):
    result: ExhaustiveResult | None = None

    def as_table(self) -> str:
        from stackctl.checking.validation import exhaustive_table

        return exhaustive_table(self.result) if self.result else ""

    def as_data(self) -> Mapping[str, Any]:
        from stackctl.checking.validation import exhaustive_data

        return exhaustive_data(self.result) if self.result else {}

    def as_cases(self) -> list[Case]:
        from stackctl.checking.validation import exhaustive_cases

        return exhaustive_cases(self.result) if self.result else []


def _exhaustive(compose: Compose, cross: CrossCheck) -> Outcome:
    with render_cache():
        # The full render starts now, so compose works while Python imports the rules;
        # the render cache hands its result to the check instead of rendering twice.
        render_ahead(compose, (ALL_PROFILES,))
        from stackctl.checking.check_run import cross_check_problem
        from stackctl.checking.validation import exhaustive

        # without --seed, the sample follows the inputs: a warm run samples what it cached
        seed = sample_seed(compose, cross.seed) if cross.sample else cross.seed
        result = exhaustive(compose, seed=seed, sample=cross.sample)
    problem = cross_check_problem(result.run.cross_check, say)
    failing = result.run.evaluation.failing(result.threshold)
    return ExhaustiveOutcome(
        "validate", exit_code=1 if failing or problem else 0, problem=problem, result=result
    )


def run(options: ValidateOptions) -> Outcome:
    compose = Compose(options.project)
    if options.exhaustive:
        return _exhaustive(compose, options.cross)
    from stackctl.checking.validation import validate

    results = validate(compose, options.profiles)
    for row in results:
        if row.error and is_environment_error(row.error, options.project):
            raise EnvironmentProblem(
                row.error,
                hint="fix the env file, --project-name or COMPOSE_* variables;"
                " every combination fails alike",
            )
    failed = not all(r.ok for r in results)
    return ValidateOutcome("validate", exit_code=1 if failed else 0, results=results)


COMMANDS = (
    Command(
        "validate",
        "Render VAL-OPT-001 and the VAL-OPT-002 profile matrix; exit 1 on any failure.",
        (
            PROFILES,
            opt.Option(
                "exhaustive",
                "flag",
                "every non-empty profile selection (127), derived from one render",
            ),
            REPORT,
            CROSS_CHECK,
            PROJECT_VALIDATION,
        ),
        parse,
        run,
    ),
)
