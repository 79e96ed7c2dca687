"""Policy findings in every format: grouped table, traceability, JSON body, SARIF, JUnit."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from checks.finding import Finding
from checks.rule import RuleInfo
from stackctl.console import table
from stackctl.reporting.junit import Case
from stackctl.reporting.sarif import SARIF_LEVELS, sarif

if TYPE_CHECKING:
    from checks.fixes import FindingFix

# Fingerprint -> what `fix` would do for that finding (given by `check`, which plans it).
Fixes = Mapping[str, "FindingFix"]


def finding_dict(f: Finding, fixes: Fixes | None = None) -> dict[str, Any]:
    """The JSON keys of every finding, static or runtime; with ``fixes``, whether ``fix``
    repairs it."""
    data = {
        "rule": f.rule_id,
        "requirement": f.requirement,
        "severity": f.severity.label,
        "service": f.service,
        "subject": f.subject,
        "message": f.message,
        "hint": f.hint,
        "source": f.source,
        "line": f.line,
        "suppressed": f.suppressed,
        "reason": f.suppressed_by,
        "relaxes": f.suppressed_relaxes,
        "fingerprint": f.fingerprint,
    }
    if fixes is not None:
        data["fixable"] = f.fingerprint in fixes
    return data


def _location(finding: Finding) -> str:
    """``file:line``; just the source when the finding has no line (a container)."""
    return f"{finding.source}:{finding.line}" if finding.line else finding.source


def _adr_of(finding: Finding) -> str:
    """The ADR named at the end of a suppression reason ("rationale (docs/adr/...)")."""
    return finding.suppressed_by.rpartition(" (")[2].rstrip(")") or finding.suppressed_by


def _excepted_note(finding: Finding) -> str:
    """What the exception relaxes and where it is documented, for the suppressed row."""
    relaxes = f"relaxes {finding.suppressed_relaxes}; " if finding.suppressed_relaxes else ""
    return f" [excepted: {relaxes}see {_adr_of(finding)}]"


def _justification(finding: Finding) -> str:
    if finding.suppressed_relaxes:
        return f"relaxes {finding.suppressed_relaxes}: {finding.suppressed_by}"
    return finding.suppressed_by


def findings_table(findings: Sequence[Finding], fixes: Fixes | None = None) -> str:
    """Findings grouped by requirement; suppressed ones stay visible with their reason.
    With ``fixes``, a column says which ones ``fix`` repairs."""
    if not findings:
        return "no findings"
    blocks: list[str] = []
    by_requirement: dict[str, list[Finding]] = {}
    for finding in findings:
        by_requirement.setdefault(finding.requirement, []).append(finding)
    for requirement, members in sorted(by_requirement.items()):
        rows = [
            (
                f.rule_id,
                "suppressed" if f.suppressed else f.severity.label,
                f.service or "-",
                f.message + (_excepted_note(f) if f.suppressed else ""),
                f"{f.source}:{f.line}",
                *([] if fixes is None else ["yes" if f.fingerprint in fixes else ""]),
            )
            for f in members
        ]
        headers = ["rule", "severity", "service", "finding", "source"]
        headers += [] if fixes is None else ["fixable"]
        blocks.append(f"{requirement}\n" + table(rows, headers))
    return "\n\n".join(blocks)


def report_header(rows: Sequence[tuple[str, str]]) -> str:
    """What a report judged and why, one aligned ``name: value`` line per row
    (the compose files, the env file, the rule set and where it was chosen)."""
    width = max((len(name) for name, _ in rows), default=0) + 1
    return "\n".join(f"{name + ':':<{width}} {value}" for name, value in rows)


TRACEABILITY_NOTE = (
    "pass counts services for service rules, the project (1) for project rules, "
    "and entries for EXC-* registry rules"
)


def traceability_table(
    findings: Sequence[Finding],
    rules: Sequence[RuleInfo],
    services: int,
    *,
    registry_rules: Collection[str] = (),
    registry_entries: int = 0,
) -> str:
    """Requirement -> rule -> subjects passing, failing and excepted.

    What a row counts follows the rule's ``scope``: service rules count
    services, project rules count the one project (a project is never "passed"
    once per service), registry rules (and any ID in ``registry_rules``) count
    registry entries. Each subject is in exactly one column: failing wins over
    excepted, and pass is what is left, so the three add up to the total.
    """
    rows = []
    for info in sorted(rules, key=lambda r: (r.requirement, r.id)):
        mine = [f for f in findings if f.rule_id == info.id]
        if info.scope == "project":
            # Every finding is about the same subject, the project.
            failing = {"project"} if any(not f.suppressed for f in mine) else set()
            excepted = {"project"} if mine and not failing else set()
            total = 1
        else:
            failing = {f.service or f.subject for f in mine if not f.suppressed}
            excepted = {f.service or f.subject for f in mine if f.suppressed} - failing
            registry = info.scope == "registry" or info.id in registry_rules
            total = registry_entries if registry else services
        passing = max(total - len(failing) - len(excepted), 0)
        rows.append(
            (
                info.requirement,
                info.id,
                info.title,
                f"{passing}/{total}",
                len(failing),
                len(excepted),
                "FAIL" if failing else "pass",
            )
        )
    headers = ["requirement", "rule", "title", "pass", "fail", "excepted", "status"]
    return table(rows, headers)


def _artifact(source: str) -> dict[str, str]:
    """A file inside the project is relative to the checkout; one outside (-f) is absolute."""
    path = PurePosixPath(source)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": source, "uriBaseId": "%SRCROOT%"}


def sarif_fix(fix: FindingFix) -> dict[str, Any]:
    """One SARIF ``fix``: the replacements in each file, regions as 1-based lines/columns."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for change in fix.changes:
        by_file.setdefault(change.file, []).append(
            {
                "deletedRegion": {
                    "startLine": change.start_line,
                    "startColumn": change.start_column,
                    "endLine": change.end_line,
                    "endColumn": change.end_column,
                },
                "insertedContent": {"text": change.inserted},
            }
        )
    return {
        "description": {"text": fix.description},
        "artifactChanges": [
            {
                "artifactLocation": _artifact(file),
                "replacements": replacements,
            }
            for file, replacements in by_file.items()
        ],
    }


