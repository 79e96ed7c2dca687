"""Commands behind ``invoke`` tasks, nox sessions and ``python -m stackctl``.

Each command returns an exit code: 0 ok, 1 findings or failures, 2 usage or
environment error. User mistakes end in one line plus a hint, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from stackctl import report
from stackctl.compose import Compose, Project
from stackctl.errors import StackError
from stackctl.profiles import parse_profiles
from stackctl.validate import render_results, validate

P = ParamSpec("P")
VALIDATION_ENV_FILE = ".env.example"


def guarded(command: Callable[P, int]) -> Callable[P, int]:
    """Turn StackError into its one-line message and exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return command(*args, **kwargs)
        except StackError as error:
            print(error.render(), file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper


def project_for(project_dir: str | Path = ".", env_file: str | None = None) -> Project:
    return Project.at(project_dir, env_file)


@guarded
def validate_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    fmt: str = "table",
    output: str | None = None,
    env_file: str = VALIDATION_ENV_FILE,
) -> int:
    """VAL-OPT-001 and the VAL-OPT-002 matrix; exit 1 when any combination fails."""
    report.check_format(fmt, ("table", "json", "junit"))
    compose = Compose(project_for(project_dir, env_file))
    results = validate(compose, parse_profiles(profiles))
    report.emit(render_results(results, fmt), output)
    return 0 if all(r.ok for r in results) else 1


def rule_catalogue() -> list[report.RuleInfo]:
    """Every model rule and registry rule, as reports describe them."""
    from checks.registry import all_rules
    from checks.waivers import META_RULES

    infos = [
        report.RuleInfo(r.id, r.requirement, r.severity, r.title, r.hint, r.doc)
        for r in all_rules().values()
    ]
    infos += [
        report.RuleInfo(m.id, m.requirement, m.severity, m.title, m.hint, m.doc)
        for m in META_RULES.values()
    ]
    return infos


@guarded
def check_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    fmt: str = "table",
    output: str | None = None,
    fail_on: str = "high",
    env_file: str = VALIDATION_ENV_FILE,
) -> int:
    """Policy checks over the matrix; exit 1 when an open finding reaches ``fail_on``."""
    from checks.finding import Severity
    from stackctl.errors import UsageError
    from stackctl.policy import check_stack

    report.check_format(fmt)
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as error:
        raise UsageError(str(error)) from None
    compose = Compose(project_for(project_dir, env_file))
    selection = parse_profiles(profiles)
    if selection:
        from stackctl.model import list_profiles
        from stackctl.profiles import check_known

        check_known(selection, list_profiles(compose))
    evaluation = check_stack(compose, selection)
    failing = evaluation.failing(threshold)
    rules = rule_catalogue()
    if fmt == "json":
        text = report.findings_json(evaluation.findings, evaluation.combinations, not failing)
    elif fmt == "sarif":
        text = report.findings_sarif(evaluation.findings, rules)
    elif fmt == "junit":
        text = report.findings_junit(evaluation.findings, rules)
    else:
        suppressed = len(evaluation.findings) - len(evaluation.open_findings)
        text = (
            report.findings_table(evaluation.findings)
            + "\n\nSpec traceability\n"
            + report.traceability_table(evaluation.findings, rules, len(evaluation.services))
            + f"\n\n{len(evaluation.services)} services in {len(evaluation.combinations)} "
            f"combinations: {len(evaluation.open_findings)} open findings "
            f"({len(failing)} at or above {threshold.label}), {suppressed} excepted"
        )
    report.emit(text, output)
    return 1 if failing else 0
