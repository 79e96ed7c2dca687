"""JUnit XML: one suite per group of cases, one failure element per failing case."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from stackctl.console import inert

# What XML 1.0 forbids and ``inert`` leaves: surrogates and the two non-characters.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Case:
    """One JUnit test case: a validation row, or one rule with all its open findings.

    A ``skipped`` case is neither passed nor failed: a rule whose findings are all
    excepted, with what each exception relaxes and why as its message.
    """

    suite: str
    name: str
    ok: bool
    seconds: float = 0.0
    message: str = ""
    skipped: bool = False


def xml_text(text: str) -> str:
    """``text`` as well-formed XML 1.0 holds it: forbidden characters become visible escapes.

    Control characters become ``\\xNN`` (as in the table, so a terminal showing
    the file stays inert too); surrogates and U+FFFE/U+FFFF become ``\\uNNNN``.
    """
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", inert(text))


def junit(cases: Sequence[Case], suite_name: str) -> str:
    suites = ET.Element("testsuites", name=xml_text(suite_name))
    by_suite: dict[str, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite, []).append(case)
    for name, members in by_suite.items():
        failures = sum(1 for c in members if not c.ok)
        skipped = sum(1 for c in members if c.ok and c.skipped)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=xml_text(name),
            tests=str(len(members)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{sum(c.seconds for c in members):.3f}",
        )
        for case in members:
            element = ET.SubElement(
                suite,
                "testcase",
                classname=xml_text(name),
                name=xml_text(case.name),
                time=f"{case.seconds:.3f}",
            )
            if not case.ok or case.skipped:
                tag, default = ("failure", "failed") if not case.ok else ("skipped", "skipped")
                first = (case.message.splitlines() or [default])[0]
                detail = ET.SubElement(element, tag, message=xml_text(first))
                detail.text = xml_text(case.message)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
