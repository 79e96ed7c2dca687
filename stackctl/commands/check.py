"""``check``: the policy rules (checks/) over the profile matrix, with the exceptions registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.finding import Finding, Severity
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
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.render import require_known_profiles
from stackctl.reporting import FORMATS, Case, Outcome, ReportTo, say

if TYPE_CHECKING:
    from checks.evaluator import Evaluation
    from checks.fixes import FindingFix
    from checks.rule import RuleInfo

ORDER = 20
REPORT = report_group(*FORMATS)
PROFILES = profiles_group("check only this selection, e.g. core,data (repeatable)")


def rule_catalogue() -> list[RuleInfo]:
    """Every rule of the catalogue: model, compose, exceptions-file and runtime rules."""
    from checks.catalogue import rule_catalogue as full_catalogue

    return list(full_catalogue().values())


@dataclass(frozen=True)
class CheckOptions:
    project: Project
    profiles: tuple[str, ...]
    fail_on: Severity
    report: ReportTo
    cross: CrossCheck = DEFAULT_CROSS_CHECK


@dataclass(frozen=True)
class ExplainOptions:
    rule_id: str
    text: str
    report: ReportTo


def _explain(rule_id: str, report: ReportTo) -> ExplainOptions:
    from checks.explain import UnknownRule, explain

    if not rule_id.strip():
        raise UsageError("--explain is empty", hint="name a rule, e.g. --explain PRIV-001")
    try:
        text = explain(rule_id)
    except UnknownRule as error:
        # explain() words it as "unknown rule 'X': <near matches or where to look>".
        message, _, hint = str(error).rpartition(": ")
        raise UsageError(message, hint=hint) from None
    return ExplainOptions(rule_id.strip().upper(), text, report)


def parse(raw: opt.Raw) -> CheckOptions | ExplainOptions:
    report = REPORT.parse(raw)
    rule_id = opt.text(raw, "explain")
    if rule_id is not None:
        # Explaining needs no project: nothing is read or rendered.
        return _explain(rule_id, report)
    fail_on = opt.severity(raw, "fail_on", "high")
    profiles = PROFILES.parse(raw)
    project = PROJECT_VALIDATION.parse(raw)
    return CheckOptions(project, profiles, fail_on, report, CROSS_CHECK.parse(raw))


def _no_evaluation() -> Evaluation:
    from checks.evaluator import Evaluation

    return Evaluation([], [])


@dataclass(frozen=True)
class CheckOutcome(Outcome):
    evaluation: Evaluation = field(default_factory=lambda: _no_evaluation())
    threshold: Severity = Severity.HIGH
    rules: Sequence[RuleInfo] = ()
    registry_entries: int = 0
    fixes: Mapping[str, FindingFix] = field(default_factory=dict)  # fingerprint -> `fix`'s edit

    @property
    def failing(self) -> list[Finding]:
        return self.evaluation.failing(self.threshold)

    def as_table(self) -> str:
        from checks.catalogue import rules_of_kind
        from stackctl.reporting.findings import (
            TRACEABILITY_NOTE,
            findings_table,
            traceability_table,
        )

        evaluation = self.evaluation
        suppressed = len(evaluation.findings) - len(evaluation.open_findings)
        services = len(evaluation.services)
        trace = traceability_table(
            evaluation.findings,
            self.rules,
            services,
            registry_rules=rules_of_kind("exceptions"),
            registry_entries=self.registry_entries,
        )
        return (
            findings_table(evaluation.findings, self.fixes)
            + f"\n\nSpec traceability ({TRACEABILITY_NOTE})\n"
            + trace
            + f"\n\n{services} services in {len(evaluation.combinations)} "
            f"combinations: {len(evaluation.open_findings)} open findings "
            f"({len(self.failing)} at or above {self.threshold.label}), {suppressed} excepted, "
            f"{len(self.fixes)} fixable by `stackctl fix`"
        )

    def as_data(self) -> Mapping[str, Any]:
        from stackctl.reporting.findings import finding_dict

        return {
            "combinations": list(self.evaluation.combinations),
            "findings": [finding_dict(f, self.fixes) for f in self.evaluation.findings],
        }

    def as_cases(self) -> list[Case]:
        from stackctl.reporting.findings import findings_cases

        return findings_cases(self.evaluation.findings, self.rules)

    def as_sarif(self) -> str:
        from stackctl.reporting.findings import findings_sarif

        return findings_sarif(self.evaluation.findings, self.rules, self.fixes)


def run(options: CheckOptions | ExplainOptions) -> Outcome:
    from checks import exceptions
    from stackctl.checking.check_run import cross_check_problem
    from stackctl.fixing.session import checked_plan

    if isinstance(options, ExplainOptions):
        return Outcome(
            "check", text=options.text, data={"rule": options.rule_id, "explain": options.text}
        )
    compose = Compose(options.project)
    require_known_profiles(compose, options.profiles)
    cross = options.cross
    policy, plan = checked_plan(compose, options.profiles, seed=cross.seed, sample=cross.sample)
    problem = cross_check_problem(policy.cross_check, say)
    evaluation = policy.evaluation
    registered, problems = exceptions.load(options.project.directory)
    entries = len(registered) + sum(1 for p in problems if p.rule_id == "EXC-001")
    failing = evaluation.failing(options.fail_on)
    return CheckOutcome(
        "check",
        exit_code=1 if failing or problem else 0,
        problem=problem,
        evaluation=evaluation,
        threshold=options.fail_on,
        rules=rule_catalogue(),
        registry_entries=entries,
        fixes=plan.finding_fixes(),
    )


COMMANDS = (
    Command(
        "check",
        "Policy checks (checks/) over the VAL-OPT matrix, with the exceptions registry.\n\n"
        "--explain RULE prints a rule's doc, a violation and its fix instead.",
        (
            PROFILES,
            REPORT,
            opt.Option(
                "fail_on",
                "text",
                "lowest severity that fails: critical, high (default), medium, low, info",
                default="high",
            ),
            CROSS_CHECK,
            opt.Option(
                "explain",
                "text",
                "print what RULE checks, a violation and its fix, then exit (nothing is rendered)",
            ),
            PROJECT_VALIDATION,
        ),
        parse,
        run,
    ),
)
