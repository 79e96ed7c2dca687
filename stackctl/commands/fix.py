"""``fix``: repair findings in the file their value comes from, keep every comment, prove it.

Without ``--apply`` it prints the unified diff it would write and exits 1 when
there is something to change. With ``--apply`` it writes the edits, renders and
checks the project again, and keeps only what that proves; the rest is put back
byte for byte and reported as refused, with why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.check import project_rules
from stackctl.commands.groups import PROJECT_VALIDATION, RuleChoice, report_group
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.reporting import Outcome, ReportTo, say

if TYPE_CHECKING:
    from checks.rule_sets import Policy
    from stackctl.fixing.plan import FixPlan, Proposal
    from stackctl.fixing.proof import Proven

ORDER = 45
REPORT = report_group("table", "json")


@dataclass(frozen=True)
class FixOptions:
    project: Project
    report: ReportTo
    apply: bool = False
    rules: frozenset[str] | None = None  # None: every fixable rule
    # The project's own rule set and selection (its config), as check judges it.
    policy: Policy | None = None


def _rule_ids(raw: opt.Raw, name: str) -> set[str]:
    from checks.fixes import FIXES

    written = opt.values(raw, name)
    given = {part.strip().upper() for value in written for part in value.split(",")}
    given.discard("")
    if written and not given:
        raise UsageError(f"--{name} {written[0]!r} names no rule", hint="name one, e.g. PRIV-001")
    unknown = sorted(given - set(FIXES))
    if unknown:
        raise UsageError(
            f"--{name} {unknown[0]} is not a rule fix can repair",
            hint=f"fixable rules: {', '.join(sorted(FIXES))}",
        )
    return given


def parse(raw: opt.Raw) -> FixOptions:
    report = REPORT.parse(raw)
    selected, ignored = _rule_ids(raw, "select"), _rule_ids(raw, "ignore")
    rules: frozenset[str] | None = None
    if selected or ignored:
        from checks.fixes import FIXES

        rules = frozenset((selected or set(FIXES)) - ignored)
        if not rules:
            raise UsageError("--select and --ignore leave no rule to fix", hint="drop an --ignore")
    project = PROJECT_VALIDATION.parse(raw)
    policy = project_rules(project, RuleChoice(), with_baseline=False).policy
    return FixOptions(project, report, opt.flag(raw, "apply"), rules, policy)


def _count(number: int, word: str, plural: str = "") -> str:
    return f"{number} {word if number == 1 else plural or word + 's'}"


def _finding_keys(proposal: Proposal) -> list[dict[str, Any]]:
    return [
        {
            "rule": f.rule_id,
            "service": f.service,
            "subject": f.subject,
            "fingerprint": f.fingerprint,
        }
        for f in proposal.findings
    ]


@dataclass(frozen=True)
class FixOutcome(Outcome):
    plan: FixPlan | None = None
    proven: Proven | None = None
    applied: bool = False
    notes: tuple[str, ...] = field(default=())

    def _kept(self) -> list[Proposal]:
        if self.plan is None:
            return []
        return list(self.proven.kept) if self.proven is not None else list(self.plan.proposals)

    def as_table(self) -> str:
        plan = self.plan
        if plan is None:
            return "nothing to fix"
        kept = self._kept()
        lines: list[str] = [plan.diff(kept).rstrip("\n")] if kept else []
        for proposal, why in self.proven.refused if self.proven is not None else []:
            lines.append(f"refused and restored: {proposal.description}: {why}")
        refused = (
            f"not fixed: {r.finding.rule_id} {r.finding.service or r.finding.source}: {r.reason}"
            for r in plan.refusals
        )
        lines += list(dict.fromkeys(refused))  # one line for a service's several subjects
        repaired = _count(sum(len(p.findings) for p in kept), "finding")
        files = _count(len({p.file for p in kept}), "file")
        if self.applied:
            summary = f"fixed {repaired} in {files}, proven by a new check"
        elif kept:
            summary = (
                f"{_count(len(kept), 'fix', 'fixes')} would repair {repaired} in {files} "
                "(--apply writes them and proves them with a new check)"
            )
        else:
            summary = "nothing to fix"
        return "\n".join([*lines, summary]) if lines else summary

    def as_data(self) -> Mapping[str, Any]:
        plan = self.plan
        if plan is None:
            return {"applied": self.applied, "changes": [], "refused": []}
        changes = [
            {
                "rule": p.rule_id,
                "file": p.file,
                "description": p.description,
                "findings": _finding_keys(p),
                "diff": plan.diff([p]),
                "status": "applied" if self.applied else "proposed",
            }
            for p in self._kept()
        ]
        for proposal, why in self.proven.refused if self.proven is not None else []:
            changes.append(
                {
                    "rule": proposal.rule_id,
                    "file": proposal.file,
                    "description": proposal.description,
                    "findings": _finding_keys(proposal),
                    "diff": plan.diff([proposal]),
                    "status": "refused",
                    "reason": why,
                }
            )
        refused = [
            {
                "rule": r.finding.rule_id,
                "service": r.finding.service,
                "subject": r.finding.subject,
                "source": r.finding.source,
                "line": r.finding.line,
                "fingerprint": r.finding.fingerprint,
                "reason": r.reason,
            }
            for r in plan.refusals
        ]
        return {"applied": self.applied, "changes": changes, "refused": refused}


def run(options: FixOptions) -> Outcome:
    from stackctl.fixing.proof import prove, recheck
    from stackctl.fixing.session import checked_plan

    compose = Compose(options.project)
    before, plan = checked_plan(compose, sample=0, rules=options.rules, policy=options.policy)
    if not options.apply or not plan.proposals:
        code = 1 if plan.proposals else 0
        return FixOutcome("fix", exit_code=code, plan=plan)
    say(f"writing {len(plan.proposals)} fixes and checking the project again")
    proven = prove(compose, plan, before, check=lambda c: recheck(c, options.policy))
    return FixOutcome(
        "fix", exit_code=1 if proven.refused else 0, plan=plan, proven=proven, applied=True
    )


COMMANDS = (
    Command(
        "fix",
        "Repair fixable findings in the file each value comes from, then prove it.\n\n"
        "Prints the diff it would write (exit 1 when there is one); --apply writes it,\n"
        "renders and checks again, and restores every file when the check does not agree.",
        (
            opt.Option("apply", "flag", "write the fixes, then prove them with a new check"),
            opt.Option("select", "list", "fix only these rules, e.g. PRIV-001 (repeatable)"),
            opt.Option("ignore", "list", "leave these rules alone (repeatable)"),
            REPORT,
            PROJECT_VALIDATION,
        ),
        parse,
        run,
    ),
)