def findings_sarif(
    findings: Sequence[Finding], rules: Sequence[RuleInfo], fixes: Fixes | None = None
) -> str:
    index = {info.id: i for i, info in enumerate(rules)}
    sarif_rules = [
        {
            "id": info.id,
            "name": info.title,
            "shortDescription": {"text": info.title},
            "fullDescription": {"text": info.doc},
            "help": {"text": info.hint},
            "defaultConfiguration": {"level": SARIF_LEVELS[info.severity.label]},
            "properties": {
                "requirement": info.requirement,
                "severity": info.severity.label,
                "tags": ["compose", "security", info.requirement],
            },
        }
        for info in rules
    ]
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index.get(f.rule_id, 0),
            "level": SARIF_LEVELS[f.severity.label],
            "message": {"text": f"{f.service}: {f.message}" if f.service else f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(f.source),
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
            "partialFingerprints": {"stackctlFinding/v1": f.fingerprint},
            "properties": {"requirement": f.requirement, "service": f.service},
        }
        if fixes is not None and f.fingerprint in fixes:
            result["fixes"] = [sarif_fix(fixes[f.fingerprint])]
        if f.suppressed:
            result["suppressions"] = [{"kind": "external", "justification": _justification(f)}]
        results.append(result)
    return sarif("stackctl-checks", sarif_rules, results)


def _is_open(finding: Finding) -> bool:
    return not finding.suppressed


def findings_case(
    suite: str,
    name: str,
    findings: Sequence[Finding],
    *,
    fails: Callable[[Finding], bool] = _is_open,
) -> Case:
    """One test case over a group of findings: it fails with every finding that ``fails``.

    A failing case also lists the group's excepted findings with what each
    exception relaxes, so the reader sees the whole picture of that group. A
    group whose findings are all excepted is a skipped case, each finding with
    the exception's rationale: JUnit readers show a skip's message, never a pass's.
    """
    failing = [f for f in findings if fails(f)]
    excepted = [f for f in findings if f.suppressed]
    if failing:
        lines = [f"{f.service or '-'}: {f.message} ({_location(f)})" for f in failing]
        lines += [f"{f.service or '-'}: {f.message}{_excepted_note(f)}" for f in excepted]
        return Case(suite, name, False, 0.0, "\n".join(lines))
    if excepted:
        lines = [
            f"excepted {f.service or '-'}: {f.message} ({_location(f)}); {_justification(f)}"
            for f in excepted
        ]
        return Case(suite, name, True, 0.0, "\n".join(lines), skipped=True)
    return Case(suite, name, True)


def findings_cases(findings: Sequence[Finding], rules: Sequence[RuleInfo]) -> list[Case]:
    """One test case per rule: it fails with every open finding of that rule."""
    return [
        findings_case(
            info.requirement,
            f"{info.id} {info.title}",
            [f for f in findings if f.rule_id == info.id],
        )
        for info in rules
    ]
