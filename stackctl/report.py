"""Reporting: the one place that turns results into tables, JSON, SARIF and JUnit."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from tabulate import tabulate

from checks.finding import Finding
from checks.registry import RuleInfo
from stackctl.errors import UsageError

FORMATS = ("table", "json", "sarif", "junit")


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    if fmt not in allowed:
        raise UsageError(f"unknown format {fmt!r}", hint=f"choose one of: {', '.join(allowed)}")
    return fmt


def short_list(items: Sequence[str], limit: int = 4) -> str:
    """``a, b, c, d and 3 more``: lists in one-line messages stay one line."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    return tabulate(list(rows), headers=list(headers), tablefmt="simple", disable_numparse=True)


def to_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"


@dataclass(frozen=True)
class Case:
    """One JUnit test case: a validation row, or one rule with all its open findings."""

    suite: str
    name: str
    ok: bool
    seconds: float = 0.0
    message: str = ""


def junit(cases: Sequence[Case], suite_name: str) -> str:
    suites = ET.Element("testsuites", name=suite_name)
    by_suite: dict[str, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite, []).append(case)
    for name, members in by_suite.items():
        failures = sum(1 for c in members if not c.ok)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(members)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{sum(c.seconds for c in members):.3f}",
        )
        for case in members:
            element = ET.SubElement(
                suite, "testcase", classname=name, name=case.name, time=f"{case.seconds:.3f}"
            )
            if not case.ok:
                failure = ET.SubElement(element, "failure", message=case.message.splitlines()[0])
                failure.text = case.message
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}


def sarif(
    tool_name: str,
    rules: Sequence[dict[str, Any]],
    results: Sequence[dict[str, Any]],
    *,
    information_uri: str | None = None,
) -> str:
    """A SARIF 2.1.0 log. ``rules`` and ``results`` are already SARIF-shaped dicts."""
    driver: dict[str, Any] = {"name": tool_name, "version": "0.1.0", "rules": list(rules)}
    if information_uri:
        driver["informationUri"] = information_uri
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": list(results),
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def emit(text: str, output: str | None = None, stream: TextIO | None = None) -> None:
    """Print ``text`` or write it to ``output`` (creating parent folders)."""
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
        return
    (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")


# -- policy findings -----------------------------------------------------------


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
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
        "fingerprint": f.fingerprint,
    }


def findings_json(findings: Sequence[Finding], combinations: Sequence[str], verdict: bool) -> str:
    return to_json(
        {
            "ok": verdict,
            "combinations": list(combinations),
            "findings": [_finding_dict(f) for f in findings],
        }
    )


def _adr_of(finding: Finding) -> str:
    """The ADR named at the end of a suppression reason ("rationale (docs/adr/...)")."""
    return finding.suppressed_by.rpartition(" (")[2].rstrip(")") or finding.suppressed_by


def findings_table(findings: Sequence[Finding]) -> str:
    """Findings grouped by requirement; suppressed ones stay visible with their reason."""
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
                f.message + (f" [excepted, see {_adr_of(f)}]" if f.suppressed else ""),
                f"{f.source}:{f.line}",
            )
            for f in members
        ]
        blocks.append(
            f"{requirement}\n" + table(rows, ["rule", "severity", "service", "finding", "source"])
        )
    return "\n\n".join(blocks)


def traceability_table(
    findings: Sequence[Finding], rules: Sequence[RuleInfo], services: int
) -> str:
    """Requirement -> rules -> services passing/failing, the spec traceability summary."""
    rows = []
    for info in sorted(rules, key=lambda r: (r.requirement, r.id)):
        failing = {
            f.service or f.subject for f in findings if f.rule_id == info.id and not f.suppressed
        }
        excepted = {
            f.service or f.subject for f in findings if f.rule_id == info.id and f.suppressed
        }
        status = "FAIL" if failing else "pass"
        rows.append(
            (
                info.requirement,
                info.id,
                info.title,
                max(services - len(failing), 0),
                len(failing),
                len(excepted),
                status,
            )
        )
    headers = ["requirement", "rule", "title", "pass", "fail", "excepted", "status"]
    return table(rows, headers)


def findings_sarif(findings: Sequence[Finding], rules: Sequence[RuleInfo]) -> str:
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
                        "artifactLocation": {"uri": f.source, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
            "partialFingerprints": {"stackctlFinding/v1": f.fingerprint},
            "properties": {"requirement": f.requirement, "service": f.service},
        }
        if f.suppressed:
            result["suppressions"] = [{"kind": "external", "justification": f.suppressed_by}]
        results.append(result)
    return sarif("stackctl-checks", sarif_rules, results)


def findings_junit(findings: Sequence[Finding], rules: Sequence[RuleInfo]) -> str:
    """One test case per rule: it fails with every open finding of that rule."""
    cases = []
    for info in rules:
        mine = [f for f in findings if f.rule_id == info.id]
        open_ = [f for f in mine if not f.suppressed]
        message = "\n".join(f"{f.service or '-'}: {f.message} ({f.source}:{f.line})" for f in open_)
        cases.append(Case(info.requirement, f"{info.id} {info.title}", not open_, 0.0, message))
    return junit(cases, "checks")
