"""Reporting: the one place that turns any command's result into text, JSON, SARIF or JUnit.

A command returns an ``Outcome``; ``format_report`` turns it into the chosen format
and ``emit`` writes it to stdout or the ``--output`` file.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stackctl.console import inert, say, short_list, table
from stackctl.errors import EnvironmentProblem, StackError, UsageError
from stackctl.reporting.jsonout import SCHEMA_VERSION, envelope, to_json, tool_version
from stackctl.reporting.junit import Case, junit
from stackctl.reporting.sarif import sarif

FORMATS = ("table", "json", "sarif", "junit")

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "Case",
    "Outcome",
    "ReportTo",
    "emit",
    "envelope",
    "format_report",
    "junit",
    "sarif",
    "say",
    "short_list",
    "table",
    "to_json",
    "tool_version",
]


@dataclass(frozen=True)
class ReportTo:
    """Where and how a command's report goes (checked when the options are built)."""

    fmt: str = "table"
    output: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """What a command hands back: its exit code and a report in any format.

    Subclasses override the format methods they have something richer for.
    An outcome with no ``text`` prints nothing in table format (e.g. ``up``).
    """

    command: str
    exit_code: int = 0
    text: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    # A problem to report after the report itself (e.g. the first failing preflight step).
    problem: StackError | None = None

    def as_table(self) -> str:
        return self.text

    def as_data(self) -> Mapping[str, Any]:
        return self.data

    def as_cases(self) -> list[Case]:
        return [Case(self.command, self.command, self.exit_code == 0, 0.0, self.text)]

    def as_sarif(self) -> str | None:
        return None


def format_report(outcome: Outcome, fmt: str) -> str:
    if fmt == "json":
        data = dict(outcome.as_data())
        if outcome.problem is not None:
            # The same line and hint stderr gets, so a JSON reader learns why too.
            problem = outcome.problem
            data["problem"] = {"message": problem.message, "hint": problem.hint}
        return to_json(envelope(outcome.command, outcome.exit_code, data))
    if fmt == "junit":
        return junit(outcome.as_cases(), outcome.command)
    if fmt == "sarif":
        text = outcome.as_sarif()
        if text is None:
            raise UsageError(f"{outcome.command} has no SARIF report", hint="use --format json")
        return text
    # Free text a command builds outside table() is made inert here, once for all.
    return inert(outcome.as_table())


def emit(text: str, output: Path | str | None = None, stream: TextIO | None = None) -> None:
    """Print ``text`` or write it to ``output`` (creating parent folders).

    When the file cannot be written the report still reaches stdout, and the
    error names the path (exit 2).
    """
    if not text:
        return
    if output:
        path = Path(output)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
            raise EnvironmentProblem(
                f"cannot write the report to {path}: {error.strerror or error}",
                hint="the report went to stdout instead; pick a writable --output",
            ) from None
        say(f"wrote {path}")
        return
    (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
