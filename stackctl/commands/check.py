"""``check``: the policy rules (checks/) over the profile matrix, with the exceptions registry.

Which rules judge the project is the project's choice (``checks.config``: the
portable set by default, this platform's set where a project opts in, then
``select``/``ignore`` and severities); a committed baseline
(``checks.baseline``) accepts the findings a project had when it adopted them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.finding import Finding, Severity
from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import (
    CROSS_CHECK,
    DEFAULT_CROSS_CHECK,
    PROJECT_VALIDATION,
    RULES,
    CrossCheck,
    RuleChoice,
    profiles_group,
    report_group,
)
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.render import require_known_profiles
from stackctl.project.selections import sample_seed
from stackctl.reporting import FORMATS, Case, Outcome, ReportTo, say

if TYPE_CHECKING:
    from checks.baseline import Applied, Baseline
    from checks.config import Config
    from checks.evaluator import Evaluation
    from checks.fixes import FindingFix
    from checks.rule import RuleInfo
    from checks.rule_sets import Policy

ORDER = 20
REPORT = report_group(*FORMATS)
PROFILES = profiles_group("check only this selection, e.g. core,data (repeatable)")
FAIL_ON = opt.Option(
    "fail_on",
    "text",
    "lowest severity that fails: critical, high (default, or fail-on in the project's"
    " config), medium, low, info",
)


@dataclass(frozen=True)
class Rules:
    """What the project chose: its configuration, the policy built from it and the
    command line, and its baseline (None when it has none, or for ``baseline``)."""

    config: Config
    policy: Policy
    baseline: Baseline | None = None


@dataclass(frozen=True)
class CheckOptions:
    project: Project
    profiles: tuple[str, ...]
    fail_on: Severity
    report: ReportTo
    cross: CrossCheck = DEFAULT_CROSS_CHECK
    rules: Rules | None = None  # None: every rule at its declared severity


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


def project_rules(project: Project, choice: RuleChoice, *, with_baseline: bool = True) -> Rules:
    """The project's configuration and baseline, read once; flags over the config.

    ``--select`` replaces the config's ``select``, ``--ignore`` adds to its
    ``ignore``. A bad config or baseline file is exit 2 naming the file and key.
    """
    from checks import baseline
    from checks.catalogue import rule_catalogue
    from checks.config import ConfigError, read_config
    from checks.rule_sets import UnknownSelector, build_policy, check_selector

    catalogue = rule_catalogue()
    try:
        config = read_config(project.directory, catalogue)
    except ConfigError as error:
        raise EnvironmentProblem(error.message, hint=error.hint or None) from None
    try:
        select = tuple(check_selector(s, catalogue, "--select") for s in choice.select)
        ignore = tuple(check_selector(s, catalogue, "--ignore") for s in choice.ignore)
    except UnknownSelector as error:
        raise UsageError(str(error), hint="`stackctl check --explain RULE` names a rule") from None
    policy = build_policy(
        catalogue,
        config.rule_set,
        select or config.select,
        (*config.ignore, *ignore),
        config.severity,
    )
    accepted = None
    if with_baseline:
        try:
            accepted = baseline.read(project.directory, config.baseline)
        except baseline.BaselineError as error:
            raise EnvironmentProblem(
                str(error), hint="write it again with `stackctl baseline`, or remove it"
            ) from None
    return Rules(config, policy, accepted)


def parse_check(
    raw: opt.Raw, report: ReportTo, project: Project | None = None, *, with_baseline: bool = True
) -> CheckOptions:
    """Options of a check run (``check``, ``gate`` and ``baseline`` share them)."""
    project = PROJECT_VALIDATION.parse(raw) if project is None else project
    rules = project_rules(project, RULES.parse(raw), with_baseline=with_baseline)
    default = rules.config.fail_on.label if rules.config.fail_on is not None else "high"
    fail_on = opt.severity(raw, "fail_on", default)
    profiles = PROFILES.parse(raw)
    return CheckOptions(project, profiles, fail_on, report, CROSS_CHECK.parse(raw), rules)


def parse(raw: opt.Raw) -> CheckOptions | ExplainOptions:
    report = REPORT.parse(raw)
    rule_id = opt.text(raw, "explain")
    if rule_id is not None:
        # Explaining needs no project: nothing is read or rendered.
        return _explain(rule_id, report)
    return parse_check(raw, report)


def _no_evaluation() -> Evaluation:
    from checks.evaluator import Evaluation

    return Evaluation([], [])


@dataclass(frozen=True)
class CheckOutcome(Outcome):
    evaluation: Evaluation = field(default_factory=lambda: _no_evaluation())
    threshold: Severity = Severity.HIGH
    rules: Sequence[RuleInfo] = ()
    registry_entries: int = 0
    traced: bool = True  # requirement IDs and the traceability table (the platform set)
    checked: Checked | None = None
    applied: Applied | None = None  # the baseline, when the project has one
    fixes: Mapping[str, FindingFix] = field(default_factory=dict)  # fingerprint -> `fix`'s edit

    @property
    def failing(self) -> list[Finding]:
        return self.evaluation.failing(self.threshold)

    def _shown(self, findings: Sequence[Finding]) -> list[Finding]:
        """Without requirement IDs, findings are grouped under their rule's family."""
        from checks.rule_sets import family_title

        if self.traced:
            return list(findings)
        return [dataclasses.replace(f, requirement=family_title(f.rule_id)) for f in findings]

    def _shown_rules(self) -> list[RuleInfo]:
        from checks.rule_sets import family_title

        if self.traced:
            return list(self.rules)
        return [dataclasses.replace(r, requirement=family_title(r.id)) for r in self.rules]

    def as_table(self) -> str:
        from checks.baseline import accepted
        from checks.catalogue import rules_of_kind
        from stackctl.reporting.findings import (
            TRACEABILITY_NOTE,
            findings_table,
            report_header,
            traceability_table,
        )

        evaluation = self.evaluation
        baselined = [f for f in evaluation.findings if accepted(f)]
        suppressed = len(evaluation.findings) - len(evaluation.open_findings) - len(baselined)
        services = len(evaluation.services)
        parts = [findings_table(self._shown(evaluation.findings), self.fixes)]
        if self.checked is not None:
            parts.insert(0, report_header(self.checked.rows()))
        if self.traced:
            trace = traceability_table(
                evaluation.findings,
                self.rules,
                services,
                registry_rules=rules_of_kind("exceptions"),
                registry_entries=self.registry_entries,
            )
            parts.append(f"Spec traceability ({TRACEABILITY_NOTE})\n" + trace)
        if self.applied is not None and self.applied.stale:
            parts.append(self._stale_text())
        in_baseline = f", {len(baselined)} in the baseline" if self.applied is not None else ""
        parts.append(
            f"{services} services in {len(evaluation.combinations)} "
            f"combinations: {len(evaluation.open_findings)} open findings "
            f"({len(self.failing)} at or above {self.threshold.label}), {suppressed} excepted"
            + in_baseline
            + f", {len(self.fixes)} fixable by `stackctl fix`"
        )
        return "\n\n".join(parts)

    def _stale_text(self) -> str:
        assert self.applied is not None
        stale = self.applied.stale
        lines = [
            f"{len(stale)} baseline entr{'y' if len(stale) == 1 else 'ies'} no longer found"
            " (fixed; they fail nothing, and `stackctl baseline` drops them):"
        ]
        lines += [f"  {e.rule} {e.service or '-'} {e.subject} (line {e.line})" for e in stale]
        return "\n".join(lines)

    def as_data(self) -> Mapping[str, Any]:
        from stackctl.reporting.findings import finding_dict

        data: dict[str, Any] = {
            "checked": None if self.checked is None else self.checked.as_data(),
            "combinations": list(self.evaluation.combinations),
            "findings": [finding_dict(f, self.fixes) for f in self.evaluation.findings],
        }
        if self.applied is not None:
            data["baseline"] = {
                "accepted": self.applied.matched,
                "stale": [dataclasses.asdict(e) for e in self.applied.stale],
            }
        return data

    def as_cases(self) -> list[Case]:
        from stackctl.reporting.findings import findings_cases

        return findings_cases(self._shown(self.evaluation.findings), self._shown_rules())

    def as_sarif(self) -> str:
        from stackctl.reporting.findings import findings_sarif

        return findings_sarif(
            self._shown(self.evaluation.findings), self._shown_rules(), self.fixes
        )


