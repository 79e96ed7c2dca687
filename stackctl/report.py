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

from stackctl.errors import UsageError

FORMATS = ("table", "json", "sarif", "junit")


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    if fmt not in allowed:
        raise UsageError(f"unknown format {fmt!r}", hint=f"choose one of: {', '.join(allowed)}")
    return fmt


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    return tabulate(list(rows), headers=list(headers), tablefmt="simple", disable_numparse=True)


def to_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"


@dataclass(frozen=True)
class Case:
    """One JUnit test case: a validation row or a rule over one service."""

    suite: str
    name: str
    ok: bool
    seconds: float = 0.0
    message: str = ""
    skipped: str = ""


def junit(cases: Sequence[Case], suite_name: str) -> str:
    suites = ET.Element("testsuites", name=suite_name)
    by_suite: dict[str, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite, []).append(case)
    for name, members in by_suite.items():
        failures = sum(1 for c in members if not c.ok and not c.skipped)
        skipped = sum(1 for c in members if c.skipped)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(members)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{sum(c.seconds for c in members):.3f}",
        )
        for case in members:
            element = ET.SubElement(
                suite, "testcase", classname=name, name=case.name, time=f"{case.seconds:.3f}"
            )
            if case.skipped:
                ET.SubElement(element, "skipped", message=case.skipped)
            elif not case.ok:
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
