"""``gate``: ``validate`` then ``check`` in one process, so no render runs twice.

This is what ``nox -s validate`` runs. ``invoke validate`` and ``invoke check``
stay separate commands for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackctl.commands import Command
from stackctl.commands import check as check_command
from stackctl.commands import options as opt
from stackctl.commands import validate as validate_command
from stackctl.commands.groups import CROSS_CHECK, PROJECT_VALIDATION, RULES, report_group
from stackctl.project.render import render_cache
from stackctl.reporting import Case, Outcome, ReportTo

ORDER = 30
REPORT = report_group("table", "json", "junit")


@dataclass(frozen=True)
class GateOptions:
    validate: validate_command.ValidateOptions
    check: check_command.CheckOptions
    report: ReportTo


def parse(raw: opt.Raw) -> GateOptions:
    report = REPORT.parse(raw)
    project = PROJECT_VALIDATION.parse(raw)
    cross = CROSS_CHECK.parse(raw)
    validate = validate_command.ValidateOptions(
        project, (), report, opt.flag(raw, "exhaustive"), cross
    )
    # The checks take the project's rules and baseline, as `check` does.
    check = check_command.parse_check(raw, report, project)
    return GateOptions(validate, check, report)


@dataclass(frozen=True)
class GateOutcome(Outcome):
    parts: tuple[Outcome, ...] = field(default_factory=tuple)

    def as_table(self) -> str:
        return "\n\n".join(part.as_table() for part in self.parts)

    def as_data(self) -> Mapping[str, Any]:
        return {part.command: part.as_data() for part in self.parts}

    def as_cases(self) -> list[Case]:
        return [case for part in self.parts for case in part.as_cases()]


def run(options: GateOptions) -> GateOutcome:
    with render_cache():
        validated = validate_command.run(options.validate)
        checked = check_command.run(options.check)
    parts = (validated, checked)
    problems = [p.problem for p in parts if p.problem is not None]
    return GateOutcome(
        "gate",
        exit_code=max(p.exit_code for p in parts),
        problem=problems[0] if problems else None,
        parts=parts,
    )


COMMANDS = (
    Command(
        "gate",
        "Validate, then check, in one process: the checks reuse the validation renders.",
        (
            opt.Option("exhaustive", "flag", "validate every non-empty profile selection"),
            REPORT,
            check_command.FAIL_ON,
            RULES,
            CROSS_CHECK,
            PROJECT_VALIDATION,
        ),
        parse,
        run,
    ),
)