def _name(project: Project, path: Path) -> str:
    return (
        path.relative_to(project.directory).as_posix()
        if project.directory in path.parents
        else str(path)
    )


@dataclass(frozen=True)
class Checked:
    """What a run checked and why: the files, the env file, the rules, the baseline.

    The table shows it as the report's header; JSON carries it as ``checked``.
    """

    project: Project
    combinations: Sequence[str]
    rules: Rules | None = None
    applied: Applied | None = None

    @property
    def files(self) -> list[str]:
        return [_name(self.project, p) for p in self.project.compose_files]

    @property
    def env(self) -> str:
        project = self.project
        env = project.env_origin or (str(project.env_file) if project.env_file else "none")
        return f"{env}; {project.env_skipped}" if project.env_skipped else env

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("project", str(self.project.directory)),
            ("compose files", f"{', '.join(self.files)} ({self.project.files_origin})"),
            ("env file", self.env),
            ("profiles", "; ".join(self.combinations)),
        ]
        rules = self.rules
        if rules is not None:
            where = rules.config.source or NO_CONFIG
            chosen = f"{rules.policy.rule_set} set, {len(rules.policy.rules)} rules ({where})"
            rows.append(("rules", chosen))
            if rules.baseline is not None:
                found = f"{len(rules.baseline.entries)} entries"
                if self.applied is not None:
                    found += f", {self.applied.matched} still found"
                    found += f", {len(self.applied.stale)} stale"
                rows.append(("baseline", f"{rules.baseline.name}: {found}"))
        return rows

    def as_data(self) -> dict[str, Any]:
        project = self.project
        data: dict[str, Any] = {
            "project": str(project.directory),
            "compose_files": self.files,
            "files_origin": project.files_origin,
            "env_file": (
                _name(project, project.env_file)
                if project.env_file is not None and project.reads_env_file
                else None
            ),
            "env_origin": self.env,
            "profiles": list(self.combinations),
        }
        if self.rules is not None:
            data["rule_set"] = self.rules.policy.rule_set
            data["rules"] = sorted(self.rules.policy.rules)
            data["config"] = self.rules.config.source or None
            baseline = self.rules.baseline
            data["baseline"] = None if baseline is None else baseline.name
        return data


