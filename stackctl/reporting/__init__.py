"""Reporting: the one place that turns any command's result into text, JSON, SARIF or JUnit.

A command returns an ``Outcome``; ``format_report`` turns it into the chosen format
and ``emit`` writes it to stdout or the ``--output`` file.
"""

from __future__ import annotations

import contextlib
import os
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


_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_REPORT_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_without_links(path: Path, text: str) -> None:
    """Write the report at ``path``, walking every folder from ``/`` by descriptor.

    No component is followed if it is a symlink, and missing folders are made on
    the way, so a folder swapped for a link (``reports -> elsewhere``) can never
    send the report, or its truncation, anywhere but where it was named.
    """
    parts = Path(os.path.normpath(path.absolute())).parts
    fd = os.open(parts[0], _FOLDER)
    try:
        for index, name in enumerate(parts[1:-1], start=1):
            where = Path(*parts[: index + 1])
            try:
                child = os.open(name, _FOLDER, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
                child = os.open(name, _FOLDER, dir_fd=fd)
            except OSError as error:
                if where.is_symlink():
                    raise EnvironmentProblem(
                        f"--output {path}: {where} is a symlink; refusing to write through it",
                        hint="name the real folder, e.g. $(realpath DIR)/file",
                    ) from None
                raise error
            os.close(fd)
            fd = child
        try:
            report = os.open(parts[-1], _REPORT_FILE, 0o666, dir_fd=fd)
        except OSError as error:
            if path.is_symlink():
                raise EnvironmentProblem(
                    f"--output {path} is a symlink; refusing to write through it",
                    hint="name a regular file",
                ) from None
            raise error
        with os.fdopen(report, "w", encoding="utf-8") as handle:
            handle.write(text)
    finally:
        os.close(fd)


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
            _write_without_links(path, text)
        except StackError:
            (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
            raise
        except OSError as error:
            (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
            raise EnvironmentProblem(
                f"cannot write the report to {path}: {error.strerror or error}",
                hint="the report went to stdout instead; pick a writable --output",
            ) from None
        say(f"wrote {path}")
        return
    (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
