"""JUnit XML: one suite per group of cases, one failure element per failing case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET


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
                first = (case.message.splitlines() or ["failed"])[0]
                failure = ET.SubElement(element, "failure", message=first)
                failure.text = case.message
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