NO_CONFIG = "the default: no .stackctl.toml, no [tool.stackctl] in pyproject.toml"


def run(options: CheckOptions | ExplainOptions) -> Outcome:
    from checks import baseline, exceptions
    from checks.catalogue import rule_catalogue
    from stackctl.checking.check_run import cross_check_problem
    from stackctl.fixing.session import checked_plan

    if isinstance(options, ExplainOptions):
        return Outcome(
            "check", text=options.text, data={"rule": options.rule_id, "explain": options.text}
        )
    compose = Compose(options.project)
    require_known_profiles(compose, options.profiles)
    cross = options.cross
    rules = options.rules
    policy = None if rules is None else rules.policy
    seed = sample_seed(compose, cross.seed) if cross.sample else cross.seed
    run_, plan = checked_plan(
        compose, options.profiles, seed=seed, sample=cross.sample, policy=policy
    )
    problem = cross_check_problem(run_.cross_check, say)
    evaluation = run_.evaluation
    applied = None
    if rules is not None and rules.baseline is not None:
        applied = baseline.apply(evaluation.findings, rules.baseline)
        evaluation.findings = applied.findings
    registered, problems = exceptions.load(options.project.directory)
    entries = len(registered) + sum(1 for p in problems if p.rule_id == "EXC-001")
    failing = evaluation.failing(options.fail_on)
    shown = list(rule_catalogue().values()) if policy is None else list(policy.rules.values())
    return CheckOutcome(
        "check",
        exit_code=1 if failing or problem else 0,
        problem=problem,
        evaluation=evaluation,
        threshold=options.fail_on,
        rules=shown,
        registry_entries=entries,
        traced=policy is None or policy.traced,
        checked=Checked(compose.project, evaluation.combinations, rules, applied),
        applied=applied,
        fixes=plan.finding_fixes(),
    )


COMMANDS = (
    Command(
        "check",
        "Policy checks (checks/) over the profile matrix, with the exceptions registry.\n\n"
        "The rules are the project's choice: the portable set by default, this platform's\n"
        "set and select/ignore/severities in .stackctl.toml or [tool.stackctl] in\n"
        "pyproject.toml. With a baseline (`stackctl baseline`) only new findings fail.\n"
        "--explain RULE prints a rule's doc, a violation and its fix instead.",
        (
            PROFILES,
            REPORT,
            FAIL_ON,
            RULES,
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
